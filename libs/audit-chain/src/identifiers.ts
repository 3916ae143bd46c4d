import { createHmac } from 'node:crypto';

/**
 * Identifiers that could be sensitive are recorded as keyed hashes, never in clear:
 * pod names and pod uids (they name individual workloads and can carry customer or host
 * names) and operator subjects (people's e-mail addresses). Namespace, service account,
 * lease ids, secret names and locators stay readable: the inventory is about them.
 *
 * The key is derived from the audit key, so an identifier's pseudonym is stable within an
 * installation (queries work by hashing the value asked for) and differs from the chain HMAC.
 */
export const PSEUDONYM_PREFIX = 'hmac-sha256:';

export const identifierKey = (auditKey: string): Buffer => createHmac('sha256', auditKey).update('rotor-audit-identifiers-v1').digest();

export const pseudonym = (key: Buffer, value: string): string =>
  value.startsWith(PSEUDONYM_PREFIX) ? value : `${PSEUDONYM_PREFIX}${createHmac('sha256', key).update(value).digest('hex')}`;

const SENSITIVE_FIELDS = new Set(['podName', 'podUid']);

/** A copy of `value` with every sensitive identifier replaced by its pseudonym, at any depth. */
export function pseudonymize<T>(value: T, key: Buffer): T {
  if (Array.isArray(value)) return value.map((item: unknown) => pseudonymize(item, key)) as T;
  if (value === null || typeof value !== 'object') return value;
  const source = value as Record<string, unknown>;
  const isOperator = source['kind'] === 'operator';
  const copy: Record<string, unknown> = {};
  for (const [field, member] of Object.entries(source)) {
    const sensitive = SENSITIVE_FIELDS.has(field) || (isOperator && field === 'subject');
    copy[field] = sensitive && typeof member === 'string' ? pseudonym(key, member) : pseudonymize(member, key);
  }
  return copy as T;
}
