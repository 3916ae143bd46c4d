import type { Consumer } from 'kafkajs';

import type { Metrics } from '@rotor/telemetry';

type Labels = { group: string; topic: string; partition: string };

/**
 * rotor_kafka_consumer_lag_messages{group,topic,partition}: messages of a partition this member
 * has not finished, from kafkajs' batch events. At a batch's start everything from its first
 * offset to the high watermark is behind; at its end what came after it (0 when caught up).
 * A partition with nothing to fetch has no batches, so its last value stands: 0 once drained.
 * A partition handed to another member in a rebalance loses its series here (the new owner
 * reports it), and a stopped consumer loses all of its own.
 */
export class ConsumerLag {
  private readonly gauge;
  /** `topic:partition` → labels of the series this member exports. */
  private readonly series = new Map<string, Labels>();

  constructor(
    consumer: Consumer,
    metrics: Metrics,
    private readonly group: string,
  ) {
    this.gauge = metrics.gauge(
      'rotor_kafka_consumer_lag_messages',
      'Messages of a partition not yet handled by this consumer group member (high watermark minus its position)',
      ['group', 'topic', 'partition'],
    );
    consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) =>
      this.set(payload.topic, payload.partition, BigInt(payload.highWatermark) - BigInt(payload.firstOffset)),
    );
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => this.set(payload.topic, payload.partition, BigInt(payload.offsetLag)));
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => this.keepOnly(payload.memberAssignment));
  }

  /** Drops every series of this member (it left the group). */
  clear(): void {
    for (const labels of this.series.values()) this.gauge.remove(labels);
    this.series.clear();
  }

  private set(topic: string, partition: number, lag: bigint): void {
    const labels = { group: this.group, topic, partition: String(partition) };
    this.series.set(`${topic}:${partition}`, labels);
    this.gauge.set(labels, Number(lag > 0n ? lag : 0n));
  }

  private keepOnly(assignment: Record<string, number[]>): void {
    for (const [key, labels] of this.series) {
      if (assignment[labels.topic]?.includes(Number(labels.partition))) continue;
      this.gauge.remove(labels);
      this.series.delete(key);
    }
  }
}
