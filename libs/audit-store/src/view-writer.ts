import {
  combineFields,
  entityOf,
  eventIndexKeys,
  liveSpan,
  mergeFields,
  projectRecord,
  recordTime,
  type HashFields,
  type LivingKind,
  type MergeFields,
  type ViewOp,
} from '@rotor/audit-chain';
import type { AuditRecord } from '@rotor/contracts';
import type { PoolClient } from 'pg';

import type { AuditDatabase } from './audit-database';
import { MonthlyPartitions } from './partitions';

const LIVING = new Set<string>(['lease', 'copy', 'version']);
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export interface WriteOptions {
  /** Count the records towards the next checkpoint (the live appender; not a rebuild). */
  countForCheckpoint?: boolean;
}

/**
 * Writes records into the views in one transaction: the records, their timeline index, their
 * dedupe marks, the inventory and posture entities and sets (the projection), and each chain's
 * head moved to its last record among them. Every statement is idempotent, so a run
 * written again after a crash changes nothing; rows are locked in one order (byte order of
 * their keys), so concurrent writers of other chains wait rather than deadlock.
 */
export class ViewWriter {
  private readonly partitions: MonthlyPartitions;

  constructor(private readonly db: AuditDatabase) {
    this.partitions = new MonthlyPartitions(db.pool);
  }

  async write(records: readonly AuditRecord[], options: WriteOptions = {}): Promise<void> {
    if (records.length === 0) return;
    const times = records.map(recordTime);
    await this.partitions.ensureFor(times);
    await this.db.transaction(async (client) => {
      // First, so that a rebuild's switch (which holds chains exclusively) is waited for before
      // anything is written: PostgreSQL then finds `chains` by name again, in the switched-in
      // schema, and every statement after it resolves there too (see SchemaRebuild).
      await client.query('LOCK TABLE chains IN ROW EXCLUSIVE MODE');
      await insertRecords(client, records, times);
      const ops = records.flatMap(projectRecord);
      await mergeEntities(client, ops);
      await addMembers(client, ops);
      const lastOfChain = new Map<string, AuditRecord>();
      for (const record of records) if ((lastOfChain.get(record.chain)?.seq ?? -1) < record.seq) lastOfChain.set(record.chain, record);
      for (const last of [...lastOfChain.values()].sort((a, b) => byteOrder(a.chain, b.chain)))
        await client.query('SELECT advance_chain($1, $2, $3, $4)', [last.chain, last.seq, last.hash, last.sourceOffset]);
      // Not idempotent, and need not be: it only brings the next checkpoint forward.
      if (options.countForCheckpoint)
        await client.query(
          'INSERT INTO checkpoint_state (appended) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET appended = checkpoint_state.appended + $1',
          [records.length],
        );
    });
  }
}

async function insertRecords(client: PoolClient, records: readonly AuditRecord[], times: number[]): Promise<void> {
  const at = times.map((ms) => new Date(ms).toISOString());
  await client.query(
    `INSERT INTO records (at, chain, seq, event_id, event_type, record)
     SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::json[])
     ON CONFLICT DO NOTHING`,
    [
      at,
      records.map((r) => r.chain),
      records.map((r) => r.seq),
      records.map((r) => r.eventId),
      records.map((r) => r.eventType),
      records.map((r) => JSON.stringify(r)),
    ],
  );
  const keys: [string, string, string, string, number][] = [];
  records.forEach((record, index) => {
    const index_ = eventIndexKeys(record);
    const add = (kind: string, values: string[]) =>
      values.forEach((value) => keys.push([kind, value, at[index]!, record.chain, record.seq]));
    add('lease', index_.leases);
    add('workload', index_.workloads);
    add('secret', index_.secrets);
    add('actor', index_.actors);
  });
  if (keys.length) {
    await client.query(
      `INSERT INTO record_keys (kind, value, at, chain, seq)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[]) ON CONFLICT DO NOTHING`,
      [keys.map((k) => k[0]), keys.map((k) => k[1]), keys.map((k) => k[2]), keys.map((k) => k[3]), keys.map((k) => k[4])],
    );
  }
  const seen = [...new Map(records.map((r) => [r.eventId, r])).values()].sort((a, b) => byteOrder(a.eventId, b.eventId));
  await client.query(
    `INSERT INTO seen (event_id, chain, seq) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING`,
    [seen.map((r) => r.eventId), seen.map((r) => r.chain), seen.map((r) => r.seq)],
  );
}

/** Read, merge by rule, write back: the merge rules live in one place (libs/audit-chain view-ops.ts). */
async function mergeEntities(client: PoolClient, ops: ViewOp[]): Promise<void> {
  const grouped = new Map<string, MergeFields>();
  for (const op of ops) if (op.op === 'merge') grouped.set(op.key, combineFields(grouped.get(op.key) ?? {}, op.fields));
  if (grouped.size === 0) return;
  const keys = [...grouped.keys()].sort(byteOrder).map(entityOf);
  const kinds = keys.map((key) => key.kind);
  const ids = keys.map((key) => key.id);
  await client.query(`INSERT INTO entities (kind, id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, [kinds, ids]);
  const { rows } = await client.query<{ kind: string; id: string; fields: HashFields }>(
    `SELECT e.kind, e.id, e.fields FROM entities e JOIN unnest($1::text[], $2::text[]) AS k(kind, id) ON e.kind = k.kind AND e.id = k.id
      ORDER BY e.kind COLLATE "C", e.id COLLATE "C" FOR UPDATE OF e`,
    [kinds, ids],
  );
  const current = new Map(rows.map((row) => [`${row.kind}:${row.id}`, row.fields]));
  const merged = keys.map(({ kind, id }) => {
    const fields = mergeFields(current.get(`${kind}:${id}`) ?? {}, grouped.get(`${kind}:${id}`)!);
    const span = LIVING.has(kind) ? liveSpan(kind as LivingKind, fields) : {};
    return { fields, span };
  });
  await client.query(
    `UPDATE entities e SET fields = u.fields, live_from = u.live_from, live_to = u.live_to
       FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::bigint[]) AS u(kind, id, fields, live_from, live_to)
      WHERE e.kind = u.kind AND e.id = u.id`,
    [kinds, ids, merged.map((m) => JSON.stringify(m.fields)), merged.map((m) => m.span.from ?? null), merged.map((m) => m.span.to ?? null)],
  );
}

async function addMembers(client: PoolClient, ops: ViewOp[]): Promise<void> {
  const earliest = new Map<string, [string, string, number]>();
  const assigned = new Map<string, [string, string, number]>();
  for (const op of ops) {
    if (op.op !== 'member') continue;
    const id = `${op.set}\u0000${op.member}`;
    if (op.keep === 'assign') assigned.set(id, [op.set, op.member, op.score]);
    else if (!earliest.has(id) || op.score < earliest.get(id)![2]) earliest.set(id, [op.set, op.member, op.score]);
  }
  for (const [group, conflict] of [
    [earliest, 'DO UPDATE SET score = EXCLUDED.score WHERE EXCLUDED.score < members.score'],
    [assigned, 'DO UPDATE SET score = EXCLUDED.score WHERE EXCLUDED.score <> members.score'],
  ] as const) {
    if (group.size === 0) continue;
    const rows = [...group.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([, row]) => row);
    await client.query(
      `INSERT INTO members (set, member, score) SELECT * FROM unnest($1::text[], $2::text[], $3::float8[]) ON CONFLICT (set, member) ${conflict}`,
      [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
    );
  }
}
