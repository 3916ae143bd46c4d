import { writeFileSync } from 'node:fs';

import type { AuditEventsPage, AuditVerifyReport } from '@rotor/rest-contract';

import type { CliContext, CliFlags } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

import { auditReplayCommand } from './audit-replay';
import { auditTailCommand } from './audit-tail';

/**
 * `rotor audit events|verify` ask the auditor, as an auditor; `rotor audit replay|tail` read the
 * audit topic from Kafka directly (KAFKA_BROKERS; ROTOR_AUDIT_KEY to verify; REDIS_URL to rebuild).
 */
export async function auditCommand(context: CliContext, action: string | undefined, flags: CliFlags): Promise<void> {
  if (action === 'replay') return auditReplayCommand(context, flags);
  if (action === 'tail') return auditTailCommand(context, flags);
  if (action === 'keys') return auditKeysCommand(context, flags);
  const token = await context.token(['rotor:auditor']);
  switch (action) {
    case 'events': {
      const query = new URLSearchParams();
      for (const name of ['lease', 'workload', 'secret', 'subject', 'from', 'to', 'limit', 'offset']) {
        if (typeof flags[name] === 'string') query.set(name === 'subject' ? 'actor' : name, flags[name]);
      }
      const page = await request<AuditEventsPage>(`${context.urls.auditor}/v1/audit/events?${query.toString()}`, { token });
      printResult(context, page, {
        columns: ['recorded', 'type', 'subject', 'chain', 'seq'],
        // The recorded event is a CloudEvents envelope; its subject is a string when there is one.
        rows: page.items.map((item) => [
          item.recordedAt,
          item.eventType,
          item.event['subject'] as string | undefined,
          item.chain,
          item.seq,
        ]),
      });
      return;
    }
    case 'verify': {
      const result = await request<AuditVerifyReport>(`${context.urls.auditor}/v1/audit/verify`, { token });
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
      if (!result.ok) process.exitCode = 2;
      return;
    }
    default:
      throw new Error(
        'usage: rotor audit events [--lease ID] [--workload NS/SA] [--secret NAME] [--subject OPERATOR] [--from T] [--to T] | audit verify\n' +
          '       rotor audit replay [--from TIME|OFFSET] [--to TIME|OFFSET] [--verify [--public-key FILE]] [--rebuild] [--out FILE.jsonl] [--filter F=V]…\n' +
          '       rotor audit tail [--filter F=V]… | audit keys [--out FILE]',
      );
  }
}

/**
 * `rotor audit keys [--out FILE]`: the auditor's public checkpoint keys (JWKS), public and served
 * without a token, for verifiers that hold no secret (`rotor audit replay --verify --public-key FILE`).
 */
async function auditKeysCommand(context: CliContext, flags: CliFlags): Promise<void> {
  const keys = await request<{ keys: { kid: string; crv: string }[] }>(`${context.urls.auditor}/v1/audit/keys`, {});
  if (typeof flags['out'] === 'string') writeFileSync(flags['out'], `${JSON.stringify(keys, null, 2)}\n`);
  printResult(context, keys, { columns: ['key id', 'curve'], rows: keys.keys.map((key) => [key.kid, key.crv]) });
}
