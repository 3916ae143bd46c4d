import { createHash, randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { DomainError } from '@rotor/errors';
import type { OperatorCaller } from '@rotor/identity';
import type {
  EmergencyRotationRequest,
  EmergencyRotationView,
  LeaseRevocationRequest,
  LeaseRevocationView,
  RunListQuery,
} from '@rotor/rest-contract';
import { LOGGER } from '@rotor/service-kit';
import { traceparentOf, type Logger } from '@rotor/telemetry';

import { EmergencyIndex } from './emergency-index';
import {
  EmergencyStore,
  leaseRevocationView,
  rotationView,
  type EmergencyProgress,
  type EmergencyRotation,
  type EmergencyScope,
} from './emergency.store';

/** The prefix each scope's ids derive from: a key reused for the other kind of run names another id. */
const ID_NAMESPACES: Record<EmergencyScope, string> = { rotation: 'emergency-rotation', 'lease-revocation': 'lease-revocation' };

/**
 * The same request id from the same operator always names the same run: a retried POST
 * finds the one already started. Scoped by subject so one operator's ids cannot collide
 * with another's, and by kind of run. Shaped as a UUID (version 5 bits, RFC 4122 variant).
 */
export function emergencyIdFor(subject: string, requestId: string, scope: EmergencyScope = 'rotation'): string {
  const hex = createHash('sha256').update(`${ID_NAMESPACES[scope]}\n${subject}\n${requestId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

interface RunStart {
  caller: OperatorCaller;
  requestId: string | undefined;
  fields: Pick<EmergencyRotation, 'scope' | 'selector' | 'reason' | 'mode'>;
}

/**
 * Starts emergency rotations and lease revocations by selector (durably, for the worker to
 * run; one machinery, two scopes), reports their progress and lists them.
 */
@Injectable()
export class EmergencyRotationService {
  constructor(
    private readonly store: EmergencyStore,
    private readonly index: EmergencyIndex,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async start(
    caller: OperatorCaller,
    request: EmergencyRotationRequest,
    idempotencyKey?: string,
  ): Promise<{ created: boolean; view: EmergencyRotationView }> {
    const { selector, mode, reason } = request;
    const { created, id } = await this.begin({
      caller,
      requestId: request.requestId ?? idempotencyKey,
      fields: { scope: 'rotation', selector, mode, reason },
    });
    return { created, view: await this.view(id) };
  }

  async startLeaseRevocation(
    caller: OperatorCaller,
    request: LeaseRevocationRequest,
    idempotencyKey?: string,
  ): Promise<{ created: boolean; view: LeaseRevocationView }> {
    const { selector, reason } = request;
    const { created, id } = await this.begin({
      caller,
      requestId: request.requestId ?? idempotencyKey,
      fields: { scope: 'lease-revocation', selector, reason },
    });
    return { created, view: await this.leaseRevocation(id) };
  }

  async view(id: string): Promise<EmergencyRotationView> {
    const view = await this.store.view(id);
    if (!view) throw new DomainError('not-found', 'unknown-emergency-rotation', `emergency rotation ${id} does not exist`);
    return view;
  }

  async leaseRevocation(id: string): Promise<LeaseRevocationView> {
    const view = await this.store.leaseRevocationView(id);
    if (!view) throw new DomainError('not-found', 'unknown-lease-revocation', `lease revocation ${id} does not exist`);
    return view;
  }

  async list(scope: 'rotation', query: RunListQuery): Promise<{ items: EmergencyRotationView[]; next?: string }>;
  async list(scope: 'lease-revocation', query: RunListQuery): Promise<{ items: LeaseRevocationView[]; next?: string }>;
  async list(
    scope: EmergencyScope,
    query: RunListQuery,
  ): Promise<{ items: (EmergencyRotationView | LeaseRevocationView)[]; next?: string }> {
    const loaded = new Map<string, EmergencyProgress>();
    const page = await this.index.page(scope, query, async (ids) =>
      Promise.all(
        ids.map(async (id) => {
          const progress = await this.store.progress(id);
          if (!progress) return undefined;
          loaded.set(id, progress);
          return { id, state: progress.rotation.state };
        }),
      ),
    );
    const toView = scope === 'rotation' ? rotationView : leaseRevocationView;
    const items = page.ids.flatMap((id) => {
      const view = toView(loaded.get(id)!);
      return view ? [view] : [];
    });
    return page.next ? { items, next: page.next } : { items };
  }

  private async begin({ caller, requestId, fields }: RunStart): Promise<{ created: boolean; id: string }> {
    const id = requestId ? emergencyIdFor(caller.subject, requestId, fields.scope) : randomUUID();
    const startedAt = new Date().toISOString();
    const traceparent = traceparentOf();
    const created = await this.store.create({
      id,
      ...fields,
      requestedBy: caller.subject,
      ...(requestId ? { requestId } : {}),
      state: 'running',
      phase: 'match-leases',
      cursor: '0',
      secretsRequested: 0,
      quotaLimited: false,
      startedAt,
      lastProgressAt: 0,
      ...(traceparent ? { traceparent } : {}),
    });
    const run = await this.store.get(id);
    if (!run) throw new Error(`emergency run ${id} disappeared right after it was stored`);
    // Also on a repeat: a crash between storing, listing and scheduling must not strand it.
    await this.index.add(run.scope, id, run.startedAt);
    if (run.state === 'running') await this.store.schedule.scheduleIfAbsent(id, Date.now());
    if (created)
      this.logger.warn(
        {
          emergencyId: id,
          scope: fields.scope,
          selector: fields.selector,
          mode: fields.mode,
          reason: fields.reason,
          requestedBy: caller.subject,
        },
        fields.scope === 'rotation' ? 'emergency rotation started' : 'lease revocation started',
      );
    return { created, id };
  }
}
