import { UsageError } from '../exit-codes';
import { eventIndexKeys, identifierKey, pseudonym } from '@rotor/audit-chain';
import type { AuditRecord } from '@rotor/contracts';

export type RecordFilter = (record: AuditRecord) => boolean;

const FIELDS = ['type', 'lease', 'secret', 'workload', 'actor', 'chain', 'event'] as const;

/**
 * `--filter field=value`, repeatable, all must match: type (event type), lease, secret,
 * workload (ns/sa), actor (an operator subject, matched by its keyed hash), chain, event (id).
 */
export function parseFilters(specs: string[], auditKey: string | undefined): RecordFilter {
  const checks = specs.map((spec): RecordFilter => {
    const eq = spec.indexOf('=');
    const field = spec.slice(0, eq) as (typeof FIELDS)[number];
    const value = spec.slice(eq + 1);
    if (eq < 1 || !FIELDS.includes(field) || !value)
      throw new UsageError(`--filter ${spec}: expected one of ${FIELDS.map((f) => `${f}=…`).join(', ')}`);
    switch (field) {
      case 'type':
        return (record) => record.eventType === value;
      case 'chain':
        return (record) => record.chain === value;
      case 'event':
        return (record) => record.eventId === value;
      case 'lease':
        return (record) => eventIndexKeys(record).leases.includes(value);
      case 'secret':
        return (record) => eventIndexKeys(record).secrets.includes(value);
      case 'workload':
        return (record) => eventIndexKeys(record).workloads.includes(value);
      case 'actor': {
        if (!auditKey) throw new UsageError('--filter actor=… needs ROTOR_AUDIT_KEY: operator subjects are recorded as keyed hashes');
        const hashed = pseudonym(identifierKey(auditKey), value);
        return (record) => eventIndexKeys(record).actors.includes(hashed);
      }
    }
  });
  return (record) => checks.every((check) => check(record));
}
