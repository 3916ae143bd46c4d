import { Inject, Injectable } from '@nestjs/common';

import type { Catalog, Target } from '@rotor/catalog';
import { createEvent, Topics } from '@rotor/contracts';
import { EventPublisher } from '@rotor/kafka';
import { REDIS } from '@rotor/nest-redis';
import { withLock, type Redis } from '@rotor/redis-store';
import type { DriftFinding, DriftScanReport } from '@rotor/rest-contract';
import { DependencyGate, LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import { DeliveryLedger } from '../delivery/delivery-ledger';
import { DeliveryQueue } from '../delivery/delivery-queue';
import { describeFailure } from '../delivery/describe-failure';
import { ValueReader } from '../delivery/value-reader';
import { CATALOG } from '../platform/tokens';
import type { KubernetesSecretWriter } from '../targets/kubernetes-secret.writer';
import { TargetWriters } from '../targets/target-writers';

import { classifyDrift } from './classify-drift';

/** The REST answer of a scan (POST /v1/reconcile) is rest-contract's DriftScanReport. */
export type ScanReport = DriftScanReport;

/** The last finding per locator, so a condition that persists is published once, not every scan. */
const openFindingKey = (locator: string) => `distributor:drift:${locator}`;
const SCAN_LOCK = 'distributor:lock:drift-scan';

/**
 * Compares every declared target with what the distributor put there, and lists Secrets
 * labelled as rotor's that no catalog target accounts for. Each new finding is published;
 * where the catalog says so, drift is repaired by re-delivering the current version (or
 * removing a retired one).
 */
@Injectable()
export class DriftScanner {
  private readonly findingsTotal;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly writers: TargetWriters,
    private readonly ledger: DeliveryLedger,
    private readonly queue: DeliveryQueue,
    private readonly values: ValueReader,
    private readonly publisher: EventPublisher,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly gate: DependencyGate,
    metrics: Metrics,
  ) {
    this.findingsTotal = metrics.counter('rotor_drift_findings_total', 'Drift findings published, by kind', ['drift']);
  }

  /** Runs one scan unless another replica is scanning; undefined when it was skipped. */
  async scanExclusive(timeoutMs = 300_000): Promise<ScanReport | undefined> {
    return withLock(this.redis, { key: SCAN_LOCK, ttlMs: timeoutMs }, () => this.scan());
  }

  async scan(): Promise<ScanReport> {
    const report: ScanReport = { scannedTargets: 0, findings: [], errors: [] };
    for (const secret of this.catalog.managedSecrets) {
      for (const target of secret.targets) {
        const writer = this.writers.for(target);
        if (!writer.observe) continue;
        report.scannedTargets++;
        try {
          const held = await this.ledger.held(secret.name, target.name);
          // Hashed under the key the recorded hash names, so a ROTOR_CONTENT_HASH_KEY rotation is not an edit.
          const observed = await writer.observe(target, (value) => this.values.contentHashLike(value, held?.contentHash));
          const retired =
            observed.kind === 'present' && observed.version !== undefined && (await this.ledger.isRetired(secret.name, observed.version));
          const drift = classifyDrift(held, observed, () => retired);
          const locator = writer.locator(target);
          if (!drift) {
            await this.redis.del(openFindingKey(locator));
            continue;
          }
          const version = observed.kind === 'present' ? observed.version : held?.version;
          const repaired = 'repairDrift' in target && target.repairDrift ? await this.repair(secret.name, target, held) : false;
          await this.report(
            report,
            { drift, locator, secret: secret.name, target: target.name, ...(version !== undefined ? { version } : {}), repaired },
            target,
          );
        } catch (error) {
          report.errors.push({ target: target.name, reason: describeFailure(error) });
        }
      }
    }
    await this.findUnaccountedSecrets(report);
    this.logger.info(
      { scanned: report.scannedTargets, findings: report.findings.length, errors: report.errors.length },
      'drift scan finished',
    );
    return report;
  }

  /** Secrets labelled managed-by=rotor in the target namespaces that no catalog target names. */
  private async findUnaccountedSecrets(report: ScanReport): Promise<void> {
    if (!this.writers.has('kubernetes-secret')) return;
    const kube = this.writers.for({ kind: 'kubernetes-secret' } as Target) as unknown as KubernetesSecretWriter;
    const declared = new Set<string>();
    const namespaces = new Set<string>();
    for (const secret of this.catalog.managedSecrets) {
      for (const target of secret.targets) {
        if (target.kind !== 'kubernetes-secret') continue;
        declared.add(`${target.namespace}/${target.secretName}`);
        namespaces.add(target.namespace);
      }
    }
    for (const namespace of namespaces) {
      try {
        for (const found of await kube.listManaged(namespace)) {
          if (declared.has(`${namespace}/${found.name}`)) continue;
          const locator = `k8s:${namespace}/secrets/${found.name}`;
          await this.report(
            report,
            {
              drift: 'unaccounted',
              locator,
              ...(found.secret ? { secret: found.secret } : {}),
              ...(found.version !== undefined ? { version: found.version } : {}),
              repaired: false,
            },
            { kind: 'kubernetes-secret', name: found.target ?? found.name },
          );
        }
      } catch (error) {
        report.errors.push({ target: `namespace ${namespace}`, reason: describeFailure(error) });
      }
    }
  }

  /** Re-delivers the version the target should hold, or removes a retired one when nothing current exists. */
  private async repair(secret: string, target: Target, held: { version: number; gsmVersion: string } | undefined): Promise<boolean> {
    if (!held) return false;
    const op = (await this.ledger.isRetired(secret, held.version)) ? 'remove' : 'deliver';
    await this.queue.enqueue({ op, secret, version: held.version, gsmVersion: held.gsmVersion, target });
    return true;
  }

  private async report(report: ScanReport, finding: DriftFinding, target: Pick<Target, 'kind' | 'name'>): Promise<void> {
    report.findings.push(finding);
    const mark = openFindingKey(finding.locator);
    const previous = await this.redis.getset(mark, finding.drift);
    if (previous === finding.drift && !finding.repaired) return; // still open, already published
    try {
      await this.publish(finding, target);
    } catch (error) {
      // Not published: take the mark back, so that the next scan publishes it instead.
      await (previous === null ? this.redis.del(mark) : this.redis.set(mark, previous));
      throw error;
    }
    this.findingsTotal.inc({ drift: finding.drift });
  }

  /** Bounded like every produce a REST route can wait for (POST /v1/reconcile): fail fast while Kafka hangs. */
  private async publish(finding: DriftFinding, target: Pick<Target, 'kind' | 'name'>): Promise<void> {
    await this.publisher.publish(
      createEvent({
        topic: Topics.deliveryDriftDetected,
        source: '/rotor/distributor',
        subject: finding.secret ?? finding.locator,
        data: {
          target: { kind: target.kind, name: target.name },
          locator: finding.locator,
          drift: finding.drift,
          ...(finding.secret ? { secret: finding.secret } : {}),
          ...(finding.version !== undefined ? { version: finding.version } : {}),
          repaired: finding.repaired,
        },
      }),
      { key: finding.secret ?? finding.locator, timeoutMs: this.gate.timeoutMs },
    );
  }
}
