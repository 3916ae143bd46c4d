import { Module, type DynamicModule } from '@nestjs/common';

import { loadCatalog } from '@rotor/config';
import { KubePodLister, kubeApiConfigured, loadKubeConfig } from '@rotor/kube-client';
import { TokenVerifier } from '@rotor/token-verification';
import { GsmModule } from '@rotor/nest-gsm';
import { KafkaModule } from '@rotor/nest-kafka';
import { RedisModule } from '@rotor/nest-redis';
import { BackendsShutdown, backendsProvider, SeparateRedisCheck } from '@rotor/nest-backends';
import { CallerGuard, ServiceKitModule, TOKEN_VERIFIER } from '@rotor/service-kit';
import type { Logger, Metrics } from '@rotor/telemetry';

import { BreakGlassFollowUp } from './break-glass/break-glass-follow-up';
import { BreakGlassWorker } from './break-glass/break-glass-worker';
import { BreakGlassConsumer } from './break-glass/break-glass.consumer';
import type { RevokerConfig } from './config';
import { EmergencyCounters } from './emergency/emergency-counters';
import { EmergencyIndex } from './emergency/emergency-index';
import { EmergencyIndexMigration } from './emergency/emergency-index.migration';
import { EmergencyMetrics } from './emergency/emergency-metrics';
import { EmergencyPreviewer } from './emergency/emergency-preview';
import { EmergencyRotationService } from './emergency/emergency-rotation.service';
import { EmergencyRotationsController } from './emergency/emergency-rotations.controller';
import { EmergencyStore } from './emergency/emergency.store';
import { EmergencyTracker } from './emergency/emergency-tracker';
import { EmergencyWorker } from './emergency/emergency-worker';
import { LeaseRevocationsController } from './emergency/lease-revocations.controller';
import { LeaseClock } from './leases/lease-clock';
import { RevokedLeasesMigration } from './leases/revoked-leases.migration';
import { LeaseEventsConsumer } from './leases/lease-events.consumer';
import { LeasesController } from './leases/leases.controller';
import { CATALOG, REVOKER_CONFIG } from './platform/tokens';
import { RetirementEvents } from './retirement/retirement-events';
import { RetirementUrgency } from './retirement/retirement-urgency';
import { RetirementStore } from './retirement/retirement.store';
import { RetirementWorker } from './retirement/retirement-worker';
import { RetirementService } from './retirement/retirement.service';
import { SecretEventsConsumer } from './retirement/secret-events.consumer';
import { SecretReferences } from './retirement/secret-references';
import { CatalogWithdrawal } from './reconciliation/catalog-withdrawal';
import { OrphanSweep } from './reconciliation/orphan-sweep';
import { POD_LISTER, PodSweep } from './reconciliation/pod-sweep';
import { PodSweepWorker } from './reconciliation/pod-sweep-worker';
import { ReconciliationWorker } from './reconciliation/reconciliation-worker';
import { BackendRecovery } from './revocation/backend-recovery';
import { ExpiryWorker } from './revocation/expiry-worker';
import { RevocationEvents } from './revocation/revocation-events';
import { RevocationService } from './revocation/revocation.service';

/** The pod sweep, when it is on and there is an API server to ask (a kubeconfig, or an in-cluster token). */
function podSweepProviders(config: RevokerConfig) {
  if (config.podSweep.intervalMs <= 0 || !kubeApiConfigured(config.podSweep.kubeconfig)) return [];
  return [
    { provide: POD_LISTER, useFactory: () => new KubePodLister(loadKubeConfig(config.podSweep.kubeconfig)) },
    PodSweep,
    PodSweepWorker,
  ];
}

@Module({})
export class RevokerModule {
  static forRoot(config: RevokerConfig, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule {
    return {
      module: RevokerModule,
      imports: [
        ServiceKitModule.forRoot({ service: config.service, dependencyTimeoutMs: config.dependencyTimeoutMs, ...telemetry }),
        KafkaModule.forRoot(config.kafka),
        GsmModule.forRoot(config.gsm),
        RedisModule.forRoot({
          url: config.redis.url,
          clusterNodes: config.redis.clusterNodes,
          connectionName: 'rotor-revoker',
          security: config.redis.security,
        }),
      ],
      controllers: [LeasesController, EmergencyRotationsController, LeaseRevocationsController],
      providers: [
        { provide: REVOKER_CONFIG, useValue: config },
        // The catalog is validated at boot: an invalid file stops the revoker before it serves.
        { provide: CATALOG, useFactory: () => loadCatalog(config.catalogFile) },
        { provide: TOKEN_VERIFIER, useFactory: () => TokenVerifier.create(config.identity) },
        backendsProvider(config.backends),
        BackendsShutdown,
        SeparateRedisCheck,
        CallerGuard,
        LeaseClock,
        RevokedLeasesMigration,
        LeaseEventsConsumer,
        RevocationEvents,
        RevocationService,
        ExpiryWorker,
        BackendRecovery,
        EmergencyCounters,
        EmergencyStore,
        EmergencyIndex,
        EmergencyMetrics,
        EmergencyIndexMigration,
        EmergencyTracker,
        { provide: RetirementUrgency, useExisting: EmergencyTracker },
        EmergencyRotationService,
        EmergencyPreviewer,
        EmergencyWorker,
        RetirementEvents,
        RetirementStore,
        RetirementService,
        RetirementWorker,
        SecretReferences,
        SecretEventsConsumer,
        BreakGlassFollowUp,
        BreakGlassConsumer,
        BreakGlassWorker,
        OrphanSweep,
        CatalogWithdrawal,
        ReconciliationWorker,
        ...podSweepProviders(config),
      ],
    };
  }
}
