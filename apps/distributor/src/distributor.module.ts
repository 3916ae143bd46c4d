import { Module, type DynamicModule } from '@nestjs/common';

import type { Catalog, Target, TargetOf } from '@rotor/catalog';
import type { TargetKind } from '@rotor/contracts';
import { loadCatalog } from '@rotor/config';
import { TokenVerifier } from '@rotor/token-verification';
import { loadKubeConfig } from '@rotor/kube-client';
import { GsmModule } from '@rotor/nest-gsm';
import { KafkaModule } from '@rotor/nest-kafka';
import { RedisModule } from '@rotor/nest-redis';
import { CallerGuard, ServiceKitModule, TOKEN_VERIFIER } from '@rotor/service-kit';
import type { Logger, Metrics } from '@rotor/telemetry';

import type { DistributorConfig } from './config';
import { ClusterCopyScanner } from './copies/cluster-copy-scanner';
import { CLUSTER_OBJECTS, KubernetesClusterObjects } from './copies/cluster-objects';
import { CopyFingerprints } from './copies/copy-fingerprints';
import { CopyScanController } from './copies/copy-scan.controller';
import { ReportedCopiesService } from './copies/reported-copies';
import { VersionRegistry } from './copies/version-registry';
import { DeliveriesController } from './delivery/deliveries.controller';
import { DeliveryLedger } from './delivery/delivery-ledger';
import { DeliveryQueue, TARGET_KINDS } from './delivery/delivery-queue';
import { DeliveryWorker } from './delivery/delivery-worker';
import { DeliveryService } from './delivery/delivery.service';
import { EventReferences } from './delivery/event-references';
import { ValueReader } from './delivery/value-reader';
import { VersionEventsConsumer } from './delivery/version-events.consumer';
import { DriftScanner } from './drift/drift-scanner';
import { ReconcileController } from './drift/reconcile.controller';
import { PeriodicScans } from './platform/periodic-scans';
import { KubernetesWorkloads } from './rollout/kubernetes-workloads';
import { WORKLOAD_ROLLOUT, WorkloadRollout } from './rollout/workload-rollout';
import { CATALOG, DISTRIBUTOR_CONFIG } from './platform/tokens';
import { FileTargetWriter } from './targets/file.writer';
import { KubernetesSecretWriter } from './targets/kubernetes-secret.writer';
import { UnreachableTargetWriter, type TargetWriter } from './targets/target-writer';
import { TargetWriters } from './targets/target-writers';
import { WebhookKeyrings } from './targets/webhook-keys';
import { WebhookWriter } from './targets/webhook.writer';

/**
 * The writer of each target kind: one line per kind (docs/extending.md). Each is made only
 * when the catalog uses its kind: no cluster credentials are needed without Secret targets.
 */
const TARGET_WRITERS = {
  'kubernetes-secret': (config) => kubernetesWriter(config),
  file: (config) => new FileTargetWriter(config.fileTargetRoots),
  webhook: (config, targets) =>
    new WebhookWriter({ keyrings: WebhookKeyrings.fromEnvironment(targets, process.env), timeoutMs: config.webhook.timeoutMs }),
} satisfies { [K in TargetKind]: (config: DistributorConfig, targets: Target[]) => TargetWriter<TargetOf<K>> | UnreachableTargetWriter };

function createWriters(catalog: Catalog, config: DistributorConfig): TargetWriters {
  const targets = catalog.managedSecrets.flatMap((secret) => secret.targets);
  const writers: Partial<Record<TargetKind, TargetWriter>> = {};
  for (const kind of TARGET_KINDS)
    if (targets.some((target) => target.kind === kind)) writers[kind] = TARGET_WRITERS[kind](config, targets);
  return new TargetWriters(writers);
}

/** Outside a cluster and without a kubeconfig there is no API to write to: every Secret target fails with that reason. */
function kubernetesWriter(config: DistributorConfig): KubernetesSecretWriter | UnreachableTargetWriter {
  if (config.kubeconfig || process.env['KUBERNETES_SERVICE_HOST']) return new KubernetesSecretWriter(loadKubeConfig(config.kubeconfig));
  return new UnreachableTargetWriter(
    'kubernetes-secret',
    'no Kubernetes API configured: set KUBECONFIG or run the distributor in a cluster',
  );
}

/** The cluster copy discovery scans and the workload rollout, when there is a cluster to reach; without one its scans report that. */
function clusterObjectsProviders(config: DistributorConfig) {
  if (!config.kubeconfig && !process.env['KUBERNETES_SERVICE_HOST']) return [];
  return [
    { provide: CLUSTER_OBJECTS, useFactory: () => new KubernetesClusterObjects(loadKubeConfig(config.kubeconfig)) },
    // Used only for kubernetes-secret targets with `rollout` (opt-in); it reaches Deployments and StatefulSets.
    { provide: WORKLOAD_ROLLOUT, useFactory: () => new WorkloadRollout(new KubernetesWorkloads(loadKubeConfig(config.kubeconfig))) },
  ];
}

@Module({})
export class DistributorModule {
  static forRoot(config: DistributorConfig, telemetry: { logger: Logger; metrics: Metrics }): DynamicModule {
    return {
      module: DistributorModule,
      imports: [
        ServiceKitModule.forRoot({ service: config.service, dependencyTimeoutMs: config.dependencyTimeoutMs, ...telemetry }),
        KafkaModule.forRoot(config.kafka),
        GsmModule.forRoot(config.gsm),
        RedisModule.forRoot({
          url: config.redis.url,
          clusterNodes: config.redis.clusterNodes,
          connectionName: 'rotor-distributor',
          security: config.redis.security,
        }),
      ],
      controllers: [DeliveriesController, ReconcileController, CopyScanController],
      providers: [
        { provide: DISTRIBUTOR_CONFIG, useValue: config },
        // The catalog is validated at boot: an invalid file stops the distributor before it delivers.
        { provide: CATALOG, useFactory: () => loadCatalog(config.catalogFile, { fileTargetRoots: config.fileTargetRoots }) },
        { provide: TargetWriters, inject: [CATALOG], useFactory: (catalog: Catalog) => createWriters(catalog, config) },
        { provide: TOKEN_VERIFIER, useFactory: () => TokenVerifier.create(config.identity) },
        CallerGuard,
        DeliveryLedger,
        DeliveryQueue,
        ValueReader,
        DeliveryService,
        DeliveryWorker,
        EventReferences,
        VersionEventsConsumer,
        DriftScanner,
        ...clusterObjectsProviders(config),
        VersionRegistry,
        CopyFingerprints,
        ClusterCopyScanner,
        PeriodicScans,
        ReportedCopiesService,
      ],
    };
  }
}
