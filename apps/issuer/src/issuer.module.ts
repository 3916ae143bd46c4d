import { Module, type DynamicModule } from '@nestjs/common';

import { loadCatalog } from '@rotor/config';
import { TokenVerifier } from '@rotor/token-verification';
import { KubeTokenReviewer, loadKubeConfig } from '@rotor/kube-client';
import { GsmModule } from '@rotor/nest-gsm';
import { KafkaModule } from '@rotor/nest-kafka';
import { RedisModule } from '@rotor/nest-redis';
import { BackendsShutdown, backendsProvider, SeparateRedisCheck } from '@rotor/nest-backends';
import { CallerGuard, ServiceKitModule, TOKEN_VERIFIER } from '@rotor/service-kit';
import type { Logger, Metrics } from '@rotor/telemetry';

import { BreakGlassLeasesMigration } from './break-glass/break-glass-leases.migration';
import { BreakGlassController } from './break-glass/break-glass.controller';
import { BreakGlassService } from './break-glass/break-glass.service';
import { BreakGlassStore } from './break-glass/break-glass.store';
import type { IssuerConfig } from './config';
import { WhoamiController } from './identity/whoami.controller';
import { IntrospectionController } from './introspection/introspection.controller';
import { IntrospectionService } from './introspection/introspection.service';
import { TokenHasher } from './introspection/token-hasher';
import { ActiveLeases } from './leases/active-leases';
import { ActiveLeasesMigration } from './leases/active-leases.migration';
import { LeaseRetentionMigration } from './leases/lease-retention.migration';
import { LeaseRevokedConsumer } from './leases/lease-revoked.consumer';
import { LeaseStore } from './leases/lease.store';
import { LeaseService } from './leases/lease.service';
import { LeasesController } from './leases/leases.controller';
import { RotationRequestedConsumer } from './managed-secrets/rotation-requested.consumer';
import { RotationScheduler } from './managed-secrets/rotation-scheduler';
import { RotationService } from './managed-secrets/rotation.service';
import { SecretVersionStore } from './managed-secrets/secret-version.store';
import { SecretsController } from './managed-secrets/secrets.controller';
import { CATALOG, DEDUPE_WINDOW_MS, DEPENDENCY_TIMEOUT_MS, ISSUER_CONFIG } from './platform/tokens';

@Module({})
export class IssuerModule {
  static forRoot(config: IssuerConfig, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule {
    return {
      module: IssuerModule,
      imports: [
        ServiceKitModule.forRoot({ service: config.service, dependencyTimeoutMs: config.dependencyTimeoutMs, ...telemetry }),
        KafkaModule.forRoot(config.kafka),
        GsmModule.forRoot(config.gsm),
        RedisModule.forRoot({
          url: config.redis.url,
          clusterNodes: config.redis.clusterNodes,
          connectionName: 'rotor-issuer',
          security: config.redis.security,
        }),
      ],
      controllers: [LeasesController, IntrospectionController, SecretsController, BreakGlassController, WhoamiController],
      providers: [
        { provide: ISSUER_CONFIG, useValue: config },
        { provide: DEPENDENCY_TIMEOUT_MS, useValue: config.dependencyTimeoutMs },
        { provide: DEDUPE_WINDOW_MS, useValue: config.dedupeWindowMs },
        // The catalog is validated at boot: an invalid file stops the issuer before it serves.
        { provide: CATALOG, useFactory: () => loadCatalog(config.catalogFile) },
        {
          provide: TOKEN_VERIFIER,
          useFactory: () =>
            TokenVerifier.create(
              config.identity,
              config.tokenReview
                ? new KubeTokenReviewer(loadKubeConfig(config.tokenReview.kubeconfig), [config.identity.audience])
                : undefined,
            ),
        },
        { provide: TokenHasher, useFactory: () => new TokenHasher(config.tokenHashKeys) },
        backendsProvider({ ...config.backends, callTimeoutMs: config.dependencyTimeoutMs }),
        BackendsShutdown,
        SeparateRedisCheck,
        CallerGuard,
        LeaseStore,
        ActiveLeases,
        ActiveLeasesMigration,
        LeaseRetentionMigration,
        LeaseService,
        LeaseRevokedConsumer,
        IntrospectionService,
        SecretVersionStore,
        RotationService,
        RotationScheduler,
        RotationRequestedConsumer,
        BreakGlassService,
        BreakGlassStore,
        BreakGlassLeasesMigration,
      ],
    };
  }
}
