import { createHash } from 'node:crypto';

import { isDomainTopic, parseEvent, type AnyEnvelope } from '@rotor/contracts';

/** What one audit record says about its event, and the keys the query views index it by. */
export interface AuditEntry {
  eventId: string;
  eventType: string;
  known: boolean;
  /** The envelope as recorded: validated (unknown fields dropped), or metadata and a digest for unknown types. */
  event: Record<string, unknown>;
  occurredAt: Date;
  index: { leases: string[]; workloads: string[]; secrets: string[] };
}

/**
 * Known events are re-validated against their contract, which drops any field the contract
 * does not define, so a value smuggled into an event never reaches the audit log. Unknown
 * types are recorded as such, with a digest of their data instead of the data.
 */
export function auditEntryOf(envelope: AnyEnvelope): AuditEntry {
  const known = isDomainTopic(envelope.type);
  const event: Record<string, unknown> = known
    ? { ...parseEvent(envelope.type as Parameters<typeof parseEvent>[0], envelope) }
    : {
        specversion: envelope.specversion,
        id: envelope.id,
        source: envelope.source,
        type: envelope.type,
        time: envelope.time,
        subject: envelope.subject,
        dataSha256: createHash('sha256').update(JSON.stringify(envelope.data ?? null)).digest('hex'),
      };
  return {
    eventId: envelope.id,
    eventType: envelope.type,
    known,
    event,
    occurredAt: new Date(envelope.time),
    index: known ? indexKeysOf(event['data']) : { leases: [], workloads: [], secrets: [] },
  };
}

const asRecord = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});

function indexKeysOf(data: unknown) {
  const d = asRecord(data);
  const leases = new Set<string>();
  const workloads = new Set<string>();
  const secrets = new Set<string>();
  const addWorkload = (value: unknown) => {
    const w = asRecord(value);
    if (typeof w['namespace'] === 'string' && typeof w['serviceAccount'] === 'string') workloads.add(`${w['namespace']}/${w['serviceAccount']}`);
  };
  if (typeof d['leaseId'] === 'string') leases.add(d['leaseId']);
  const subject = asRecord(d['subject']);
  if (typeof subject['leaseId'] === 'string') leases.add(subject['leaseId']);
  if (typeof subject['secret'] === 'string') secrets.add(subject['secret']);
  if (typeof d['secret'] === 'string') secrets.add(d['secret']);
  if (Array.isArray(d['secrets'])) d['secrets'].filter((s): s is string => typeof s === 'string').forEach((s) => secrets.add(s));
  addWorkload(d['workload']);
  addWorkload(asRecord(d['actor'])['workload']);
  addWorkload(asRecord(d['requestedBy'])['workload']);
  return { leases: [...leases], workloads: [...workloads], secrets: [...secrets] };
}
