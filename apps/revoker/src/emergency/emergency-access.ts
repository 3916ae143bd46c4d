import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller, type OperatorCaller } from '@rotor/identity';
import { EmergencyIdSchema, IdempotencyKeySchema, RunListQuerySchema, type RunListQuery } from '@rotor/rest-contract';

/**
 * The checks both emergency routes share (emergency rotations, lease revocations): who may
 * start and read runs, and the shape of ids, request ids and list queries. `what` names the
 * kind of run in the problem's detail.
 */
export const sreOnly = (caller: Caller, what: string): OperatorCaller => {
  if (caller.kind !== 'operator' || !hasGroup(caller, OperatorGroups.sre)) {
    throw new DomainError('forbidden', 'missing-group', `${what} needs the rotor:sre group`);
  }
  return caller;
};

export const sreOrAuditor = (caller: Caller, what: string): void => {
  if (!hasGroup(caller, OperatorGroups.sre) && !hasGroup(caller, OperatorGroups.auditor)) {
    throw new DomainError('forbidden', 'missing-group', `reading ${what} needs the rotor:sre or rotor:auditor group`);
  }
};

export const runId = (id: string, code: string, what: string): string => {
  if (!EmergencyIdSchema.safeParse(id).success) throw new DomainError('invalid', code, `id: must be ${what} id (UUID)`, { field: 'id' });
  return id;
};

export const idempotencyKeyOf = (header: string | undefined): string | undefined => {
  if (header !== undefined && !IdempotencyKeySchema.safeParse(header).success) {
    throw new DomainError(
      'invalid',
      'invalid-idempotency-key',
      'Idempotency-Key: must be 1-128 printable ASCII characters without spaces',
      {
        field: 'Idempotency-Key',
      },
    );
  }
  return header;
};

export const runListQuery = (query: unknown): RunListQuery => {
  const parsed = RunListQuerySchema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(',') : 'query');
  throw new DomainError('invalid', 'invalid-query', `${at}: ${issue?.message}`, { field: at });
};
