import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';

import { AuditKeyring, ChainVerifier, checkpointSecretFor } from '@rotor/audit-chain';
import type { SchemaRebuild } from '@rotor/audit-store';
import { AuditCheckpointSchema, AuditLogMessageSchema, type AuditCheckpoint, type AuditRecord } from '@rotor/contracts';
import type { LogPoint } from '@rotor/kafka';

import type { CliContext } from '../context';
import { ExitCode, UsageError } from '../exit-codes';
import { printResult } from '../output';

import { parseFilters } from './audit-filter';
import { ProgressReporter } from './audit-progress';
import { auditLogSettings, cliKafka, parseLogPoint } from './audit-reader';

const REBUILD_BATCH = 2_000;
/** The tail read under the lock starts this long before the main read did (producers' clocks, in-flight appends). */
const TAIL_SLACK_MS = 60_000;

/**
 * `rotor audit replay --from <time|offset> [--to …] [--verify [--public-key FILE]] [--rebuild] [--out file.jsonl] [--filter f=v]`:
 * reads the audit topic straight from Kafka. --verify walks the chains and checks the signed
 * checkpoints with the public keys alone (ROTOR_AUDIT_KEY, when given, also checks the records
 * from before the transition); with GSM_PROJECT set, it compares the checkpoint kept in GSM.
 * --rebuild verifies too and builds the auditor's database state (views, chain heads, dedupe
 * marks, checkpoint number) again from the topic alone, into a fresh schema while the auditor
 * runs, then switches it in (SchemaRebuild); a log broken anywhere leaves the live state as it was.
 */
export interface AuditReplayOptions {
  from?: string;
  to?: string;
  filter?: string[];
  verify?: boolean;
  rebuild?: boolean;
  out?: string;
  publicKey?: string;
}

export async function auditReplayCommand(context: CliContext, flags: AuditReplayOptions): Promise<void> {
  const settings = auditLogSettings();
  const from = flags.from !== undefined ? parseLogPoint(flags.from, 'from') : undefined;
  const to = flags.to !== undefined ? parseLogPoint(flags.to, 'to') : undefined;
  const filterSpecs = flags.filter ?? [];
  const filter = parseFilters(filterSpecs, settings.auditKey);
  const rebuild = flags.rebuild === true;
  const verify = flags.verify === true || rebuild;
  const fromStart = !from || ('offset' in from && from.offset === 0n);
  if (rebuild && (!fromStart || to || filterSpecs.length))
    throw new UsageError('--rebuild reads the whole audit topic: use it without --to and --filter, and with no --from or --from 0');

  const kafka = await cliKafka(settings.brokers, settings.kafkaSecurity, settings.kafkaNamespace);
  const { readTopicRange } = await import('@rotor/kafka');
  const partial = !fromStart || !!to;
  const verifier = verify
    ? new ChainVerifier({ keyring: publicKeys(flags), ...(settings.auditKey ? { legacyKey: settings.auditKey } : {}), partial })
    : undefined;
  // Before the topic: the auditor writes Kafka first, so the topic read next must reach GSM's latest.
  if (verifier && !partial) verifier.setExternalCheckpoint(await externalCheckpoint(settings.topic));
  const out: WriteStream | undefined = flags.out !== undefined ? createWriteStream(flags.out) : undefined;
  const rebuildUrl = rebuild ? settings.auditDatabaseUrl() : undefined;
  const progress = new ProgressReporter('records');
  const started = Date.now();
  let matched = 0;
  let duplicates = 0;
  let lastCheckpoint = 0;
  let applied = 0;
  let unreadable: { partition: number; offset: string } | undefined;
  let schema: SchemaRebuild | undefined;
  let pending: AuditRecord[] = [];
  const flush = async () => {
    if (!schema || pending.length === 0) return;
    await schema.write(pending);
    pending = [];
  };
  /** The last offset the main read reached in each partition: the tail read goes on after it. */
  const readUpTo = new Map<number, bigint>();
  const onMessage = async (message: { value: Buffer | null; offset: string }, partition: number, tail = false) => {
    if (tail && BigInt(message.offset) <= (readUpTo.get(partition) ?? -1n)) return;
    readUpTo.set(partition, BigInt(message.offset));
    const parsed = AuditLogMessageSchema.safeParse(safeJson(message.value));
    if (!parsed.success) {
      unreadable ??= { partition, offset: message.offset };
      return;
    }
    if ('kind' in parsed.data) {
      verifier?.addCheckpoint({ checkpoint: parsed.data, partition, offset: message.offset });
      lastCheckpoint = Math.max(lastCheckpoint, parsed.data.number);
      return;
    }
    const record: AuditRecord = parsed.data;
    const status = verifier?.add({ record, partition, offset: message.offset }) ?? 'ok';
    if (status === 'duplicate') {
      duplicates++;
      return; // an append retried after a crash: the same record again, not a second one
    }
    // The rebuild stops at the first break: records after it are not trusted into the views.
    if (schema && status === 'ok' && !unreadable) {
      pending.push(record);
      applied++;
      if (pending.length >= REBUILD_BATCH) await flush();
    }
    if (!tail && filter(record)) {
      matched++;
      if (out && !out.write(`${JSON.stringify(record)}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  };

  try {
    // Loaded when needed: PostgreSQL and the GSM client cost every other command start-up time.
    if (rebuildUrl) schema = await (await import('@rotor/audit-store')).SchemaRebuild.begin(rebuildUrl);
    const { read, total } = await readTopicRange(kafka, {
      groupPrefix: 'rotor-cli-replay',
      topic: settings.topic,
      from,
      to,
      progressEvery: 5000,
      onProgress: (done, all) => progress.update(done, all),
      onMessage: (message, partition) => onMessage(message, partition),
    });
    await flush();
    if (schema) {
      // The auditor appended meanwhile: hold its appends, read what it wrote since, then switch.
      await schema.lockLive();
      const tailFrom: LogPoint = { time: new Date(started - TAIL_SLACK_MS) };
      await readTopicRange(kafka, {
        groupPrefix: 'rotor-cli-replay-tail',
        topic: settings.topic,
        from: tailFrom,
        onMessage: (message, partition) => onMessage(message, partition, true),
      });
      await flush();
    }
    progress.finish();
    const verification = verifier?.result();
    const ok = !verification || (verification.ok && !unreadable);
    // The rebuild stops only at a broken or unreadable record. What is judged about the log's end
    // (stale, no checkpoint yet, a tail missing against GSM) is reported, and still fails the exit
    // code, but must not keep an auditor whose database was lost from ever restarting.
    const rebuilt = !!verification && !verification.firstBreak && !unreadable;
    // The auditor numbers its next checkpoint after the last one in the log, and writes one at once.
    let replacedLive = false;
    if (schema && rebuilt) ({ replacedLive } = await schema.complete(lastCheckpoint));
    else await schema?.abandon();
    schema = undefined;
    const tookMs = Date.now() - started;
    const summary = {
      topic: settings.topic,
      read,
      total,
      matched,
      duplicatesSkipped: duplicates,
      ...(verification ? { verify: { ...verification, ok, ...(unreadable ? { firstUnreadable: unreadable } : {}) } } : {}),
      ...(rebuildUrl ? { rebuild: { recordsApplied: applied, complete: rebuilt, replacedLive } } : {}),
      ...(out ? { out: flags.out } : {}),
      tookMs,
      eventsPerSecond: Math.round(read / Math.max(0.001, tookMs / 1000)),
    };
    const brokenAt = verification?.firstBreak ?? (unreadable ? { ...unreadable, reason: 'not an audit record' } : undefined);
    printResult(context, summary, {
      columns: ['read', 'matched', 'events/s', 'chain', 'unanchored tail', 'first break', ...(rebuildUrl ? ['rebuilt'] : [])],
      rows: [
        [
          read,
          matched,
          summary.eventsPerSecond,
          verification ? (ok ? `ok (${verification.records} records, ${verification.chains} chains)` : 'BROKEN') : 'not verified',
          verification ? verification.checkpoints.unanchoredTail : '',
          brokenAt
            ? `partition ${brokenAt.partition} offset ${brokenAt.offset}: ${brokenAt.reason}`
            : (verification?.failures?.join('; ') ?? ''),
          ...(rebuildUrl
            ? [rebuilt ? `${applied} records, switched in` : `not switched: the log breaks (${applied} records before it)`]
            : []),
        ],
      ],
    });
    if (!ok) process.exitCode = ExitCode.findings;
  } finally {
    await new Promise<void>((resolve) => (out ? out.end(resolve) : resolve()));
    await schema?.abandon();
  }
}

/** The public keys checkpoints are checked with: --public-key FILE, or ROTOR_AUDIT_PUBLIC_KEYS_FILE (JWKS or PEM). */
function publicKeys(flags: AuditReplayOptions): AuditKeyring {
  const file = flags.publicKey ?? process.env['ROTOR_AUDIT_PUBLIC_KEYS_FILE'];
  if (!file)
    throw new UsageError(
      "verifying needs the auditor's public keys: --public-key FILE (from `rotor audit keys --out FILE`) or ROTOR_AUDIT_PUBLIC_KEYS_FILE",
    );
  const keyring = AuditKeyring.parse(readFileSync(file, 'utf8'));
  if (keyring.size === 0) throw new UsageError(`${file} holds no public key`);
  return keyring;
}

/** The latest checkpoint kept in GSM (GSM_PROJECT, SECRET_MANAGER_EMULATOR_HOST), when GSM is configured. */
async function externalCheckpoint(topic: string): Promise<AuditCheckpoint | undefined> {
  const project = process.env['GSM_PROJECT'];
  if (!project) return undefined;
  const { GsmSecretStore } = await import('@rotor/secret-store');
  const gsm = new GsmSecretStore({ project, emulatorHost: process.env['SECRET_MANAGER_EMULATOR_HOST'] });
  const secret = process.env['ROTOR_AUDIT_CHECKPOINT_SECRET'] ?? checkpointSecretFor(topic);
  try {
    const value = await gsm.access(`${gsm.secretName(secret)}/versions/latest`);
    return AuditCheckpointSchema.parse(JSON.parse(value.toString('utf8')));
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'gsm-not-found') return undefined;
    throw error;
  } finally {
    await gsm.close();
  }
}

const safeJson = (value: Buffer | null): unknown => {
  try {
    return value ? JSON.parse(value.toString('utf8')) : null;
  } catch {
    return null;
  }
};
