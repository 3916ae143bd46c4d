import { createHmac } from 'node:crypto';

import { pseudonymize } from '@rotor/audit-chain';
import { isDomainTopic, parseEvent, type AnyEnvelope } from '@rotor/contracts';

/** What one audit record says about its event. */
export interface AuditEntry {
  eventId: string;
  eventType: string;
  known: boolean;
  /** The envelope as recorded: validated (unknown fields dropped), or metadata and a digest for unknown types. */
  event: Record<string, unknown>;
  occurredAt: Date;
}

/**
 * Known events are re-validated against their contract, which drops any field the contract
 * does not define, so a value smuggled into an event never reaches the audit log; sensitive
 * identifiers (pod names and uids, operator subjects) are replaced by keyed hashes. Unknown
 * types are recorded as such, with a keyed digest of their data instead of the data
 * (keyed, so a short value inside cannot be found by hashing guesses).
 */
export function auditEntryOf(envelope: AnyEnvelope, identifierKey: Buffer): AuditEntry {
  const known = isDomainTopic(envelope.type);
  const event: Record<string, unknown> = known
    ? pseudonymize({ ...parseEvent(envelope.type as Parameters<typeof parseEvent>[0], envelope) }, identifierKey)
    : {
        specversion: envelope.specversion,
        id: envelope.id,
        source: envelope.source,
        type: envelope.type,
        time: envelope.time,
        subject: envelope.subject,
        dataHmac: createHmac('sha256', identifierKey)
          .update(JSON.stringify(envelope.data ?? null))
          .digest('hex'),
      };
  return { eventId: envelope.id, eventType: envelope.type, known, event, occurredAt: new Date(envelope.time) };
}
