import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { EventPublisher, type OutgoingMessage } from '@rotor/kafka';
import { KAFKA } from '@rotor/nest-kafka';

/** About as many as partitions appended at once (4 per group member). */
const PRODUCERS = 8;

/**
 * Idempotent, all-replica-acked producers for the audit log. An idempotent kafkajs producer
 * has one request in flight, so one producer serializes every append of every chain; a
 * small pool lets chains append in parallel. A chain always uses the same producer, and its
 * appends are sequential anyway (each waits for its ack), so its order is kept.
 */
@Injectable()
export class AuditLogProducer implements OnModuleInit, OnApplicationShutdown {
  private readonly producers: EventPublisher[];

  constructor(@Inject(KAFKA) kafka: Kafka) {
    this.producers = Array.from({ length: PRODUCERS }, () => new EventPublisher(kafka));
  }

  async onModuleInit(): Promise<void> {
    await Promise.all(this.producers.map((producer) => producer.connect()));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.producers.map((producer) => producer.disconnect()));
  }

  /** Sends one chain's records, in order, in one request (the caller keeps it under the broker's size limit). */
  send(chain: string, messages: OutgoingMessage[]): Promise<void> {
    return this.producers[chainSlot(chain)]!.send(messages);
  }

  /** One checkpoint's copies, one per partition, in one request. */
  sendCheckpoint(copies: OutgoingMessage[]): Promise<void> {
    return this.producers[0]!.send(copies);
  }
}

const chainSlot = (chain: string): number => {
  let hash = 0;
  for (let i = 0; i < chain.length; i++) hash = (hash * 31 + chain.charCodeAt(i)) >>> 0;
  return hash % PRODUCERS;
};
