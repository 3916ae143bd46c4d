import { execFile } from 'node:child_process';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { Cluster } from 'ioredis';
import { Client } from 'pg';

import { Topics } from '@rotor/contracts';
import { postgresRoleName, redisAclUsername } from '@rotor/credential-backends';
import { derivedRowDifferences, derivedRows } from '@rotor/audit-store';
import { allKeys } from '@rotor/redis-store';
import { GsmSecretStore } from '@rotor/secret-store';

import { PrivateAuditDatabase } from '../../test/support/private-audit-database';
import { principalEnv } from '../../test/support/principals';
import { redisFromEnv } from '../security/env-clients';

import { CanarySearch, eventsOf, leaseFacts, parseEvent, replicaLogs, type TopicMessage } from './evidence';
import type { FaultWindow, InjectedMessage } from './faults';
import type { IssuedLease, RequestRecord } from './load';
import { KAFKA_BROKERS, MANAGED_SECRETS, ROOT, type ChaosStack } from './stack';
import { summarizeLatencies } from '../../bench/lib/stats';

const run = promisify(execFile);

export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
  /** Up to a few examples of what broke it. */
  examples?: string[];
}

/** A period during which the issuer's /readyz reported a dependency down. */
export interface Outage {
  dependency: string;
  start: number;
  end: number;
}

export interface RunEvidence {
  stack: ChaosStack;
  /** Every message of the run's topics; replaced by the final read once the services are stopped. */
  messages: TopicMessage[];
  leases: Map<string, IssuedLease>;
  requests: RequestRecord[];
  windows: FaultWindow[];
  injected: InjectedMessage[];
  outages: Outage[];
  /** The baseline phase: [start, end) with no fault; its p99 revocation lag sets the margin. */
  baseline: { start: number; end: number };
  /** The emergency rotation started half-way, as its revoker reported it at the end. */
  emergency: { id: string; state: string; detail: string };
  /** Reads the run's topics again (the system is still live: rotations go on during the checks). */
  refresh?: () => Promise<TopicMessage[]>;
}

const MARGIN_MS = 5_000;
const examples = (items: string[]) => (items.length ? { examples: items.slice(0, 5) } : {});
const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Revocation lag (revokedAt - expiry) of leases that ended at their TTL. */
export function expiryLags(evidence: RunEvidence, from: number, to: number): number[] {
  const lags: number[] = [];
  for (const lease of leaseFacts(evidence.messages).values()) {
    const first = lease.revoked.filter((revocation) => revocation.reason === 'expired').sort((a, b) => a.revokedAt - b.revokedAt)[0];
    if (first && lease.expiresAt >= from && lease.expiresAt < to) lags.push(first.revokedAt - lease.expiresAt);
  }
  return lags;
}

/**
 * The invariants, in two stages: those that need the services (introspection at the issuer) or
 * judge the run as it went, then `quiesce` stops everything that produces events and waits for
 * the auditors to record the rest, and the audit and canary checks read the final topics.
 */
/** How long a fault may keep its effect: a killed revoker's claims return at their visibility deadline. */
const REVOKE_VISIBILITY_MS = 30_000;
const effectiveEnd = (fault: FaultWindow): number =>
  fault.kind === 'kill-replica' && fault.target.startsWith('revoker') ? Math.max(fault.end, fault.start + REVOKE_VISIBILITY_MS) : fault.end;

/**
 * When a lease that expired at `expiresAt` must be revoked: `margin` after its expiry, or after
 * the end of every fault that was under way before that deadline (faults chain: a revoker killed
 * while Kafka was electing a leader holds its claims until their visibility deadline).
 */
export function revocationDeadline(
  expiresAt: number,
  windows: readonly FaultWindow[],
  margin: number,
): { deadline: number; window?: FaultWindow } {
  let deadline = expiresAt + margin;
  let window: FaultWindow | undefined;
  for (let extended = true; extended;) {
    extended = false;
    for (const fault of windows) {
      const end = effectiveEnd(fault);
      if (fault.start <= deadline && end >= expiresAt && end + margin > deadline) {
        deadline = end + margin;
        window = fault;
        extended = true;
      }
    }
  }
  return { deadline, ...(window ? { window } : {}) };
}

export async function checkInvariants(evidence: RunEvidence, quiesce: () => Promise<TopicMessage[]>): Promise<InvariantResult[]> {
  const results: InvariantResult[] = [];
  const guard = async (name: string, check: () => InvariantResult | Promise<InvariantResult>) => {
    try {
      results.push(await check());
    } catch (error) {
      results.push({ name, ok: false, detail: `the check itself failed: ${(error as Error).message.split('\n')[0]}` });
    }
  };
  await guard('every expired lease revoked at its backend, on time', () => revokedAtBackends(evidence));
  await guard('exactly one lease.revoked per lease, none lost', () => oneRevocationEach(evidence));
  await guard('every target holds the current version; retired versions removed', () => targetsCurrent(evidence));
  await guard('the dead-letter topic holds only injected messages', () => deadLettersInjected(evidence));
  await guard('HTTP: only fast 503 + Retry-After under outages; nothing minted', () => httpDuringOutages(evidence));
  await guard('the emergency rotation completed', () => emergencyCompleted(evidence));
  // The audit checks need the final topics; if the auditors never drain, that is a violation of its
  // own, and the remaining checks still run on what was read.
  await guard('the auditors recorded everything once the producers stopped', async () => {
    evidence.messages = await quiesce();
    return {
      name: 'the auditors recorded everything once the producers stopped',
      ok: true,
      detail: `${evidence.messages.length} messages read`,
    };
  });
  await guard('every domain event has exactly one audit record', () => oneAuditRecordEach(evidence));
  await guard('audit chains verify; a rebuild equals the live views', () => auditRebuild(evidence));
  await guard('no credential value in any topic, log, Redis value or audit view', () => canaries(evidence));
  return results;
}

async function revokedAtBackends(evidence: RunEvidence): Promise<InvariantResult> {
  const name = 'every expired lease revoked at its backend, on time';
  const facts = leaseFacts(evidence.messages);
  const baselineLags = expiryLags(evidence, evidence.baseline.start, evidence.baseline.end);
  const p99 = baselineLags.length ? summarizeLatencies(baselineLags).p99 : 0;
  const late: string[] = [];
  const unrevoked: string[] = [];
  for (const lease of facts.values()) {
    if (lease.revoked.length === 0) {
      unrevoked.push(`${lease.leaseId} (${lease.backend}) has no lease.revoked`);
      continue;
    }
    const first = [...lease.revoked].sort((a, b) => a.revokedAt - b.revokedAt)[0]!;
    if (first.reason !== 'expired') continue; // ended early on request or by the emergency rotation
    const { deadline, window } = revocationDeadline(lease.expiresAt, evidence.windows, p99 + MARGIN_MS);
    if (first.revokedAt > deadline) {
      const before = [...evidence.windows].filter((fault) => fault.end < lease.expiresAt).sort((a, b) => b.end - a.end)[0];
      const context = window
        ? `expiry in ${window.kind} ${window.target}`
        : before
          ? `expiry ${fmt(lease.expiresAt - before.end)} after ${before.kind} ${before.target} ended`
          : 'no fault before it';
      late.push(`${lease.leaseId} (${lease.backend}) revoked ${fmt(first.revokedAt - lease.expiresAt)} after expiry; ${context}`);
    }
  }

  // At the backends themselves: no role, no ACL user, no active token.
  const pg = new Client({ connectionString: process.env['DATABASE_URL'] });
  await pg.connect();
  const byBackend = (backend: string) => [...facts.values()].filter((lease) => lease.backend === backend);
  const roles = byBackend('postgres').map((lease) => postgresRoleName(lease.leaseId));
  const alive: string[] = [];
  try {
    const { rows } = await pg.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [roles]);
    alive.push(...rows.map((row) => `PostgreSQL role ${row.rolname} still exists`));
  } finally {
    await pg.end();
  }
  const acl = redisFromEnv(process.env['ROTOR_REDIS_ACL_URL'], {
    username: principalEnv('issuer')['ROTOR_REDIS_ACL_USERNAME'],
    password: readFileSync(principalEnv('issuer')['ROTOR_REDIS_ACL_PASSWORD_FILE']!, 'utf8').trim(),
  });
  try {
    const users = new Set((await acl.call('ACL', 'USERS')) as string[]);
    for (const lease of byBackend('redis-acl')) {
      if (users.has(redisAclUsername(lease.leaseId))) alive.push(`Redis ACL user ${redisAclUsername(lease.leaseId)} still exists`);
    }
  } finally {
    acl.disconnect();
  }
  const introspector = await evidence.stack.identity.operatorToken('chaos@example.com', ['rotor:introspect']);
  const tokens = [...evidence.leases.values()].filter((lease) => lease.backend === 'opaque-token');
  let checked = 0;
  const queue = [...tokens];
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      for (let lease = queue.shift(); lease; lease = queue.shift()) {
        const response = await fetch(`${evidence.stack.url('issuer-1')}/v1/introspect`, {
          method: 'POST',
          headers: { authorization: `Bearer ${introspector}`, 'content-type': 'application/json' },
          body: JSON.stringify({ token: lease.secrets[0] }),
        });
        const body = (await response.json()) as { active?: boolean };
        if (response.status === 429) {
          queue.push(lease);
          await new Promise((resolve) => setTimeout(resolve, 1_000 * Number(response.headers.get('retry-after') ?? 1)));
          continue;
        }
        checked++;
        if (response.status !== 200 || body.active !== false)
          alive.push(`token of ${lease.leaseId}: introspection ${response.status} active=${body.active}`);
      }
    }),
  );
  const ok = late.length === 0 && unrevoked.length === 0 && alive.length === 0;
  return {
    name,
    ok,
    detail:
      `${facts.size} leases: ${roles.length} PostgreSQL roles, ${byBackend('redis-acl').length} ACL users, ${checked} tokens checked at the backend; ` +
      `margin = no-fault p99 ${fmt(p99)} + 5 s; ${late.length} late, ${unrevoked.length} unrevoked, ${alive.length} alive at the backend`,
    ...examples([...unrevoked, ...alive, ...late]),
  };
}

export function oneRevocationEach(evidence: RunEvidence): InvariantResult {
  const facts = leaseFacts(evidence.messages);
  const doubled = [...facts.values()].filter((lease) => lease.revoked.length > 1);
  const lost = [...evidence.leases.values()].filter((lease) => !facts.has(lease.leaseId));
  return {
    name: 'exactly one lease.revoked per lease, none lost',
    ok: doubled.length === 0 && lost.length === 0,
    detail: `${evidence.leases.size} leases answered 201, ${facts.size} on lease.issued; ${doubled.length} with several lease.revoked ids, ${lost.length} answered but never on lease.issued`,
    ...examples([
      ...doubled.map(
        (lease) => `${lease.leaseId}: ${lease.revoked.map((revocation) => `${revocation.id} (${revocation.reason})`).join(', ')}`,
      ),
      ...lost.map((lease) => `${lease.leaseId} (${lease.backend}) lost`),
    ]),
  };
}

const isInjected = (value: string) => value.includes('chaos-malformed-');

export function oneAuditRecordEach(evidence: RunEvidence): InvariantResult {
  const recorded = new Map<string, Set<string>>();
  for (const message of evidence.messages.filter((m) => m.topic === Topics.auditLog)) {
    // The auditor writes every message of its topic as JSON: an audit record or a checkpoint.
    const parsed = JSON.parse(message.value) as { eventId?: string; hash?: string; kind?: string };
    if (!parsed.eventId || parsed.kind === 'checkpoint') continue;
    const hashes = recorded.get(parsed.eventId) ?? new Set<string>();
    hashes.add(parsed.hash ?? '');
    recorded.set(parsed.eventId, hashes);
  }
  const events = new Set<string>();
  for (const message of evidence.messages) {
    if (message.topic === Topics.auditLog || message.topic === Topics.deadLetter || isInjected(message.value)) continue;
    const event = parseEvent(message.value);
    if (event) events.add(event.id);
  }
  const missing = [...events].filter((id) => !recorded.has(id));
  const doubled = [...recorded].filter(([, hashes]) => hashes.size > 1).map(([id]) => id);
  // Every signed checkpoint is written to every partition of the audit topic (a verifier of one
  // partition needs it there); a copy missing from one is a lost write.
  const copies = new Map<number, Set<number>>();
  const partitions = new Set<number>();
  for (const message of evidence.messages.filter((m) => m.topic === Topics.auditLog)) {
    partitions.add(message.partition);
    const checkpoint = JSON.parse(message.value) as { kind?: string; number?: number };
    if (checkpoint.kind !== 'checkpoint' || checkpoint.number === undefined) continue;
    copies.set(checkpoint.number, (copies.get(checkpoint.number) ?? new Set()).add(message.partition));
  }
  const partial = [...copies]
    .filter(([, on]) => on.size < partitions.size)
    .map(([number, on]) => `checkpoint #${number} on ${on.size} of ${partitions.size} partitions`);
  return {
    name: 'every domain event has exactly one audit record',
    ok: missing.length === 0 && doubled.length === 0 && partial.length === 0,
    detail:
      `${events.size} domain events, ${recorded.size} recorded; ${missing.length} missing, ${doubled.length} recorded twice; ` +
      `${copies.size} checkpoints, ${partial.length} not on every partition`,
    ...examples([
      ...missing.map((id) => `event ${id} has no audit record`),
      ...doubled.map((id) => `event ${id} recorded twice`),
      ...partial,
    ]),
  };
}

/** The CLI's `audit replay --rebuild` into a scratch database, compared table by table with the auditors' live views. */
async function auditRebuild(evidence: RunEvidence): Promise<InvariantResult> {
  const name = 'audit chains verify; a rebuild equals the live views';
  const scratch = await new PrivateAuditDatabase().create();
  try {
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      ...principalEnv('cli'),
      KAFKA_BROKERS,
      ROTOR_KAFKA_NAMESPACE: evidence.stack.namespace,
      SECRET_MANAGER_EMULATOR_HOST: evidence.stack.gsmHost,
      GSM_PROJECT: evidence.stack.gsmProject,
      ...scratch.env(),
    };
    delete env['ROTOR_AUDIT_DATABASE_URL'];
    const { stdout } = await run(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'apps', 'cli', 'src', 'main.ts'), 'audit', 'replay', '--rebuild', '--json'],
      { cwd: ROOT, env, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
    ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      if (error.stdout?.trim().startsWith('{')) return { stdout: error.stdout };
      throw new Error(`rotor audit replay --rebuild: ${error.message} ${error.stderr ?? ''}`);
    });
    const summary = JSON.parse(stdout) as {
      read: number;
      verify?: { ok: boolean; records: number; chains: number; failures?: string[] };
      rebuild?: { complete: boolean; recordsApplied: number };
    };
    const live = await derivedRows((await evidence.stack.auditDatabase.open()).pool);
    const differences = derivedRowDifferences(live, await derivedRows((await scratch.open()).pool));
    const ok = !!summary.verify?.ok && !!summary.rebuild?.complete && differences.length === 0;
    return {
      name,
      ok,
      detail:
        `${summary.verify?.records ?? 0} records in ${summary.verify?.chains ?? 0} chains: ${summary.verify?.ok ? 'verified' : 'BROKEN'}; ` +
        `rebuild ${summary.rebuild?.complete ? 'complete' : 'INCOMPLETE'} (${summary.rebuild?.recordsApplied ?? 0} records); ${differences.length} view rows differ`,
      ...examples([...(summary.verify?.failures ?? []), ...differences]),
    };
  } finally {
    await scratch.drop();
  }
}

/**
 * Rotations go on while the checks run (every 50 s): a version created after the topics were read
 * retires the one they name as newest. A settled state must be seen within three reads, 5 s apart.
 */
async function targetsCurrent(evidence: RunEvidence): Promise<InvariantResult> {
  let result = await targetsCurrentIn(evidence, evidence.messages);
  for (let attempt = 1; attempt < 3 && !result.ok && evidence.refresh; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    result = await targetsCurrentIn(evidence, await evidence.refresh());
  }
  return result;
}

async function targetsCurrentIn(evidence: RunEvidence, messages: TopicMessage[]): Promise<InvariantResult> {
  const { stack } = evidence;
  const problems: string[] = [];
  const created = eventsOf<{ secret: string; version: number; gsmVersion: string }>(messages, Topics.secretVersionCreated);
  const retired = eventsOf<{ secret: string; version: number }>(messages, Topics.secretVersionRetired);
  const gsm = new GsmSecretStore({ project: stack.gsmProject, emulatorHost: stack.gsmHost });
  let versions = 0;
  try {
    for (const secret of MANAGED_SECRETS) {
      const newest = created.filter((event) => event.data.secret === secret).sort((a, b) => b.data.version - a.data.version)[0];
      if (!newest) {
        problems.push(`${secret}: no version was ever created`);
        continue;
      }
      const current = newest.data.version;
      versions += current;
      // rotor's version numbers are its own; the event names the GSM version it refers to.
      const value = await gsm.access(newest.data.gsmVersion).then(
        (bytes) => bytes.toString(),
        () => undefined,
      );
      if (value === undefined) {
        const retiredHere = retired.filter((event) => event.data.secret === secret).map((event) => `${event.data.version}`);
        problems.push(`${secret}: the newest version, ${current}, cannot be read from GSM (retired: ${retiredHere.join(', ') || 'none'})`);
        continue;
      }
      const kube = stack.kube.secret('chaos-apps', secret);
      const kubeValue = Buffer.from(kube?.data?.['value'] ?? '', 'base64').toString();
      if (kubeValue !== value)
        problems.push(
          `${secret}: the Kubernetes Secret holds ${kube ? `version ${kube.metadata?.annotations?.['rotor.dev/version']}` : 'nothing'}, not version ${current}`,
        );
      const file = join(stack.fileRoot, secret, 'value');
      const fileValue = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (fileValue !== value)
        problems.push(`${secret}: the file target holds ${fileValue === undefined ? 'nothing' : 'another value'}, not version ${current}`);
      const ready = stack.webhook.notices.filter((notice) => notice.secret === secret && notice.type === 'rotor.secret.version-ready');
      if (!ready.some((notice) => notice.version === current)) problems.push(`${secret}: the webhook never heard of version ${current}`);
      for (const event of retired.filter((event) => event.data.secret === secret && event.data.version !== current)) {
        const told = stack.webhook.notices.some(
          (notice) => notice.secret === secret && notice.type === 'rotor.secret.version-retired' && notice.version === event.data.version,
        );
        if (!told) problems.push(`${secret}: the webhook was never told version ${event.data.version} was retired`);
      }
      const dir = join(stack.fileRoot, secret);
      const stale = existsSync(dir)
        ? readdirSync(dir).filter((entry) => /^\.\.v\d+_/.test(entry) && !entry.startsWith(`..v${current}_`))
        : [];
      if (stale.length) problems.push(`${secret}: the file target still has ${stale.join(', ')}`);
    }
  } finally {
    await gsm.close();
  }
  return {
    name: 'every target holds the current version; retired versions removed',
    ok: problems.length === 0,
    detail: `${MANAGED_SECRETS.length} secrets, ${versions} versions, ${retired.length} retirements, 3 target kinds; ${problems.length} problems`,
    ...examples(problems),
  };
}

export function deadLettersInjected(evidence: RunEvidence): InvariantResult {
  const letters = evidence.messages.filter((message) => message.topic === Topics.deadLetter);
  const foreign: string[] = [];
  for (const letter of letters) {
    const record = JSON.parse(letter.value) as { sourceTopic: string; consumerGroup: string; reason: string; value: string | null };
    const original = record.value ? Buffer.from(record.value, 'base64').toString() : '';
    if (!isInjected(original)) foreign.push(`${record.sourceTopic} via ${record.consumerGroup}: ${record.reason}`);
  }
  return {
    name: 'the dead-letter topic holds only injected messages',
    ok: foreign.length === 0,
    detail: `${evidence.injected.length} malformed messages injected, ${letters.length} dead letters, ${foreign.length} not injected`,
    ...examples(foreign),
  };
}

export function emergencyCompleted(evidence: RunEvidence): InvariantResult {
  const { id, state, detail } = evidence.emergency;
  return { name: 'the emergency rotation completed', ok: state === 'completed', detail: `${id}: ${state}; ${detail}` };
}

/** How much earlier than the chaos run's /readyz poll the issuer may learn a dependency is back. */
const READINESS_POLL_SLACK_MS = 1_000;

/** Which readiness dependencies a backend's issuance needs. */
const NEEDS: Record<string, string[]> = {
  'opaque-token': ['kafka', 'redis'],
  postgres: ['kafka', 'redis', 'postgres'],
  'redis-acl': ['kafka', 'redis', 'redis-acl'],
};

export function httpDuringOutages(evidence: RunEvidence): InvariantResult {
  const problems: string[] = [];
  const issuerDown = evidence.windows.filter((window) => window.kind === 'kill-replica' && window.target === 'issuer-1');
  let unavailable = 0;
  for (const request of evidence.requests) {
    const at = new Date(request.startedAt).toISOString().slice(11, 23);
    if (request.status === 0) {
      // Refused while the issuer was down, or cut off when it was killed with the request in flight
      // (a SIGKILLed process answers nothing; a Deployment's Service would have sent it elsewhere).
      const failedAt = request.startedAt + request.durationMs;
      const refusedWhileDown =
        /fetch failed|ECONNREFUSED|ECONNRESET|socket hang up/.test(request.problem ?? '') &&
        issuerDown.some((w) => failedAt >= w.start - 1_000 && request.startedAt <= w.end);
      if (!refusedWhileDown) problems.push(`${at} ${request.action}: no answer (${request.problem})`);
      else unavailable++;
      continue;
    }
    if (request.status >= 500 && (request.status !== 503 || !request.retryAfter))
      problems.push(
        `${at} ${request.action} ${request.backend}: ${request.status}${request.retryAfter ? '' : ' without Retry-After'} (${request.problem})`,
      );
    if (request.status === 503 && request.durationMs > 2_000)
      problems.push(`${at} ${request.action} ${request.backend}: 503 after ${request.durationMs} ms`);
    if (request.action === 'issue' && request.status === 201) {
      // Minted although it began while /readyz said a dependency it needs was down, and not just
      // before the poll that saw it back (the issuer's own checks may learn that up to a poll earlier).
      const outage = evidence.outages.find(
        (o) =>
          NEEDS[request.backend!]!.includes(o.dependency) &&
          request.startedAt >= o.start &&
          request.startedAt + READINESS_POLL_SLACK_MS <= o.end,
      );
      if (outage) problems.push(`${at} ${request.backend} minted while /readyz reported ${outage.dependency} down`);
    }
  }
  const served = evidence.requests.filter((request) => request.status > 0);
  const refused = served.filter((request) => request.status === 503);
  return {
    name: 'HTTP: only fast 503 + Retry-After under outages; nothing minted',
    ok: problems.length === 0,
    detail:
      `${evidence.requests.length} requests: ${refused.length} answered 503 (p99 ${fmt(refused.length ? summarizeLatencies(refused.map((r) => r.durationMs)).p99 : 0)}), ` +
      `${unavailable} refused while the issuer was killed; ${evidence.outages.length} outages seen on /readyz; ${problems.length} problems`,
    ...examples(problems),
  };
}

async function canaries(evidence: RunEvidence): Promise<InvariantResult> {
  const search = new CanarySearch([...evidence.leases.values()].flatMap((lease) => lease.secrets));
  const found: string[] = [];
  const scan = (where: string, text: string) => {
    const hits = search.find(text);
    if (hits.size) found.push(`${hits.size} credential values in ${where}`);
  };
  for (const topic of new Set(evidence.messages.map((message) => message.topic))) {
    scan(
      `topic ${topic}`,
      evidence.messages
        .filter((m) => m.topic === topic)
        .map((m) => `${m.value}\n${m.headers}`)
        .join('\n'),
    );
  }
  const logs = replicaLogs();
  for (const log of logs) scan(log.name, log.text);
  const redis = await evidence.stack.redisAdmin();
  let keys = 0;
  try {
    const all = await allKeys(redis, '*', 1000);
    keys = all.length;
    for (let start = 0; start < all.length; start += 1000) {
      const values: string[] = [];
      for (const key of all.slice(start, start + 1000)) values.push(key, await valueOf(redis, key));
      scan('Redis', values.join('\n'));
    }
  } finally {
    redis.disconnect();
  }
  // The auditors' views in PostgreSQL, every row as text.
  const views = await evidence.stack.auditDatabase.open();
  let rows = 0;
  for (const table of ['records', 'record_keys', 'entities', 'members', 'seen', 'chains']) {
    const result = await views.pool.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t`);
    rows += result.rows.length;
    for (let start = 0; start < result.rows.length; start += 1000)
      scan(
        `the auditors' ${table} table`,
        result.rows
          .slice(start, start + 1000)
          .map((r) => r.row)
          .join('\n'),
      );
  }
  return {
    name: 'no credential value in any topic, log, Redis value or audit view',
    ok: search.size > 0 && found.length === 0,
    detail: `${search.size} issued values searched in ${evidence.messages.length} topic messages, ${logs.length} replica logs, ${keys} Redis keys and ${rows} rows of the auditors' database (no spans: rotor exports none yet, issue 18)`,
    ...examples(found),
  };
}

/** A key's value as text, whatever its type (sorted where the type has no order), for comparing and searching. */
async function valueOf(redis: Cluster | ReturnType<typeof redisFromEnv>, key: string): Promise<string> {
  const type = await redis.type(key);
  if (type === 'hash') return JSON.stringify(Object.entries(await redis.hgetall(key)).sort());
  if (type === 'zset') return JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'));
  if (type === 'set') return JSON.stringify((await redis.smembers(key)).sort());
  if (type === 'list') return JSON.stringify(await redis.lrange(key, 0, -1));
  return `${type}:${await redis.get(key)}`;
}
