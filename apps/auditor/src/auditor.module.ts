import { Module, type DynamicModule } from '@nestjs/common';

import { loadCatalog } from '@rotor/config';
import { TokenVerifier } from '@rotor/token-verification';
import { KafkaModule } from '@rotor/nest-kafka';
import { RedisModule } from '@rotor/nest-redis';
import { CallerGuard, ServiceKitModule, TOKEN_VERIFIER } from '@rotor/service-kit';
import type { Logger, Metrics } from '@rotor/telemetry';

import { AppendHealth } from './audit/append-health';
import { AuditAppender } from './audit/audit-appender.service';
import { AuditLagMetric } from './audit/audit-lag.metric';
import { AuditLogProducer } from './audit/audit-log-producer';
import { AuditKeysController } from './audit/audit-keys.controller';
import { AuditSigningKeys } from './audit/audit-signing-keys';
import { AuditStore } from './audit/audit.store';
import { ChainRepair } from './audit/chain-repair';
import { AuditController } from './audit/audit.controller';
import { ChainVerificationService } from './audit/chain-verification.service';
import { CheckpointArchive } from './audit/checkpoint-archive';
import { CheckpointStore } from './audit/checkpoint.store';
import { ViewKeysMigration } from './audit/view-keys.migration';
import { CheckpointService } from './audit/checkpoint.service';
import { DomainEventsConsumer } from './audit/domain-events.consumer';
import type { AuditorConfig } from './config';
import { InventoryStore } from './inventory/inventory.store';
import { InventoryController } from './inventory/inventory.controller';
import { InventoryService } from './inventory/inventory.service';
import { OwnerInventoryService } from './inventory/owner-inventory.service';
import { AUDITOR_CONFIG, CATALOG } from './platform/tokens';
import { PostureStore } from './reports/posture.store';
import { PostureService } from './reports/posture.service';
import { ReportsController } from './reports/reports.controller';

@Module({})
export class AuditorModule {
  static forRoot(config: AuditorConfig, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule {
    return {
      module: AuditorModule,
      imports: [
        ServiceKitModule.forRoot({ service: config.service, dependencyTimeoutMs: config.dependencyTimeoutMs, ...telemetry }),
        KafkaModule.forRoot(config.kafka),
        RedisModule.forRoot({
          url: config.redis.url,
          clusterNodes: config.redis.clusterNodes,
          connectionName: 'rotor-auditor',
          security: config.redis.security,
        }),
      ],
      controllers: [AuditController, AuditKeysController, InventoryController, ReportsController],
      providers: [
        { provide: AUDITOR_CONFIG, useValue: config },
        { provide: CATALOG, useFactory: () => loadCatalog(config.catalogFile) },
        { provide: TOKEN_VERIFIER, useFactory: () => TokenVerifier.create(config.identity) },
        CallerGuard,
        // First: moves the previous Redis layout before any provider below reads it.
        ViewKeysMigration,
        AuditStore,
        AppendHealth,
        AuditLogProducer,
        { provide: AuditSigningKeys, useFactory: () => AuditSigningKeys.load(config.checkpoints) },
        CheckpointStore,
        CheckpointArchive,
        CheckpointService,
        ChainRepair,
        AuditAppender,
        AuditLagMetric,
        InventoryStore,
        InventoryService,
        OwnerInventoryService,
        PostureStore,
        PostureService,
        ChainVerificationService,
        DomainEventsConsumer,
      ],
    };
  }
}
