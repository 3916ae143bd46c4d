/**
 * The auditor's PostgreSQL views at volume (issue 19): loads N sealed audit records into a
 * database of its own (a PrivateAuditDatabase owned by rotor_auditor) through ViewWriter.write,
 * as the auditor does, and measures the queries behind the REST API at 100k records and again
 * at N (load 100k, measure, load on to N, measure), so the growth shows:
 *  - load throughput (records/s of ViewWriter.write, and of the whole load with generation);
 *  - disk: pg_database_size, its growth per 10,000 leases, and the tables' sizes;
 *  - p50/p99 over --samples sequential calls each of: GET /v1/audit/events by lease, by workload
 *    (first page, limit 50) and by a time range (first page, limit 50) (PgAuditViews.events);
 *    the workload's leases and the secret's inventory (InventoryStore.workloadLeases,
 *    secretVersions + secretCopies, at now); the inventory at a time (InventoryStore.existingAt:
 *    liveAt + leaseExistedAt/copyExistedAt) at random past times and at now;
 *  - the plan node types of each of those statements (EXPLAIN of the exact SQL PgAuditViews sent).
 *
 * Records: lease lifecycles over --workloads workloads (lease.issued; lease.renewed for 30%;
 * lease.revoked at expiry or earlier, unless that is still in the future), issue times spread
 * uniformly over the last --days days in both stages, so both stages cover the same months and
 * the second only makes them denser; plus, in the first stage, the history of --secrets secrets
 * (secret.version.created every 4 days, delivered to 5 targets each, delivery.removed of the
 * previous version's copies when the next one is delivered, secret.version.retired a day later). The tables are ANALYZEd after each
 * stage (autovacuum would, later).
 *
 *   npm run bench:audit-views -- [--records 1000000] [--first 100000] [--samples 200] [--batch 1000]
 *                                [--workloads 200] [--secrets 36] [--days 90] [--range-hours 24] [--json]
 *
 * Needs the local services (scripts/services-up.sh); reads .rotor/env. The database is dropped at
 * the end. Progress goes to stderr, results to stdout.
 */
import { createHash, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { GENESIS, sealRecord, type ChainHead } from '@rotor/audit-chain';
import { PgAuditViews, ViewWriter, type AuditDatabase } from '@rotor/audit-store';
import { createEvent, Topics, type AuditRecord, type DomainTopic, type EventData } from '@rotor/contracts';

import { InventoryStore } from '../apps/auditor/src/inventory/inventory.store';
import { PrivateAuditDatabase } from '../test/support/private-audit-database';
import { loadServicesEnv } from '../test/support/services-env';

import { num, table } from './lib/report';
import { summarizeLatencies, type LatencySummary } from './lib/stats';

loadServicesEnv();
const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    first: { type: 'string', default: '100000' },
    samples: { type: 'string', default: '200' },
    batch: { type: 'string', default: '1000' },
    workloads: { type: 'string', default: '200' },
    secrets: { type: 'string', default: '36' },
    days: { type: 'string', default: '90' },
    'range-hours': { type: 'string', default: '24' },
    json: { type: 'boolean', default: false },
  },
});
const RECORDS = Number(args.records);
const FIRST = Math.min(Number(args.first), RECORDS);
const SAMPLES = Number(args.samples);
const BATCH = Number(args.batch);
const WORKLOADS = Number(args.workloads);
const SECRETS = Number(args.secrets);
const DAY = 86_400_000;
const HOUR = 3_600_000;
const END = Date.now();
const START = END - Number(args.days) * DAY;
const RANGE_MS = Number(args['range-hours']) * HOUR;
const PARTITIONS = 6;
const TARGETS_PER_VERSION = 5;
const VERSION_EVERY = 4 * DAY;
const log = (message: string) => process.stderr.write(`${message}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** A deterministic-enough random source (the figures should not depend on the seed). */
let seed = 0x2f6b3a1d;
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x1_0000_0000;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const workloads = Array.from({ length: WORKLOADS }, (_v, i) => ({
  namespace: `team-${String(i % 25).padStart(2, '0')}`,
  serviceAccount: `svc-${String(i).padStart(3, '0')}`,
}));
const workloadKey = (w: { namespace: string; serviceAccount: string }) => `${w.namespace}/${w.serviceAccount}`;
const secrets = Array.from({ length: SECRETS }, (_v, i) => `app-secret-${String(i).padStart(2, '0')}`);

/** One event to seal: its topic, the key it was produced with (its chain's partition) and its envelope. */
interface PendingEvent {
  topic: DomainTopic;
  key: string;
  at: number;
  data: unknown;
  subject: string;
}

/** Seals events into chains (one per source topic-partition), as the auditor appends them. */
class Sealer {
  private readonly heads = new Map<string, ChainHead & { offset: number }>();

  seal(pending: PendingEvent): AuditRecord {
    const partition = createHash('md5').update(pending.key).digest().readUInt32BE(0) % PARTITIONS;
    const chain = `${pending.topic}:${partition}`;
    const head = this.heads.get(chain);
    const event = createEvent({
      topic: pending.topic,
      source: '/rotor/bench',
      subject: pending.subject,
      time: new Date(pending.at),
      data: pending.data as EventData<DomainTopic>,
    });
    const offset = head ? head.offset + 1 : 0;
    const record = sealRecord({
      seq: head ? head.seq + 1 : 0,
      chain,
      sourceTopic: pending.topic,
      sourcePartition: partition,
      sourceOffset: String(offset),
      eventId: event.id,
      eventType: pending.topic,
      known: true,
      // Appended shortly after the event.
      recordedAt: new Date(pending.at + 50).toISOString(),
      event: event as unknown as Record<string, unknown>,
      prev: head?.hash ?? GENESIS,
    });
    this.heads.set(chain, { seq: record.seq, hash: record.hash, offset });
    return record;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** One lease's events: issued, sometimes renewed, revoked (at expiry, or earlier on request) unless that is still ahead. */
function leaseEvents(): { leaseId: string; workload: string; events: PendingEvent[] } {
  const leaseId = randomUUID();
  const w = pick(workloads);
  const issuedAt = START + Math.floor(random() * (END - START));
  const ttl = (15 + Math.floor(random() * 45)) * 60_000;
  const maxExpiresAt = issuedAt + 4 * HOUR;
  const ref = {
    leaseId,
    role: `role-${w.serviceAccount}`,
    owner: `owner-${w.namespace}`,
    backend: 'postgres' as const,
    workload: { ...w, podName: `hmac-sha256:${createHash('sha256').update(leaseId).digest('hex')}` },
  };
  const events: PendingEvent[] = [
    {
      topic: Topics.leaseIssued,
      key: leaseId,
      at: issuedAt,
      subject: leaseId,
      data: {
        ...ref,
        issuedAt: iso(issuedAt),
        expiresAt: iso(issuedAt + ttl),
        maxExpiresAt: iso(maxExpiresAt),
        revocationHandle: { backend: 'postgres', roleName: `rotor_${leaseId.replaceAll('-', '')}` },
      },
    },
  ];
  let expiresAt = issuedAt + ttl;
  if (random() < 0.3) {
    const renewedAt = issuedAt + Math.floor(ttl / 2);
    expiresAt = Math.min(maxExpiresAt, renewedAt + ttl);
    if (renewedAt <= END)
      events.push({
        topic: Topics.leaseRenewed,
        key: leaseId,
        at: renewedAt,
        subject: leaseId,
        data: { ...ref, renewedAt: iso(renewedAt), expiresAt: iso(expiresAt), maxExpiresAt: iso(maxExpiresAt) },
      });
  }
  const requested = random() < 0.2;
  const revokedAt = requested ? issuedAt + Math.floor(random() * (expiresAt - issuedAt)) : expiresAt + 1_000;
  if (revokedAt <= END)
    events.push({
      topic: Topics.leaseRevoked,
      key: leaseId,
      at: revokedAt,
      subject: leaseId,
      data: { ...ref, reason: requested ? 'requested' : 'expired', revokedAt: iso(revokedAt) },
    });
  return { leaseId, workload: workloadKey(w), events };
}

/**
 * Every secret's history over the period, in time order: versions every 4 days, each delivered to
 * 5 targets (the previous version's copies removed there), the previous version retired a day later.
 */
function secretHistory(): PendingEvent[] {
  const events: PendingEvent[] = [];
  for (const [index, secret] of secrets.entries()) {
    const targets = Array.from({ length: TARGETS_PER_VERSION }, (_v, t) => ({
      target: { kind: t < 3 ? ('kubernetes-secret' as const) : ('file' as const), name: `${secret}-target-${t}` },
      locator: t < 3 ? `ns-${t}/${secret}` : `/etc/rotor/${secret}-${t}`,
    }));
    let version = 0;
    for (let createdAt = START + ((index * DAY) % VERSION_EVERY); createdAt <= END; createdAt += VERSION_EVERY) {
      version++;
      events.push({
        topic: Topics.secretVersionCreated,
        key: secret,
        at: createdAt,
        subject: secret,
        data: {
          secret,
          owner: `owner-team-${String(index % 25).padStart(2, '0')}`,
          version,
          gsmVersion: `projects/bench/secrets/${secret}/versions/${version}`,
          ...(version > 1 ? { previousVersion: version - 1 } : {}),
          reason: version === 1 ? 'initial' : 'scheduled',
          createdAt: iso(createdAt),
        },
      });
      // The previous version is retired a day after this one replaced it.
      if (version > 1 && createdAt + DAY <= END)
        events.push({
          topic: Topics.secretVersionRetired,
          key: secret,
          at: createdAt + DAY,
          subject: secret,
          data: {
            secret,
            version: version - 1,
            gsmVersion: `projects/bench/secrets/${secret}/versions/${version - 1}`,
            reason: 'superseded',
            retiredAt: iso(createdAt + DAY),
          },
        });
      for (const [t, { target, locator }] of targets.entries()) {
        const deliveredAt = createdAt + 5_000 + t * 1_000;
        if (version > 1)
          events.push({
            topic: Topics.deliveryRemoved,
            key: secret,
            at: deliveredAt - 1,
            subject: secret,
            data: { secret, version: version - 1, target, locator, reason: 'superseded', removedAt: iso(deliveredAt - 1) },
          });
        events.push({
          topic: Topics.deliveryCompleted,
          key: secret,
          at: deliveredAt,
          subject: secret,
          data: {
            secret,
            version,
            target,
            locator,
            contentHash: createHash('sha256').update(`${secret}:${version}`).digest('hex'),
            deliveredAt: iso(deliveredAt),
          },
        });
      }
    }
  }
  return events.sort((a, b) => a.at - b.at);
}

interface LoadState {
  records: number;
  leases: number;
  writeMs: number;
  wallMs: number;
}

/** Writes records up to `target` through ViewWriter.write in batches; the secrets' history is spread over the first stage. */
async function loadTo(
  target: number,
  writer: ViewWriter,
  sealer: Sealer,
  state: LoadState,
  sample: { leases: string[]; secretEvents: PendingEvent[]; secretsLeft: number },
): Promise<{ records: number; writeMs: number; wallMs: number }> {
  const startRecords = state.records;
  const startWrite = state.writeMs;
  const started = performance.now();
  let lastLog = started;
  while (state.records < target) {
    const batch: AuditRecord[] = [];
    const room = Math.min(BATCH, target - state.records);
    // The secrets' history, in proportion to the first stage's records (at most half of a batch).
    const secretShare = Math.ceil((sample.secretEvents.length * room) / FIRST);
    while (sample.secretsLeft > 0 && batch.length < Math.min(Math.ceil(room / 2), secretShare)) {
      batch.push(sealer.seal(sample.secretEvents[sample.secretEvents.length - sample.secretsLeft]!));
      sample.secretsLeft--;
    }
    while (batch.length < room) {
      const lease = leaseEvents();
      // A lease's records stay together: a batch may end up to two records over.
      for (const event of lease.events) batch.push(sealer.seal(event));
      state.leases++;
      sample.leases.push(lease.leaseId);
    }
    const t = performance.now();
    await writer.write(batch);
    state.writeMs += performance.now() - t;
    state.records += batch.length;
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      const seconds = (lastLog - started) / 1000;
      log(`  ${fmt(state.records)}/${fmt(target)} records, ${fmt((state.records - startRecords) / seconds)} records/s`);
    }
  }
  const wallMs = performance.now() - started;
  state.wallMs += wallMs;
  return { records: state.records - startRecords, writeMs: state.writeMs - startWrite, wallMs };
}

interface DiskFigures {
  databaseBytes: number;
  tables: Record<string, number>;
}

async function disk(db: AuditDatabase): Promise<DiskFigures> {
  const { rows } = await db.pool.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size');
  const tables: Record<string, number> = {};
  for (const name of ['records', 'record_keys', 'entities', 'members', 'seen']) {
    const { rows: sized } = await db.pool.query<{ size: string }>(
      `SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree($1::regclass)), pg_total_relation_size($1::regclass)) AS size`,
      [name],
    );
    tables[name] = Number(sized[0]!.size);
  }
  return { databaseBytes: Number(rows[0]!.size), tables };
}

/** A PgAuditViews whose statements are also kept, so that the exact SQL can be EXPLAINed. */
function capturingViews(db: AuditDatabase): { views: PgAuditViews; statements: { text: string; values: unknown[] }[] } {
  const statements: { text: string; values: unknown[] }[] = [];
  const pool = {
    query: (text: string, values: unknown[] = []) => {
      statements.push({ text, values });
      return db.pool.query(text, values);
    },
  };
  return { views: new PgAuditViews({ pool } as unknown as AuditDatabase), statements };
}

/** Plan node types (with index names) of a statement, depth-first. */
async function planNodes(db: AuditDatabase, text: string, values: unknown[]): Promise<string[]> {
  const { rows } = await db.pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${text}`, values);
  const nodes: string[] = [];
  const walk = (node: PlanNode) => {
    // Monthly partitions under one name, so that "4× Index Scan (records_y*m*_pkey)" reads as one step.
    const relation = (node['Index Name'] ?? node['Relation Name'])?.replace(/_y\d{4}m\d{2}/, '_y*m*');
    nodes.push(relation ? `${node['Node Type']} (${relation})` : node['Node Type']);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(rows[0]!['QUERY PLAN'][0].Plan);
  return nodes;
}
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** The plan's node types, collapsed: "Append > 4× Index Scan (…)" would be too long, so repeated siblings are counted. */
function summarizePlan(nodes: string[]): string {
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node, (counts.get(node) ?? 0) + 1);
  return [...counts].map(([node, count]) => (count > 1 ? `${count}× ${node}` : node)).join(', ');
}

interface QueryFigures {
  name: string;
  latencyMs: LatencySummary;
  /** Median rows (items, leases, …) per answer. */
  rows: number;
}

interface StageFigures {
  records: number;
  leases: number;
  load: { records: number; writePerSecond: number; wallPerSecond: number };
  disk: DiskFigures;
  diskPer10kLeasesBytes: number;
  queries: QueryFigures[];
  plans: Record<string, string[]>;
  /** The machine's 1-minute load average before and after the stage's queries (2 cores here). */
  loadAverage: { beforeQueries: number; afterQueries: number };
}

async function measure(
  db: AuditDatabase,
  leases: readonly string[],
): Promise<{ queries: QueryFigures[]; plans: Record<string, string[]> }> {
  const { views, statements } = capturingViews(db);
  const store = new InventoryStore(views);
  const now = Date.now();
  const queries: { name: string; run: () => Promise<number> }[] = [
    {
      name: 'events by lease (GET /v1/audit/events?lease=)',
      run: async () => (await views.events({ lease: pick(leases), offset: 0, limit: 100 })).items.length,
    },
    {
      name: 'events by workload, first page of 50',
      run: async () => (await views.events({ workload: workloadKey(pick(workloads)), offset: 0, limit: 50 })).items.length,
    },
    {
      name: `events in a ${args['range-hours']} h range, first page of 50`,
      run: async () => {
        const from = START + Math.floor(random() * (END - START - RANGE_MS));
        return (await views.events({ from: new Date(from), to: new Date(from + RANGE_MS), offset: 0, limit: 50 })).items.length;
      },
    },
    {
      name: 'workload leases (GET /v1/inventory/workloads/…) at now',
      run: async () => (await store.workloadLeases(workloadKey(pick(workloads)), now)).length,
    },
    {
      name: 'secret inventory (versions + copies) at now',
      run: async () => {
        const secret = pick(secrets);
        const [versions, copies] = await Promise.all([store.secretVersions(secret, now), store.secretCopies(secret, now)]);
        return versions.length + copies.length;
      },
    },
    {
      name: 'inventory at a past time (at?time=)',
      run: async () => {
        const existing = await store.existingAt(START + Math.floor(random() * (END - START)));
        return existing.leases.length + existing.versions.length + existing.copies.length;
      },
    },
    {
      name: 'inventory at now (at?time=now)',
      run: async () => {
        const existing = await store.existingAt(now);
        return existing.leases.length + existing.versions.length + existing.copies.length;
      },
    },
  ];
  const figures: QueryFigures[] = [];
  const plans: Record<string, string[]> = {};
  for (const query of queries) {
    // A few calls first: connections opened, catalog cached.
    for (let i = 0; i < 5; i++) await query.run();
    statements.length = 0;
    await query.run();
    for (const [index, { text, values }] of statements.entries()) {
      const label = `${query.name}: statement ${index + 1} (${text.replace(/\s+/g, ' ').slice(0, 60)}…)`;
      plans[label] = await planNodes(db, text, values);
    }
    const latencies: number[] = [];
    const rows: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t = performance.now();
      rows.push(await query.run());
      latencies.push(performance.now() - t);
    }
    rows.sort((a, b) => a - b);
    const summary = summarizeLatencies(latencies);
    figures.push({ name: query.name, latencyMs: summary, rows: rows[rows.length >> 1]! });
    log(`  ${query.name}: p50 ${num(summary.p50)} ms, p99 ${num(summary.p99)} ms (median ${rows[rows.length >> 1]} rows)`);
  }
  return { queries: figures, plans };
}

async function main(): Promise<void> {
  const database = new PrivateAuditDatabase();
  await database.create();
  const stages: StageFigures[] = [];
  try {
    const db = await database.open();
    const empty = await disk(db);
    const writer = new ViewWriter(db);
    const sealer = new Sealer();
    const secretEvents = secretHistory();
    const sample = { leases: [] as string[], secretEvents, secretsLeft: secretEvents.length };
    const state: LoadState = { records: 0, leases: 0, writeMs: 0, wallMs: 0 };
    log(
      `audit views: ${fmt(RECORDS)} records (measured at ${fmt(FIRST)} and ${fmt(RECORDS)}) in ${database.name}; ` +
        `${WORKLOADS} workloads, ${SECRETS} secrets (${fmt(secretEvents.length)} records of versions and copies), ${args.days} days`,
    );
    for (const target of [...new Set([FIRST, RECORDS])]) {
      log(`loading to ${fmt(target)} records`);
      const load = await loadTo(target, writer, sealer, state, sample);
      log(`  analyzing`);
      await db.pool.query('ANALYZE');
      const used = await disk(db);
      log(`measuring at ${fmt(state.records)} records, ${fmt(state.leases)} leases`);
      const beforeQueries = loadavg()[0]!;
      const measured = await measure(db, sample.leases);
      const afterQueries = loadavg()[0]!;
      log(`  load average ${beforeQueries.toFixed(2)} before the queries, ${afterQueries.toFixed(2)} after`);
      stages.push({
        records: state.records,
        leases: state.leases,
        load: {
          records: load.records,
          writePerSecond: load.records / (load.writeMs / 1000),
          wallPerSecond: load.records / (load.wallMs / 1000),
        },
        disk: used,
        diskPer10kLeasesBytes: ((used.databaseBytes - empty.databaseBytes) / state.leases) * 10_000,
        ...measured,
        loadAverage: { beforeQueries, afterQueries },
      });
    }
  } finally {
    await database.drop();
    log(`dropped ${database.name}`);
  }
  report(stages);
}

function report(stages: StageFigures[]): void {
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ samples: SAMPLES, batch: BATCH, workloads: WORKLOADS, secrets: SECRETS, stages })}\n`);
    return;
  }
  const mb = (bytes: number) => `${num(bytes / 1024 / 1024)} MB`;
  const header = stages.map((stage) => `${fmt(stage.records)} records`);
  process.stdout.write(
    `\nauditor views in PostgreSQL: ${WORKLOADS} workloads, ${SECRETS} secrets, ${args.days} days; batches of ${BATCH}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['figure', ...header],
      [
        ['leases', ...stages.map((s) => fmt(s.leases))],
        [
          'load average (1 min) before / after the queries',
          ...stages.map((s) => `${s.loadAverage.beforeQueries.toFixed(2)} / ${s.loadAverage.afterQueries.toFixed(2)}`),
        ],
        ['records loaded in this stage', ...stages.map((s) => fmt(s.load.records))],
        ['load, ViewWriter.write records/s', ...stages.map((s) => fmt(s.load.writePerSecond))],
        ['load incl. generating and sealing, records/s', ...stages.map((s) => fmt(s.load.wallPerSecond))],
        ['pg_database_size', ...stages.map((s) => mb(s.disk.databaseBytes))],
        ['disk per 10,000 leases (growth from empty)', ...stages.map((s) => mb(s.diskPer10kLeasesBytes))],
        ...Object.keys(stages[0]!.disk.tables).map((name) => [`  ${name} (with indexes)`, ...stages.map((s) => mb(s.disk.tables[name]!))]),
      ],
    )}\n\n`,
  );
  process.stdout.write(`queries, ${SAMPLES} sequential samples each: p50 / p99 ms (median rows answered)\n\n`);
  process.stdout.write(
    `${table(
      ['query', ...header],
      stages[0]!.queries.map((query, index) => [
        query.name,
        ...stages.map((s) => {
          const q = s.queries[index]!;
          return `${num(q.latencyMs.p50)} / ${num(q.latencyMs.p99)} (${q.rows})`;
        }),
      ]),
    )}\n\n`,
  );
  process.stdout.write(`plans at ${fmt(stages.at(-1)!.records)} records (EXPLAIN of the statements PgAuditViews sent):\n`);
  for (const [label, nodes] of Object.entries(stages.at(-1)!.plans)) process.stdout.write(`  ${label}\n    ${summarizePlan(nodes)}\n`);
  // The default partitions (records_late, record_keys_late) hold only records of detached months: empty here.
  const unindexed = Object.entries(stages.at(-1)!.plans).filter(([, nodes]) =>
    nodes.some((node) => node.startsWith('Seq Scan') && !node.endsWith('_late)')),
  );
  process.stdout.write(
    unindexed.length
      ? `\nsequential scans (other than of the empty default partitions *_late) in: ${unindexed.map(([label]) => label).join('; ')}\n`
      : '\nno sequential scan other than of the empty default partitions (*_late)\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
