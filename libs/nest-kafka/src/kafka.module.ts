import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Kafka } from 'kafkajs';

import { ALL_TOPICS, KAFKA_ACCESS, KAFKA_PRINCIPALS, topicMatches, topicsOf, type KafkaPrincipal } from '@rotor/contracts';
import {
  ConsumerRunner,
  createKafka,
  DEFAULT_RETENTION_MS,
  ensureTopics,
  EventPublisher,
  topicRetentionProblems,
  type ConsumerRunnerOptions,
  type KafkaSettings,
} from '@rotor/kafka';
import { LOGGER, ReadinessRegistry } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

export const KAFKA = Symbol('rotor.kafka');
const KAFKA_SETTINGS = Symbol('rotor.kafka-settings');

/**
 * Owns the service's Kafka lifecycle: topics exist before anything runs, consumers start
 * once every subscription is registered, and on shutdown consumers finish their in-flight
 * messages before the producer closes.
 */
@Injectable()
export class KafkaLifecycle implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runners: ConsumerRunner[] = [];

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(KAFKA_SETTINGS) private readonly settings: KafkaSettings,
    private readonly publisher: EventPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: Metrics,
    readiness: ReadinessRegistry,
  ) {
    readiness.register({ name: 'kafka', check: () => this.check() });
  }

  /** A consumer group for this service; add subscriptions before the application bootstraps. */
  consumer(options: ConsumerRunnerOptions): ConsumerRunner {
    const sessionTimeoutMs = this.settings.sessionTimeoutMs ?? options.sessionTimeoutMs;
    const runner = new ConsumerRunner(
      this.kafka,
      this.publisher,
      this.logger.child({ consumerGroup: options.groupId }),
      this.metrics,
      sessionTimeoutMs ? { ...options, sessionTimeoutMs } : options,
    );
    this.runners.push(runner);
    return runner;
  }

  async onModuleInit(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // Only its own topics: under the broker's ACLs a service cannot see, let alone create, the others.
      const service = this.settings.service as KafkaPrincipal | undefined;
      const topics = service && KAFKA_PRINCIPALS.includes(service) ? topicsOf(service) : ALL_TOPICS;
      const created = await ensureTopics(admin, topics, this.settings);
      if (created.length) this.logger.info({ topics: created }, 'created topics');
      const writes = service && KAFKA_PRINCIPALS.includes(service) ? KAFKA_ACCESS[service].writes : undefined;
      await this.checkRetention(admin, writes ? topics.filter((topic) => writes.some((pattern) => topicMatches(pattern, topic))) : topics);
    } finally {
      await admin.disconnect();
    }
    await this.publisher.connect();
  }

  /**
   * Says so, naming the setting, when a topic this service writes would delete records too soon
   * (kafka-setup raises it). A warning, not a refusal: only the audit log's retention stops a
   * service (the auditor's own check), and a service that cannot describe its topics still runs.
   */
  private async checkRetention(admin: ReturnType<Kafka['admin']>, topics: readonly string[]): Promise<void> {
    try {
      const problems = await topicRetentionProblems(admin, topics, { retentionMs: this.settings.retentionMs ?? DEFAULT_RETENTION_MS });
      for (const problem of problems) this.logger.warn({ problem }, 'topic retention is below what rotor needs: run kafka-setup');
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'could not check the retention of its topics');
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.start()));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.runners.map((runner) => runner.stop()));
    await this.publisher.disconnect();
  }

  private async check(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
    const stopped = this.runners.filter((runner) => !runner.isRunning);
    if (stopped.length) throw new Error(`${stopped.length} consumer(s) not running`);
  }
}

@Global()
@Module({})
export class KafkaModule {
  static forRoot(settings: KafkaSettings): DynamicModule {
    return {
      module: KafkaModule,
      providers: [
        { provide: KAFKA_SETTINGS, useValue: settings },
        {
          provide: KAFKA,
          inject: [LOGGER],
          useFactory: (logger: Logger) => createKafka(settings, logger),
        },
        {
          provide: EventPublisher,
          inject: [KAFKA, Metrics],
          useFactory: (kafka: Kafka, metrics: Metrics) => {
            const refused = metrics.counter(
              'rotor_kafka_authorization_failures_total',
              'Sends the broker refused for lack of an ACL (TOPIC_AUTHORIZATION_FAILED), by topic',
              ['topic'],
            );
            return new EventPublisher(kafka, (topic) => refused.inc({ topic }));
          },
        },
        KafkaLifecycle,
      ],
      exports: [KAFKA, EventPublisher, KafkaLifecycle],
    };
  }
}
