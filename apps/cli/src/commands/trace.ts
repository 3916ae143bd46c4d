import type { Command } from 'commander';
import { z } from 'zod';

import type { CliContext } from '../context';
import { CliError, ExitCode, UsageError } from '../exit-codes';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { cliError, transportTo } from '../rotor-api';

/** The local stack's Jaeger (scripts/services-up.sh), unless ROTOR_JAEGER_QUERY_URL or --jaeger says otherwise. */
const DEFAULT_QUERY_URL = 'https://127.0.0.1:16686';

/** What Jaeger's query API answers for one trace (GET /api/traces/{id}); only what is shown. */
const JaegerTraceSchema = z.object({
  data: z
    .array(
      z.object({
        spans: z.array(
          z.object({
            spanID: z.string(),
            operationName: z.string(),
            references: z.array(z.object({ refType: z.string(), spanID: z.string() })).default([]),
            startTime: z.number(),
            duration: z.number(),
            tags: z.array(z.object({ key: z.string(), value: z.unknown() })).default([]),
            processID: z.string(),
          }),
        ),
        processes: z.record(z.string(), z.object({ serviceName: z.string() })),
      }),
    )
    .nullable(),
});

/** One span of the tree, in the order it prints: parents before children, siblings by start. */
export interface TraceSpan {
  spanId: string;
  parentSpanId?: string;
  depth: number;
  service: string;
  operation: string;
  /** From the trace's first span. */
  startMs: number;
  durationMs: number;
  error: boolean;
}

/** The spans of a Jaeger trace as a tree, flattened depth first; a span whose parent is not in the trace is a root. */
export function traceTree(answer: z.infer<typeof JaegerTraceSchema>): TraceSpan[] {
  const trace = answer.data?.[0];
  if (!trace) return [];
  const start = Math.min(...trace.spans.map((span) => span.startTime));
  const ids = new Set(trace.spans.map((span) => span.spanID));
  const children = new Map<string | undefined, typeof trace.spans>();
  for (const span of trace.spans) {
    const parent = span.references.find((reference) => reference.refType === 'CHILD_OF' && ids.has(reference.spanID))?.spanID;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const flat: TraceSpan[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    for (const span of (children.get(parent) ?? []).sort((a, b) => a.startTime - b.startTime)) {
      flat.push({
        spanId: span.spanID,
        ...(parent ? { parentSpanId: parent } : {}),
        depth,
        service: trace.processes[span.processID]?.serviceName ?? '?',
        operation: span.operationName,
        startMs: (span.startTime - start) / 1000,
        durationMs: span.duration / 1000,
        error: span.tags.some(({ key, value }) => (key === 'error' && value === true) || (key === 'otel.status_code' && value === 'ERROR')),
      });
      visit(span.spanID, depth + 1);
    }
  };
  visit(undefined, 0);
  return flat;
}

/** `rotor trace show <trace id>`: a trace from the trace backend, as an indented tree of spans. */
async function showTrace(context: CliContext, traceId: string, flags: { jaeger?: string }): Promise<void> {
  if (!/^[0-9a-f]{32}$/.test(traceId)) throw new UsageError(`trace id: 32 lowercase hex digits, as in a traceparent, not "${traceId}"`);
  const base = flags.jaeger ?? process.env['ROTOR_JAEGER_QUERY_URL'] ?? DEFAULT_QUERY_URL;
  const answer = await transportTo(base)
    .send('GET', `/api/traces/${traceId}`, { accept: 'application/json' })
    .catch((error: unknown) => {
      throw cliError(error);
    });
  if (answer.status === 404)
    throw new CliError(`no trace ${traceId} at ${base} (not sampled, not exported yet, or expired)`, ExitCode.notFound);
  if (answer.status !== 200) throw new CliError(`${base} answered ${answer.status} for trace ${traceId}`, ExitCode.unavailable);
  const parsed = JaegerTraceSchema.safeParse(JSON.parse(answer.text));
  if (!parsed.success) throw new CliError(`${base} answered trace ${traceId} in a shape this CLI does not know`, ExitCode.internal);
  const spans = traceTree(parsed.data);
  printResult(
    context,
    { traceId, spans },
    {
      columns: ['span', 'service', 'start ms', 'duration ms', 'error'],
      rows: spans.map((span) => [
        `${'  '.repeat(span.depth)}${span.operation}`,
        span.service,
        span.startMs.toFixed(1),
        span.durationMs.toFixed(1),
        span.error ? 'error' : '',
      ]),
    },
  );
}

export function registerTraceCommands(program: Command): void {
  const trace = program.command('trace').description('traces from the trace backend (Jaeger on the local stack)');
  trace
    .command('show')
    .description('one trace as a tree of spans: which service did what, when and for how long')
    .argument('<trace-id>', 'the 32-hex trace id (the middle part of a traceparent, or trace_id in a log line)')
    .option('--jaeger <url>', `the Jaeger query API (default ROTOR_JAEGER_QUERY_URL, else ${DEFAULT_QUERY_URL})`)
    .addHelpText(
      'after',
      examples('rotor trace show 4bf92f3577b34da6a3ce929d0e0e4736', 'rotor trace show 4bf92f3577b34da6a3ce929d0e0e4736 --output json'),
    )
    .action((traceId: string, options: { jaeger?: string }, command: Command) => showTrace(contextOf(command), traceId, options));
}
