import type { CliContext, CliFlags } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

interface AuditPage {
  items: { seq: number; chain: string; eventType: string; eventId: string; recordedAt: string; event: { subject?: string } }[];
  total: number;
}

/** `rotor audit events [--lease|--workload|--secret|--from|--to]` and `rotor audit verify`, as an auditor. */
export async function auditCommand(context: CliContext, action: string | undefined, flags: CliFlags): Promise<void> {
  const token = await context.token(['rotor:auditor']);
  switch (action) {
    case 'events': {
      const query = new URLSearchParams();
      for (const name of ['lease', 'workload', 'secret', 'from', 'to', 'limit', 'offset']) {
        if (typeof flags[name] === 'string') query.set(name, flags[name]);
      }
      const page = await request<AuditPage>(`${context.urls.auditor}/v1/audit/events?${query.toString()}`, { token });
      printResult(context, page, {
        columns: ['recorded', 'type', 'subject', 'chain', 'seq'],
        rows: page.items.map((item) => [item.recordedAt, item.eventType, item.event.subject, item.chain, item.seq]),
      });
      return;
    }
    case 'verify': {
      const result = await request<{ ok: boolean; records: number; chains: number; firstBreak?: { partition: number; offset: string; reason: string } }>(
        `${context.urls.auditor}/v1/audit/verify`,
        { token },
      );
      printResult(context, result, {
        columns: ['ok', 'records', 'chains', 'first break'],
        rows: [[String(result.ok), result.records, result.chains, result.firstBreak ? `partition ${result.firstBreak.partition} offset ${result.firstBreak.offset}: ${result.firstBreak.reason}` : '']],
      });
      if (!result.ok) process.exitCode = 2;
      return;
    }
    default:
      throw new Error('usage: rotor audit events [--lease ID] [--workload NS/SA] [--secret NAME] [--from T] [--to T] | audit verify');
  }
}
