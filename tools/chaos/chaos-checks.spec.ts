import { Topics } from '@rotor/contracts';

import { CanarySearch, leaseFacts, type TopicMessage } from './evidence';
import type { FaultWindow } from './faults';
import {
  deadLettersInjected,
  httpDuringOutages,
  oneAuditRecordEach,
  oneRevocationEach,
  revocationDeadline,
  type RunEvidence,
} from './invariants';
import type { IssuedLease, RequestRecord } from './load';
import { Random } from './random';

const message = (topic: string, value: unknown, partition = 0): TopicMessage => ({
  topic,
  partition,
  value: JSON.stringify(value),
  headers: '',
});
const issued = (leaseId: string, expiresAt = '2026-12-04T10:00:00.000Z') =>
  message(Topics.leaseIssued, {
    id: `issued-${leaseId}`,
    type: Topics.leaseIssued,
    time: '2026-12-04T09:59:45.000Z',
    data: { leaseId, backend: 'opaque-token', workload: { namespace: 'chaos-steady' }, expiresAt },
  });
const revoked = (leaseId: string, id: string, reason = 'expired') =>
  message(Topics.leaseRevoked, {
    id,
    type: Topics.leaseRevoked,
    time: '2026-12-04T10:00:01.000Z',
    data: { leaseId, reason, revokedAt: '2026-12-04T10:00:01.000Z' },
  });
const lease = (leaseId: string): IssuedLease => ({
  leaseId,
  backend: 'opaque-token',
  namespace: 'chaos-steady',
  serviceAccount: 'app-0',
  issuedAt: 0,
  expiresAt: 0,
  secrets: [],
});
const evidence = (over: Partial<RunEvidence>): RunEvidence => ({
  stack: undefined as never,
  messages: [],
  leases: new Map(),
  requests: [],
  windows: [],
  injected: [],
  outages: [],
  baseline: { start: 0, end: 0 },
  emergency: { id: 'e', state: 'completed', detail: '' },
  ...over,
});

describe('the chaos run checks', () => {
  it('Random: the same seed gives the same sequence, another seed another', () => {
    const draw = (seed: number) =>
      Array.from(
        { length: 5 },
        (
          (random) => () =>
            random.int(1000)
        )(new Random(seed)),
      );
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(new Random(1).shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('CanarySearch finds a value inside longer text, JSON and base64-ish runs, and nothing else', () => {
    const token = 'Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbi0xMjM0NTY3';
    const search = new CanarySearch([token, 'p4ssw0rd-value-xyz']);
    expect(search.find(`{"token":"${token}"}`)).toEqual(new Set([token]));
    expect(search.find(`prefix${token}suffix`)).toEqual(new Set([token]));
    expect(search.find('p4ssw0rd-value-xy and Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbi0xMjM0NTY')).toEqual(new Set());
  });

  it('leaseFacts keeps the latest expiry and each distinct revocation id once', () => {
    const facts = leaseFacts([issued('a'), revoked('a', 'r1'), revoked('a', 'r1'), revoked('a', 'r2')]);
    expect(facts.get('a')?.revoked.map((revocation) => revocation.id)).toEqual(['r1', 'r2']);
  });

  it('one revocation per lease: a second lease.revoked id, or a 201 never on lease.issued, breaks it', () => {
    const ok = oneRevocationEach(
      evidence({ messages: [issued('a'), revoked('a', 'r1'), revoked('a', 'r1')], leases: new Map([['a', lease('a')]]) }),
    );
    expect(ok.ok).toBe(true);
    const doubled = oneRevocationEach(evidence({ messages: [issued('a'), revoked('a', 'r1'), revoked('a', 'r2')] }));
    expect(doubled.ok).toBe(false);
    const lost = oneRevocationEach(evidence({ messages: [], leases: new Map([['b', lease('b')]]) }));
    expect(lost).toMatchObject({ ok: false, examples: ['b (opaque-token) lost'] });
  });

  it('one audit record per domain event: a missing or a second, different record breaks it; a re-appended copy does not', () => {
    const event = issued('a');
    const record = (hash: string) => message(Topics.auditLog, { eventId: 'issued-a', hash, seq: 1 });
    expect(oneAuditRecordEach(evidence({ messages: [event, record('h1'), record('h1')] })).ok).toBe(true);
    expect(oneAuditRecordEach(evidence({ messages: [event] })).ok).toBe(false);
    expect(oneAuditRecordEach(evidence({ messages: [event, record('h1'), record('h2')] })).ok).toBe(false);
    const checkpoint = (partition: number) => message(Topics.auditLog, { kind: 'checkpoint', number: 3 }, partition);
    const twoPartitions = [event, record('h1'), message(Topics.auditLog, { eventId: 'x', hash: 'h', seq: 0 }, 1)];
    expect(oneAuditRecordEach(evidence({ messages: [...twoPartitions, checkpoint(0), checkpoint(1)] })).ok).toBe(true);
    expect(oneAuditRecordEach(evidence({ messages: [...twoPartitions, checkpoint(0)] })).ok).toBe(false);
  });

  it('dead letters must all be injected ones', () => {
    const letter = (value: string) =>
      message(Topics.deadLetter, {
        sourceTopic: Topics.leaseIssued,
        consumerGroup: 'g',
        reason: 'r',
        value: Buffer.from(value).toString('base64'),
      });
    expect(deadLettersInjected(evidence({ messages: [letter('{not json chaos-malformed-1')] })).ok).toBe(true);
    expect(deadLettersInjected(evidence({ messages: [letter('{"a real":"event"}')] })).ok).toBe(false);
  });

  it('HTTP: a slow 503, a 500, a timeout, or a credential minted during an outage each break it', () => {
    const request = (over: Partial<RequestRecord>): RequestRecord => ({
      action: 'issue',
      backend: 'opaque-token',
      startedAt: 10_000,
      durationMs: 50,
      status: 201,
      ...over,
    });
    const judge = (requests: RequestRecord[], outages: RunEvidence['outages'] = []) =>
      httpDuringOutages(evidence({ requests, outages })).ok;
    expect(judge([request({}), request({ status: 503, retryAfter: '5', durationMs: 400 })])).toBe(true);
    expect(judge([request({ status: 503, retryAfter: '5', durationMs: 2_500 })])).toBe(false);
    expect(judge([request({ status: 503, durationMs: 100 })])).toBe(false);
    expect(judge([request({ status: 500, retryAfter: '5' })])).toBe(false);
    expect(judge([request({ status: 0, problem: 'no answer within 10000 ms' })])).toBe(false);
    // No answer because the issuer was SIGKILLed: refused while it was down, or in flight when it died; not before.
    const killed = { kind: 'kill-replica' as const, target: 'issuer-1', start: 11_500, end: 40_000 };
    const judgeKilled = (over: Partial<RequestRecord>) =>
      httpDuringOutages(evidence({ requests: [request({ status: 0, problem: 'fetch failed', ...over })], windows: [killed] })).ok;
    expect(judgeKilled({ startedAt: 20_000, durationMs: 3 })).toBe(true);
    expect(judgeKilled({ startedAt: 10_000, durationMs: 1_600 })).toBe(true);
    expect(judgeKilled({ startedAt: 9_000, durationMs: 200 })).toBe(false);
    expect(judgeKilled({ startedAt: 41_000, durationMs: 5 })).toBe(false);
    expect(judge([request({})], [{ dependency: 'kafka', start: 9_000, end: 11_000 }])).toBe(false);
    // PostgreSQL down does not concern an opaque token.
    expect(judge([request({})], [{ dependency: 'postgres', start: 9_000, end: 11_000 }])).toBe(true);
  });
});

describe('revocationDeadline', () => {
  const fault = (kind: FaultWindow['kind'], target: string, start: number, end: number): FaultWindow => ({ kind, target, start, end });

  it('is the margin after expiry with no fault about', () => {
    expect(revocationDeadline(100_000, [fault('pause-gsm', 'gsm', 0, 50_000)], 5_000)).toEqual({ deadline: 105_000 });
  });

  it('follows faults that chain: a Kafka election, then the revoker holding the claim killed (its claims wait 30 s)', () => {
    const election = fault('kill-kafka-controller', 'kafka node 1', 95_000, 110_000);
    const killed = fault('kill-replica', 'revoker-1', 108_000, 120_000);
    const { deadline, window } = revocationDeadline(100_000, [election, killed], 5_000);
    expect(deadline).toBe(108_000 + 30_000 + 5_000);
    expect(window).toBe(killed);
  });

  it('ignores a fault that started after the deadline', () => {
    expect(revocationDeadline(100_000, [fault('pause-postgres', 'postgresql', 106_000, 126_000)], 5_000)).toEqual({ deadline: 105_000 });
  });
});
