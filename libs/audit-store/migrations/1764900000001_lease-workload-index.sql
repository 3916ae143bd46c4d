-- Up Migration
-- A workload's leases at a time read only the leases that had not ended by then, not the
-- workload's whole history (bench:audit-views: 2,150 ids read for 0-1 live leases at 1M records).
ALTER TABLE entities ADD COLUMN workload text
  GENERATED ALWAYS AS (CASE WHEN kind = 'lease' THEN (fields->>'namespace') || '/' || (fields->>'serviceAccount') END) STORED;
CREATE INDEX entities_lease_workload ON entities (workload, live_to) WHERE kind = 'lease';

-- Down Migration
DROP INDEX entities_lease_workload;
ALTER TABLE entities DROP COLUMN workload;
