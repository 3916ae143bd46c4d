import { Module, type DynamicModule } from '@nestjs/common';

import { loadCatalog } from '@rotor/config';
import { TokenVerifier } from '@rotor/token-verification';
import { KafkaModule } from '@rotor/nest-kafka';
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
import { ChainSelfCheck } from './audit/chain-self-check';
import { ChainVerificationService } from './audit/chain-verification.service';
import { CheckpointArchive } from './audit/checkpoint-archive';
import { CheckpointStore } from './audit/checkpoint.store';
import { RedisLayoutMove } from './audit/redis-layout.move';
import { AuditRetention } from './audit/audit-retention';
import { AuditStateInitializer } from './audit/audit-state-initializer';
import { CheckpointService } from './audit/checkpoint.service';
import { DomainEventsConsumer } from './audit/domain-events.consumer';
import type { AuditorConfig } from './config';
import { InventoryStore } from './inventory/inventory.store';
import { InventoryController } from './inventory/inventory.controller';
import { InventoryService } from './inventory/inventory.service';
import { OwnerInventoryService } from './inventory/owner-inventory.service';
import { AuditDatabaseModule } from './platform/audit-database.module';
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
        AuditDatabaseModule.forRoot(config.database),
      ],
      controllers: [AuditController, AuditKeysController, InventoryController, ReportsController],
      providers: [
        { provide: AUDITOR_CONFIG, useValue: config },
        { provide: CATALOG, useFactory: () => loadCatalog(config.catalogFile) },
        { provide: TOKEN_VERIFIER, useFactory: () => TokenVerifier.create(config.identity) },
        CallerGuard,
        // First: moves the previous Redis layout into the database before any provider below reads it.
        RedisLayoutMove,
        AuditRetention,
        AuditStore,
        AuditStateInitializer,
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
        ChainSelfCheck,
        DomainEventsConsumer,
      ],
    };
  }
}
