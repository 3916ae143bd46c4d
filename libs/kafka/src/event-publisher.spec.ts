import type { Kafka, Producer } from 'kafkajs';

import { EventPublisher, PublishTimeoutError } from './event-publisher';

type SendBatch = Producer['sendBatch'];
type Request = Parameters<SendBatch>[0];

/** A kafkajs producer double that records every request and how many were in flight at once. */
function fakeKafka() {
  const requests: Request[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const producer = {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    sendBatch: (request: Request) => {
      requests.push(request);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      return new Promise<[]>((resolve, reject) =>
        pending.push({ resolve: () => (inFlight--, resolve([])), reject: (error) => (inFlight--, reject(error)) }),
      );
    },
  };
  const kafka = { producer: () => producer } as unknown as Kafka;
  const settle = async (how: 'resolve' | 'reject' = 'resolve', error = new Error('broker went away')) => {
    const next = pending.shift();
    if (!next) throw new Error('no request in flight');
    if (how === 'resolve') next.resolve();
    else next.reject(error);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { kafka, requests, settle, mostInFlight: () => mostInFlight };
}

const message = (n: number, topic = 'rotor.t') => ({ topic, key: `k${n % 3}`, value: `v${n}` });
const values = (request: Request) =>
  request.topicMessages!.flatMap(({ topic, messages }) => messages.map((m) => `${topic}:${String(m.value)}`));

describe('EventPublisher', () => {
  it('has one request in flight; what arrives meanwhile goes together in the next one, in order', async () => {
    const fake = fakeKafka();
    const publisher = new EventPublisher(fake.kafka);
    const first = publisher.send([message(0)]);
    const rest = Array.from({ length: 5 }, (_unused, i) => publisher.send([message(i + 1), message(i + 1, 'rotor.u')]));
    expect(fake.requests).toHaveLength(1);
    await fake.settle();
    await first;
    expect(fake.requests).toHaveLength(2);
    expect(values(fake.requests[1]!)).toEqual([
      ...[1, 2, 3, 4, 5].map((n) => `rotor.t:v${n}`),
      ...[1, 2, 3, 4, 5].map((n) => `rotor.u:v${n}`),
    ]);
    await fake.settle();
    await Promise.all(rest);
    expect(fake.mostInFlight()).toBe(1);
  });

  it('rejects every caller of a failed request, and only them', async () => {
    const fake = fakeKafka();
    const publisher = new EventPublisher(fake.kafka);
    const first = publisher.send([message(0)]);
    const second = publisher.send([message(1)]);
    const third = publisher.send([message(2)]);
    await fake.settle('reject');
    await expect(first).rejects.toThrow('broker went away');
    await fake.settle('resolve');
    await expect(Promise.all([second, third])).resolves.toBeDefined();
  });

  it('sends the whole request again after a failure a retry can mend (kafkajs re-sends only to brokers that did not answer)', async () => {
    const fake = fakeKafka();
    const publisher = new EventPublisher(fake.kafka);
    const sent = publisher.send([message(0), message(1, 'rotor.u')]);
    const next = fake.requests.length;
    const retriable = Object.assign(new Error('This server is not the leader for that topic-partition'), { retriable: true });
    await fake.settle('reject', retriable);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the first pause is 200 ms
    expect(fake.requests.length).toBe(next + 1);
    expect(values(fake.requests[1]!)).toEqual(values(fake.requests[0]!));
    await fake.settle();
    await sent;
  });

  it('a publish that times out while still queued is never sent', async () => {
    jest.useFakeTimers();
    try {
      const fake = fakeKafka();
      const publisher = new EventPublisher(fake.kafka);
      const blocking = publisher.send([message(0)]);
      const event = { id: 'e1', type: 'rotor.lease.issued.v1', subject: 'lease-1' } as never;
      const late = publisher.publishAll([event], { timeoutMs: 1_500 });
      jest.advanceTimersByTime(1_500);
      await expect(late).rejects.toBeInstanceOf(PublishTimeoutError);
      jest.useRealTimers();
      await fake.settle();
      await blocking;
      expect(fake.requests).toHaveLength(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('keeps a request under 512 KiB of values: a large backlog goes in several', async () => {
    const fake = fakeKafka();
    const publisher = new EventPublisher(fake.kafka);
    const big = (n: number) => ({ topic: 'rotor.audit', key: 'c', value: 'x'.repeat(200 * 1024) + n });
    const sends = [0, 1, 2, 3, 4].map((n) => publisher.send([big(n)]));
    await fake.settle(); // the first, alone
    await fake.settle(); // two of 200 KiB fit, a third would not
    await fake.settle();
    await Promise.all(sends);
    expect(fake.requests.map((request) => request.topicMessages![0]!.messages.length)).toEqual([1, 2, 2]);
  });
});
