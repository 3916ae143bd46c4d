import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import { createEvent, Topics, type CopyReporter } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import type { Caller } from '@rotor/identity';
import { EventPublisher } from '@rotor/kafka';
import type { ReportedCopies, ReportedCopiesReceipt } from '@rotor/rest-contract';
import { DependencyGate, LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { CATALOG } from '../platform/tokens';

import { VersionRegistry } from './version-registry';

/**
 * Publishes copies an operator's `rotor scan` found outside the cluster. Each must name a
 * catalog secret and a version the distributor knows, so the topic cannot be filled with
 * invented versions. Each event names who reported it: the authenticated caller, from its
 * token (never from the request body).
 */
@Injectable()
export class ReportedCopiesService {
  constructor(
    @Inject(CATALOG) private readonly catalog: Catalog,
    private readonly registry: VersionRegistry,
    private readonly publisher: EventPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly gate: DependencyGate,
  ) {}

  async publish(caller: Caller, body: ReportedCopies): Promise<ReportedCopiesReceipt> {
    const reportedBy: CopyReporter =
      caller.kind === 'operator'
        ? { kind: 'operator', subject: caller.subject, groups: caller.groups }
        : { kind: 'workload', workload: caller.workload };
    for (const [index, finding] of body.findings.entries()) {
      const secret = findManagedSecret(this.catalog, finding.secret);
      if (!secret || !(await this.registry.get(finding.secret, finding.version))) {
        throw new DomainError(
          'invalid',
          'unknown-version',
          `findings.${index}: ${finding.secret} version ${finding.version} is not a version this distributor knows`,
          { field: `findings.${index}` },
        );
      }
    }
    const discoveredAt = new Date().toISOString();
    const events = body.findings.map((finding) =>
      createEvent({
        topic: Topics.copyDiscovered,
        source: '/rotor/cli',
        subject: finding.secret,
        data: {
          secret: finding.secret,
          version: finding.version,
          location: { kind: finding.kind, path: finding.path, line: finding.line },
          owner: findManagedSecret(this.catalog, finding.secret)!.owner,
          form: finding.form,
          removed: false,
          reportedBy,
          scanner: 'cli-scan',
          discoveredAt,
        },
      }),
    );
    // One bounded produce for the whole report (503 kafka-unavailable past it): the caller's
    // retry sends it again, rather than half of it having gone out before a hang.
    await this.publisher.publishAll(events, { timeoutMs: this.gate.timeoutMs });
    this.logger.warn({ reportedBy: caller.subject, findings: body.findings.length }, 'manual copies reported by rotor scan');
    return { published: body.findings.length };
  }
}
