import { writeFileSync } from 'node:fs';

import { Option, type Command } from 'commander';

import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { auditorApi } from '../rotor-api';

import { auditReplayCommand, type AuditReplayOptions } from './audit-replay';
import { auditTailCommand, type AuditTailOptions } from './audit-tail';
import { pageLimit } from './paging';

interface EventsOptions {
  lease?: string;
  workload?: string;
  secret?: string;
  subject?: string;
  from?: string;
  to?: string;
  limit?: number;
  offset?: string;
}

async function auditEvents(context: CliContext, options: EventsOptions): Promise<void> {
  const { subject: actor, ...filters } = options;
  const page = await auditorApi(context, await context.token(['rotor:auditor'])).auditEvents({ ...filters, actor });
  printResult(context, page, {
    columns: ['recorded', 'type', 'subject', 'chain', 'seq'],
    // The recorded event is a CloudEvents envelope; its subject is a string when there is one.
    rows: page.items.map((item) => [item.recordedAt, item.eventType, item.event['subject'] as string | undefined, item.chain, item.seq]),
  });
}

/** The auditor's own check of its chains and checkpoints; exit 1 when it finds a break. */
async function auditVerify(context: CliContext): Promise<void> {
  const result = await auditorApi(context, await context.token(['rotor:auditor'])).verifyAudit();
  printResult(context, result, {
    columns: ['ok', 'records', 'chains', 'unanchored tail', 'first break'],
    rows: [
      [
        String(result.ok),
        result.records,
        result.chains,
        result.checkpoints?.unanchoredTail ?? '',
        result.firstBreak
          ? `partition ${result.firstBreak.partition} offset ${result.firstBreak.offset}: ${result.firstBreak.reason}`
          : (result.failures?.join('; ') ?? ''),
      ],
    ],
  });
  if (!result.ok) process.exitCode = ExitCode.findings;
}

/**
 * `rotor audit keys [--out FILE]`: the auditor's public checkpoint keys (JWKS), public and served
 * without a token, for verifiers that hold no secret (`rotor audit replay --verify --public-key FILE`).
 */
async function auditKeys(context: CliContext, flags: { out?: string }): Promise<void> {
  const keys = await auditorApi(context).auditKeys();
  if (flags.out !== undefined) writeFileSync(flags.out, `${JSON.stringify(keys, null, 2)}\n`);
  printResult(context, keys, { columns: ['key id', 'curve'], rows: keys.keys.map((key) => [key.kid, key.crv]) });
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const FILTER_HELP = 'type=, lease=, secret=, workload=NS/SA, actor= (needs ROTOR_AUDIT_KEY), chain=, event=; repeat: all must match';

/** `rotor audit events|verify|keys` ask the auditor; `rotor audit replay|tail` read the audit topic from Kafka directly. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log: read, follow, verify, replay, rebuild');
  audit
    .command('events')
    .description("the audit timeline, filtered (the auditor's views)")
    .option('--lease <id>', 'one lease')
    .option('--workload <namespace/service-account>', 'one workload')
    .option('--secret <name>', 'one managed secret')
    .option('--subject <operator>', "an operator's subject")
    .option('--from <iso-time>', 'from this time')
    .option('--to <iso-time>', 'until this time')
    .addOption(new Option('--limit <n>', 'events per page (up to 1000)').argParser(pageLimit(1000)))
    .option('--offset <n>', 'skip this many')
    .addHelpText(
      'after',
      examples(
        'rotor audit events --lease 7d1c6f0e-8d0b-4a53-9f5e-2f1b7a3c9e11',
        'rotor audit events --workload shop/orders --from 2026-12-01T00:00:00Z',
      ),
    )
    .action((options: EventsOptions, command: Command) => auditEvents(contextOf(command), options));
  audit
    .command('verify')
    .description('the auditor checks its hash chains and signed checkpoints; exit 1 when it finds a break')
    .action((_options: unknown, command: Command) => auditVerify(contextOf(command)));
  audit
    .command('replay')
    .description(
      "reads the audit topic from Kafka (as cli-audit): verify the chains with the public keys alone, export, or rebuild the auditor's state",
    )
    .option('--from <time|offset>', 'where to start (an ISO time or an offset)')
    .option('--to <time|offset>', 'where to stop')
    .option('--verify', 'walk the chains and check the signed checkpoints (needs --public-key or ROTOR_AUDIT_PUBLIC_KEYS_FILE)')
    .option('--public-key <file>', "the auditor's public keys (rotor audit keys --out FILE)")
    .option('--rebuild', "verify, then rebuild the auditor's database state from the topic alone (whole topic only)")
    .option('--out <file>', 'write the records read as JSON Lines')
    .option('--filter <field=value>', FILTER_HELP, collect)
    .addHelpText(
      'after',
      examples(
        'rotor audit keys --out audit-keys.json',
        'rotor audit replay --verify --public-key audit-keys.json',
        'rotor audit replay --from 2026-12-01T00:00:00Z --filter type=rotor.lease.revoked.v1 --out revoked.jsonl',
      ),
    )
    .action((options: AuditReplayOptions, command: Command) => auditReplayCommand(contextOf(command), options));
  audit
    .command('tail')
    .description('follows the audit topic live until interrupted')
    .option('--from <time|offset>', 'start here instead of now')
    .option('--filter <field=value>', FILTER_HELP, collect)
    .action((options: AuditTailOptions, command: Command) => auditTailCommand(contextOf(command), options));
  audit
    .command('keys')
    .description('the public keys that verify the audit checkpoints, as JWKS (no token needed)')
    .option('--out <file>', 'also write them to a file')
    .action((options: { out?: string }, command: Command) => auditKeys(contextOf(command), options));
}
