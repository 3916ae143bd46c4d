-- Up Migration
-- The auditor's state and views (libs/audit-store). Everything here is derived from the audit
-- topic, which is never deleted: `rotor audit replay --rebuild` builds it again into a fresh
-- schema. Created in the schema the migration runs in (search_path), never a fixed one.

-- Markers: 'initialized' (this schema holds the auditor's state; its absence with a non-empty
-- audit topic means it was lost), 'redis-layout-cleared' (the previous Redis layout is gone).
CREATE TABLE state (
  name text PRIMARY KEY,
  value text NOT NULL
);

-- One hash chain per source topic-partition. The head moves only after its records are in
-- Kafka; `pending_*` is the run reserved before the produce (fencing: see reserve_chain).
CREATE TABLE chains (
  chain text PRIMARY KEY,
  seq bigint,
  hash text,
  source_offset bigint,
  pending_first text,
  pending_hash text,
  pending_offset bigint
);

-- Claims the next seqs of a chain for a run of records before they are produced. Only a writer
-- that saw the current head may claim them, so a replica that lost its partition cannot fork
-- the chain; a run that starts with the same record as an unconfirmed one (the same messages
-- after a crash) may claim again. Returns 'ok', 'moved' or 'pending:<source offset>'.
CREATE FUNCTION reserve_chain(p_chain text, p_expected text, p_first text, p_last text, p_last_offset bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  head chains%ROWTYPE;
BEGIN
  INSERT INTO chains (chain) VALUES (p_chain) ON CONFLICT DO NOTHING;
  SELECT * INTO head FROM chains WHERE chain = p_chain FOR UPDATE;
  IF coalesce(head.hash, '') <> p_expected THEN RETURN 'moved'; END IF;
  IF head.pending_first IS NOT NULL AND head.pending_first <> p_first THEN
    RETURN 'pending:' || head.pending_offset;
  END IF;
  UPDATE chains SET pending_first = p_first, pending_hash = p_last, pending_offset = p_last_offset WHERE chain = p_chain;
  RETURN 'ok';
END $$;

-- Moves a chain head forward, never back: a late or repeated record cannot rewind it.
CREATE FUNCTION advance_chain(p_chain text, p_seq bigint, p_hash text, p_offset bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chains (chain) VALUES (p_chain) ON CONFLICT DO NOTHING;
  UPDATE chains SET seq = p_seq, hash = p_hash, source_offset = p_offset,
                    pending_first = NULL, pending_hash = NULL, pending_offset = NULL
   WHERE chain = p_chain AND (seq IS NULL OR seq < p_seq);
  IF NOT FOUND THEN
    UPDATE chains SET pending_first = NULL, pending_hash = NULL, pending_offset = NULL
     WHERE chain = p_chain AND pending_hash = p_hash;
  END IF;
END $$;

-- The last signed checkpoint and the records appended since; one row.
CREATE TABLE checkpoint_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  number bigint,
  issued_at text,
  appended bigint NOT NULL DEFAULT 0
);
INSERT INTO checkpoint_state DEFAULT VALUES;

-- Who signs checkpoints (one replica at a time), until the lease on it expires.
CREATE TABLE locks (
  name text PRIMARY KEY,
  token text NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Event ids already recorded, for a dedupe window (ROTOR_AUDIT_DEDUPE_DAYS); pruned by seen_at.
CREATE TABLE seen (
  event_id text PRIMARY KEY,
  chain text NOT NULL,
  seq bigint NOT NULL,
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seen_by_time ON seen (seen_at);

-- The audit records, by the time of their event; one partition per month (created as records
-- need them), so old months can be detached and archived.
CREATE TABLE records (
  at timestamptz NOT NULL,
  chain text NOT NULL,
  seq bigint NOT NULL,
  event_id text NOT NULL,
  event_type text NOT NULL,
  record json NOT NULL,
  PRIMARY KEY (chain, seq, at)
) PARTITION BY RANGE (at);
CREATE INDEX records_by_time ON records (at, chain, seq);
-- Only for a record of a month already detached (archived): it still lands, and is never lost.
CREATE TABLE records_late PARTITION OF records DEFAULT;

-- The timeline index: each record under the leases, workloads, secrets and operators it names.
CREATE TABLE record_keys (
  kind text NOT NULL,
  value text NOT NULL,
  at timestamptz NOT NULL,
  chain text NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (kind, value, at, chain, seq)
) PARTITION BY RANGE (at);
CREATE TABLE record_keys_late PARTITION OF record_keys DEFAULT;

-- Inventory and posture entities (leases, versions, copies, drift, break-glass uses): fields
-- merged by rule (libs/audit-chain view-ops.ts). live_from/live_to enclose the times the thing
-- existed, so "what existed at t" reads candidates from the index only.
CREATE TABLE entities (
  kind text NOT NULL,
  id text NOT NULL,
  fields jsonb NOT NULL DEFAULT '{}',
  live_from bigint,
  live_to bigint,
  PRIMARY KEY (kind, id)
);
CREATE INDEX entities_live ON entities USING gist (int8range(live_from, live_to)) WHERE kind IN ('lease', 'copy', 'version');

-- Sorted sets of the views (a workload's leases, a secret's copies, an owner's secrets, ...).
CREATE TABLE members (
  set text NOT NULL,
  member text COLLATE "C" NOT NULL,
  score double precision NOT NULL,
  PRIMARY KEY (set, member)
);
CREATE INDEX members_by_score ON members (set, score, member);

-- Down Migration
DROP TABLE members, entities, record_keys, records, seen, locks, checkpoint_state, chains, state;
DROP FUNCTION advance_chain(text, bigint, text, bigint);
DROP FUNCTION reserve_chain(text, text, text, text, bigint);
