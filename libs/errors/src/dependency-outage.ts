import { DomainError } from './domain-error';

/**
 * Errors of a Redis, Kafka, PostgreSQL or gRPC client that mean "this dependency is down or
 * failing over for now", not "this request or message is bad". A REST route answers them with
 * 503 and Retry-After; a Kafka consumer retries the message until the dependency is back and
 * never dead-letters it (a lease.issued parked on the DLQ during a Redis failover would never
 * be revoked: found by the chaos run, issue 15).
 *
 * Told by error names, codes and the fixed messages the clients use, so that this library needs
 * none of the clients.
 */
const OUTAGE_NAMES = new Set([
  'MaxRetriesPerRequestError', // ioredis: the command's retries ran out while disconnected
  'ClusterAllFailedError', // ioredis Cluster: no node answered the slots refresh
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
]);
const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'publish-timeout',
  // PostgreSQL SQLSTATEs: shutting down or starting (57P01-57P03), no room (53100 disk full,
  // 53200 out of memory, 53300 too many connections), a statement over its bound (57014), a
  // lost connection (08xxx, below), a standby that cannot take writes during a failover (25006).
  '57P01',
  '57P02',
  '57P03',
  '53100',
  '53200',
  '53300',
  '57014',
  '25006',
]);
const OUTAGE_MESSAGES = [
  /^Connection is closed\.?$/,
  /^Stream isn't writeable/,
  /^Command timed out$/,
  // Redis Cluster during a failover: the slot's master is gone and no replica has taken over yet.
  /Too many Cluster redirections/,
  /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY)\b/,
  // A Redis at maxmemory refuses writes (noeviction): the store is full, the message is fine.
  /^OOM command not allowed\b/,
  // A slot that moved (a failover) while a MULTI was queued: the transaction is refused, not run.
  /^(MOVED|ASK) \d+ /,
  /Failed to refresh slots cache|None of startup nodes is available/,
  // node-postgres: the server went away or did not answer within the query bound.
  /^Connection terminated|timeout exceeded when trying to connect|^Query read timeout$/,
  // gRPC (GSM): status 14 UNAVAILABLE and 4 DEADLINE_EXCEEDED.
  /^(14 UNAVAILABLE|4 DEADLINE_EXCEEDED):/,
];

export function isDependencyOutage(error: unknown): error is Error {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    // rotor's own word for it: a store or backend that could not answer (GSM down, a quota, a
    // Redis ACL command that failed); a REST route answers it 503. The chaos run saw an emergency
    // rotation's request dead-lettered by "GSM call failed (gRPC code 14)", and the rotation never end.
    // A backend this service was not configured with is configuration, not an outage: no retry mends it.
    if (current instanceof DomainError) return current.kind === 'unavailable' && current.code !== 'backend-not-configured';
    const { name, message } = current;
    // A Redis transaction refused for its queued commands' errors: an outage if one of those was.
    const previous = (current as { previousErrors?: unknown[] }).previousErrors;
    if (/^EXECABORT\b/.test(message) && Array.isArray(previous)) return previous.some((queued) => isDependencyOutage(queued));
    const code = String((current as { code?: unknown }).code);
    if (
      OUTAGE_NAMES.has(name) ||
      OUTAGE_CODES.has(code) ||
      /^08[0-9A-Z]{3}$/.test(code) ||
      OUTAGE_MESSAGES.some((pattern) => pattern.test(message))
    )
      return true;
    // ioredis Cluster and kafkajs keep the underlying failure as `lastNodeError` / `cause` / `originalError`.
    const wrapped = current as { cause?: unknown; originalError?: unknown; lastNodeError?: unknown };
    current = wrapped.lastNodeError ?? wrapped.cause ?? wrapped.originalError;
  }
  return false;
}
