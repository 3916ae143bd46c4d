import { createHash } from 'node:crypto';

import { Inject, Injectable, Optional } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import { createEvent, Topics } from '@rotor/contracts';
import { CopyMatcher, type FingerprintForm } from '@rotor/copy-fingerprint';
import { EventPublisher } from '@rotor/kafka';
import { REDIS } from '@rotor/nest-redis';
import { withLock, type Redis } from '@rotor/redis-store';
import { DependencyGate, LOGGER } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { DistributorConfig } from '../config';
import { describeFailure } from '../delivery/describe-failure';
import { CATALOG, DISTRIBUTOR_CONFIG } from '../platform/tokens';

import { CLUSTER_OBJECTS, type ClusterObject, type ClusterObjects, type ObjectKind } from './cluster-objects';
import { CopyFingerprints } from './copy-fingerprints';

export interface CopyFinding {
  secret: string;
  version: number;
  form: FingerprintForm;
  location: { kind: ObjectKind; namespace: string; name: string; key: string };
  /** True when the key (or the object, if it was its only key) was removed because the catalog says `copies: remove`. */
  removed: boolean;
}

/** What one scan works with: the cluster, the fingerprints to match, the report it fills in. */
interface ScanRun {
  objects: ClusterObjects;
  matcher: CopyMatcher;
  report: CopyScanReport;
}

export interface CopyScanReport {
  namespaces: string[];
  scannedObjects: number;
  /** Objects labelled as rotor's: its own copies, checked by the drift scan instead. */
  skippedManaged: number;
  versions: number;
  unfingerprinted: { secret: string; version: number }[];
  findings: CopyFinding[];
  errors: { target: string; reason: string }[];
  durationMs: number;
}

/** Findings still present, so one that persists is published once; field → namespace. */
const OPEN_FINDINGS = 'distributor:copy-findings';
const SCAN_LOCK = 'distributor:lock:copy-scan';
const KINDS: readonly ObjectKind[] = ['kubernetes-secret', 'kubernetes-configmap'];

const findingId = (finding: Pick<CopyFinding, 'secret' | 'version' | 'location'>) => {
  const { kind, namespace, name, key } = finding.location;
  return createHash('sha256')
    .update(JSON.stringify([kind, namespace, name, key, finding.secret, finding.version]))
    .digest('hex')
    .slice(0, 32);
};

/**
 * Looks for copies of managed values in Secrets and ConfigMaps rotor did not write, in the
 * watched namespaces: every key's value (decoded) is matched against the fingerprints of live
 * and recently retired versions, by keyed hash only. Values are held only while their object
 * is scanned and never logged; events carry the location, never the content.
 */
@Injectable()
export class ClusterCopyScanner {
  private readonly findingsTotal;
  private readonly scanSeconds;

  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly fingerprints: CopyFingerprints,
    private readonly publisher: EventPublisher,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(DISTRIBUTOR_CONFIG) private readonly config: DistributorConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly gate: DependencyGate,
    metrics: Metrics,
    @Optional() @Inject(CLUSTER_OBJECTS) private readonly objects?: ClusterObjects,
  ) {
    this.findingsTotal = metrics.counter(
      'rotor_copy_findings_total',
      'Manual copies of managed values published, by object kind and whether they were removed',
      ['kind', 'removed'],
    );
    this.scanSeconds = metrics.histogram(
      'rotor_copy_scan_seconds',
      'Duration of a cluster scan for manual copies',
      [],
      [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
    );
  }

  /** The namespaces scanned: configured, or those of the catalog's Secret targets. */
  get namespaces(): string[] {
    if (this.config.copyScan.namespaces) return this.config.copyScan.namespaces;
    const namespaces = this.catalog.managedSecrets.flatMap((secret) =>
      secret.targets.flatMap((target) => (target.kind === 'kubernetes-secret' ? [target.namespace] : [])),
    );
    return [...new Set(namespaces)].sort();
  }

  /** Runs one scan unless another replica is scanning; undefined when it was skipped. */
  async scanExclusive(timeoutMs = 600_000): Promise<CopyScanReport | undefined> {
    return withLock(this.redis, { key: SCAN_LOCK, ttlMs: timeoutMs }, () => this.scan());
  }

  async scan(): Promise<CopyScanReport> {
    const started = performance.now();
    const namespaces = this.namespaces;
    const { fingerprints, unfingerprinted } = await this.fingerprints.scannable();
    const report: CopyScanReport = {
      namespaces,
      scannedObjects: 0,
      skippedManaged: 0,
      versions: new Set(fingerprints.map((f) => `${f.secret}|${f.version}`)).size,
      unfingerprinted,
      findings: [],
      errors: [],
      durationMs: 0,
    };
    if (!this.objects) {
      report.errors.push({ target: 'cluster', reason: 'no Kubernetes API configured: set KUBECONFIG or run the distributor in a cluster' });
    } else if (fingerprints.length > 0) {
      const matcher = new CopyMatcher(this.fingerprints.scanKey, fingerprints);
      const run: ScanRun = { objects: this.objects, matcher, report };
      for (const namespace of namespaces) await this.scanNamespace(run, namespace);
    }
    report.durationMs = Math.round(performance.now() - started);
    this.scanSeconds.observe({}, report.durationMs / 1000);
    this.logger.info(
      {
        namespaces: namespaces.length,
        scanned: report.scannedObjects,
        findings: report.findings.length,
        errors: report.errors.length,
        durationMs: report.durationMs,
      },
      'copy scan finished',
    );
    return report;
  }

  private async scanNamespace(run: ScanRun, namespace: string): Promise<void> {
    const { objects, report } = run;
    const seen = new Set<string>();
    let complete = true;
    for (const kind of KINDS) {
      try {
        let token: string | undefined;
        do {
          const page = await objects.list(kind, namespace, token);
          for (const object of page.items) {
            if (object.managedByRotor) {
              report.skippedManaged++;
              continue;
            }
            report.scannedObjects++;
            for (const finding of await this.scanObject(run, object)) {
              report.findings.push(finding);
              const id = findingId(finding);
              if (!finding.removed) seen.add(id);
              await this.publishIfNew(id, finding);
            }
          }
          token = page.continueToken;
        } while (token);
      } catch (error) {
        complete = false;
        report.errors.push({ target: `${kind}s in ${namespace}`, reason: describeFailure(error) });
      }
    }
    // A finding not seen again in a namespace scanned in full is gone: if it comes back, it is news.
    if (complete) await this.closeFindingsNotSeen(namespace, seen);
  }

  private async scanObject({ objects, matcher, report }: ScanRun, object: ClusterObject): Promise<CopyFinding[]> {
    const found: Omit<CopyFinding, 'removed'>[] = [];
    for (const entry of object.entries) {
      const versions = new Map<string, Omit<CopyFinding, 'removed'>>();
      for (const match of matcher.findAll(entry.value)) {
        const id = `${match.secret}|${match.version}`;
        // One finding per version per key; the raw form wins over its base64 encoding.
        if (!versions.has(id) || match.form === 'raw')
          versions.set(id, { ...match, location: { kind: object.kind, namespace: object.namespace, name: object.name, key: entry.key } });
      }
      found.push(...versions.values());
    }
    if (found.length === 0) return [];
    const toRemove = new Set(
      found
        .filter((finding) => findManagedSecret(this.catalog, finding.secret)?.copies === 'remove')
        .map((finding) => finding.location.key),
    );
    let removed = false;
    if (toRemove.size > 0) {
      try {
        const entries = object.entries.filter((entry) => toRemove.has(entry.key));
        if (entries.length === object.entries.length) await objects.delete(object);
        else await objects.removeKeys(object, entries);
        removed = true;
      } catch (error) {
        // Changed since it was listed (409), or not allowed: reported now, removed by a later scan.
        report.errors.push({ target: `${object.kind} ${object.namespace}/${object.name}`, reason: `remove: ${describeFailure(error)}` });
      }
    }
    return found.map((finding) => ({ ...finding, removed: removed && toRemove.has(finding.location.key) }));
  }

  private async publishIfNew(id: string, finding: CopyFinding): Promise<void> {
    if (!finding.removed && (await this.redis.hsetnx(OPEN_FINDINGS, id, finding.location.namespace)) === 0) return;
    try {
      await this.publish(finding);
    } catch (error) {
      await this.redis.hdel(OPEN_FINDINGS, id); // published by the next scan instead
      throw error;
    }
    if (finding.removed) await this.redis.hdel(OPEN_FINDINGS, id);
  }

  private async publish(finding: CopyFinding): Promise<void> {
    const owner = findManagedSecret(this.catalog, finding.secret)?.owner;
    await this.publisher.publish(
      createEvent({
        topic: Topics.copyDiscovered,
        source: '/rotor/distributor',
        subject: finding.secret,
        data: {
          secret: finding.secret,
          version: finding.version,
          location: finding.location,
          ...(owner ? { owner } : {}),
          form: finding.form,
          removed: finding.removed,
          reportedBy: { kind: 'service', service: 'distributor' },
          scanner: 'cluster-scan',
          discoveredAt: new Date().toISOString(),
        },
      }),
      // Bounded as on every route that can wait for it (POST /v1/copy-scan); an unpublished finding is published by the next scan.
      { key: finding.secret, timeoutMs: this.gate.timeoutMs },
    );
    this.findingsTotal.inc({ kind: finding.location.kind, removed: String(finding.removed) });
    this.logger.warn(
      {
        secret: finding.secret,
        version: finding.version,
        kind: finding.location.kind,
        namespace: finding.location.namespace,
        name: finding.location.name,
        key: finding.location.key,
        removed: finding.removed,
      },
      'manual copy of a managed value found',
    );
  }

  private async closeFindingsNotSeen(namespace: string, seen: Set<string>): Promise<void> {
    const open = await this.redis.hgetall(OPEN_FINDINGS);
    const stale = Object.entries(open)
      .filter(([id, ns]) => ns === namespace && !seen.has(id))
      .map(([id]) => id);
    if (stale.length > 0) await this.redis.hdel(OPEN_FINDINGS, ...stale);
  }
}
