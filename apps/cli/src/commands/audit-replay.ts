import { createWriteStream, type WriteStream } from 'node:fs';

import Redis from 'ioredis';

import { ChainVerifier, headCommand, projectRecord, SCRIPT_LOADS, VIEW_PREFIX, ViewKeys, type ViewCommand } from '@rotor/audit-chain';
import { AuditRecordSchema, type AuditRecord } from '@rotor/contracts';
import { readTopicRange } from '@rotor/kafka';
import { redisSecurityOptions } from '@rotor/redis-store';

import type { CliContext, CliFlags } from '../context';
import { printResult } from '../output';

import { parseFilters } from './audit-filter';
import { ProgressReporter } from './audit-progress';
import { auditLogSettings, cliKafka, parseLogPoint } from './audit-reader';

const REBUILD_BATCH = 4_000;

/**
 * `rotor audit replay --from <time|offset> [--to …] [--verify] [--rebuild] [--out file.jsonl] [--filter f=v]`:
 * reads the audit topic straight from Kafka. --verify walks the chains; --rebuild verifies too
 * and recreates the auditor's Redis state (views, chain heads, dedupe set) from the topic alone.
 */
export async function auditReplayCommand(context: CliContext, flags: CliFlags): Promise<void> {
  const settings = auditLogSettings();
  const from = typeof flags['from'] === 'string' ? parseLogPoint(flags['from'], 'from') : undefined;
  const to = typeof flags['to'] === 'string' ? parseLogPoint(flags['to'], 'to') : undefined;
  const filterSpecs = Array.isArray(flags['filter']) ? flags['filter'] : [];
  const filter = parseFilters(filterSpecs, settings.auditKey);
  const rebuild = flags['rebuild'] === true;
  const verify = flags['verify'] === true || rebuild;
  const fromStart = !from || ('offset' in from && from.offset === 0n);
  if (verify && !settings.auditKey) throw new Error('ROTOR_AUDIT_KEY is needed to verify the chain (and to rebuild, which verifies)');
  if (rebuild && (!fromStart || to || filterSpecs.length))
    throw new Error('--rebuild reads the whole audit topic: use it without --to and --filter, and with no --from or --from 0');

  const kafka = cliKafka(settings.brokers, settings.kafkaSecurity);
  const verifier = verify ? new ChainVerifier(settings.auditKey!, new Map(), !fromStart) : undefined;
  const out: WriteStream | undefined = typeof flags['out'] === 'string' ? createWriteStream(flags['out']) : undefined;
  const redis = rebuild
    ? new Redis(settings.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true, ...redisSecurityOptions(settings.redisSecurity()) })
    : undefined;
  const progress = new ProgressReporter('records');
  const started = Date.now();
  let matched = 0;
  let duplicates = 0;
  let applied = 0;
  let keysCleared = 0;
  let unreadable: { partition: number; offset: string } | undefined;
  let pending: ViewCommand[] = [];
  const flush = async () => {
    if (!redis || pending.length === 0) return;
    const results = await redis.pipeline(pending).exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    pending = [];
  };

  try {
    if (redis) {
      await redis.connect();
      await redis.pipeline(SCRIPT_LOADS).exec();
      keysCleared = await clearAuditorKeys(redis);
    }
    const { read, total } = await readTopicRange(kafka, {
      groupPrefix: 'rotor-cli-replay',
      topic: settings.topic,
      from,
      to,
      progressEvery: 5000,
      onProgress: (done, all) => progress.update(done, all),
      onMessage: async (message, partition) => {
        const parsed = AuditRecordSchema.safeParse(safeJson(message.value));
        if (!parsed.success) {
          unreadable ??= { partition, offset: message.offset };
          return;
        }
        const record: AuditRecord = parsed.data;
        const status = verifier?.add({ record, partition, offset: message.offset }) ?? 'ok';
        if (status === 'duplicate') {
          duplicates++;
          return; // an append retried after a crash: the same record again, not a second one
        }
        // The rebuild stops at the first break: records after it are not trusted into the views.
        if (redis && status === 'ok' && !unreadable) {
          pending.push(...projectRecord(record), headCommand(record));
          applied++;
          if (pending.length >= REBUILD_BATCH) await flush();
        }
        if (filter(record)) {
          matched++;
          if (out && !out.write(`${JSON.stringify(record)}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
        }
      },
    });
    await flush();
    progress.finish();
    const verification = verifier?.result();
    const ok = !verification || (verification.ok && !unreadable);
    if (redis && ok) await redis.set(ViewKeys.marker, new Date().toISOString());
    const tookMs = Date.now() - started;
    const summary = {
      topic: settings.topic,
      read,
      total,
      matched,
      duplicatesSkipped: duplicates,
      ...(verification ? { verify: { ...verification, ok, ...(unreadable ? { firstUnreadable: unreadable } : {}) } } : {}),
      ...(redis ? { rebuild: { keysCleared, recordsApplied: applied, complete: ok } } : {}),
      ...(out ? { out: flags['out'] } : {}),
      tookMs,
      eventsPerSecond: Math.round(read / Math.max(0.001, tookMs / 1000)),
    };
    const brokenAt = verification?.firstBreak ?? (unreadable ? { ...unreadable, reason: 'not an audit record' } : undefined);
    printResult(context, summary, {
      columns: ['read', 'matched', 'events/s', 'chain', 'first break', ...(redis ? ['rebuilt'] : [])],
      rows: [
        [
          read,
          matched,
          summary.eventsPerSecond,
          verification ? (ok ? `ok (${verification.records} records, ${verification.chains} chains)` : 'BROKEN') : 'not verified',
          brokenAt ? `partition ${brokenAt.partition} offset ${brokenAt.offset}: ${brokenAt.reason}` : '',
          ...(redis ? [ok ? `${applied} records` : `stopped at the break (${applied} records)`] : []),
        ],
      ],
    });
    if (!ok) process.exitCode = 2;
  } finally {
    await new Promise<void>((resolve) => (out ? out.end(resolve) : resolve()));
    redis?.disconnect();
  }
}

/** Deletes every `auditor:` key and nothing else; the state marker first, so a running auditor pauses. */
async function clearAuditorKeys(redis: Redis): Promise<number> {
  await redis.del(ViewKeys.marker);
  let cleared = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${VIEW_PREFIX}*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length) cleared += await redis.unlink(...keys);
  } while (cursor !== '0');
  return cleared;
}

const safeJson = (value: Buffer | null): unknown => {
  try {
    return value ? JSON.parse(value.toString('utf8')) : null;
  } catch {
    return null;
  }
};
