import { isDependencyOutage } from './dependency-outage';
import { DomainError } from './domain-error';

const named = (name: string, message = 'x') => Object.assign(new Error(message), { name });
const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDependencyOutage', () => {
  it.each([
    ['a Redis Cluster failover', new Error('Too many Cluster redirections. Last error: Error: Connection is closed.')],
    ['a demoted master', new Error("READONLY You can't write against a read only replica.")],
    ['a cluster without a master for a slot', new Error('CLUSTERDOWN The cluster is down')],
    ['an ioredis command past its timeout', new Error('Command timed out')],
    ['ioredis out of retries', named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 2).')],
    ['a refused connection', coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6379')],
    ['a bounded produce', coded('publish-timeout', 'Kafka did not acknowledge within 1500 ms')],
    ['kafkajs giving up', named('KafkaJSNumberOfRetriesExceeded')],
    ['PostgreSQL going away', new Error('Connection terminated unexpectedly')],
    ['PostgreSQL shutting down', coded('57P01', 'terminating connection due to administrator command')],
    ['PostgreSQL starting up', coded('57P03', 'the database system is starting up')],
    ['a full PostgreSQL disk', coded('53100', 'could not extend file')],
    ['a PostgreSQL statement over its bound', coded('57014', 'canceling statement due to statement timeout')],
    ['a PostgreSQL connection failure', coded('08006', 'connection failure')],
    ['GSM unavailable', new Error('14 UNAVAILABLE: No connection established')],
    ['an outage wrapped as a cause', new Error('track failed', { cause: coded('ECONNRESET') })],
    ['a slot moved under a queued transaction', new Error('MOVED 9816 127.0.0.1:7102')],
    [
      'a transaction refused because a queued command met a failover',
      Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
        previousErrors: [new Error('MOVED 10877 127.0.0.1:7102')],
      }),
    ],
    ['a Redis at maxmemory', new Error("OOM command not allowed when used memory > 'maxmemory'.")],
    [
      'a transaction refused because Redis is full',
      Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
        previousErrors: [new Error("OOM command not allowed when used memory > 'maxmemory'.")],
      }),
    ],
    ['a store that could not answer', new DomainError('unavailable', 'gsm-unavailable', 'GSM call failed (gRPC code 14)')],
  ])('counts %s as an outage', (_what, error) => {
    expect(isDependencyOutage(error)).toBe(true);
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'leaseId')")],
    ['a refused reference', new Error('lease.renewed describes another lease')],
    ['a permission problem', new Error('NOPERM this user has no permissions to run the command')],
    ['GSM saying no', new Error('9 FAILED_PRECONDITION: Secret Version is in DISABLED state.')],
    ['a PostgreSQL constraint', coded('23505', 'duplicate key value violates unique constraint')],
    ['a PostgreSQL permission problem', coded('42501', 'permission denied for table records')],
    ['not an error', 'Connection is closed.'],
    [
      'a transaction refused for a bad command',
      Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), {
        previousErrors: [new Error("ERR wrong number of arguments for 'hset' command")],
      }),
    ],
    ['a refusal', new DomainError('invalid', 'bad-acl-rule', 'the role has an ACL rule rotor does not accept')],
    [
      'a backend missing from the configuration',
      new DomainError('unavailable', 'backend-not-configured', 'the postgres backend is not configured here'),
    ],
  ])('does not count %s', (_what, error) => {
    expect(isDependencyOutage(error)).toBe(false);
  });
});
