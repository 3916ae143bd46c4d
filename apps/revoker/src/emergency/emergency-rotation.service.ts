import { createHash, randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';

import { DomainError } from '@rotor/errors';
import type { OperatorCaller } from '@rotor/identity';
import type { EmergencyRotationRequest, EmergencyRotationView } from '@rotor/rest-contract';
import { LOGGER } from '@rotor/service-kit';
import type { Logger } from '@rotor/telemetry';

import { EmergencyStore } from './emergency.store';

/**
 * The same request id from the same operator always names the same rotation: a retried
 * POST finds the one already started. Scoped by subject so one operator's ids cannot
 * collide with another's. Shaped as a UUID (version 5 bits, RFC 4122 variant).
 */
export function emergencyIdFor(subject: string, requestId: string): string {
  const hex = createHash('sha256').update(`emergency-rotation\n${subject}\n${requestId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Starts emergency rotations (durably, for the worker to run) and reports their progress. */
@Injectable()
export class EmergencyRotationService {
  constructor(
    private readonly store: EmergencyStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async start(
    caller: OperatorCaller,
    request: EmergencyRotationRequest,
    idempotencyKey?: string,
  ): Promise<{ created: boolean; view: EmergencyRotationView }> {
    const requestId = request.requestId ?? idempotencyKey;
    const id = requestId ? emergencyIdFor(caller.subject, requestId) : randomUUID();
    const created = await this.store.create({
      id,
      selector: request.selector,
      mode: request.mode,
      reason: request.reason,
      requestedBy: caller.subject,
      ...(requestId ? { requestId } : {}),
      state: 'running',
      phase: 'match-leases',
      cursor: '0',
      secretsRequested: 0,
      quotaLimited: false,
      startedAt: new Date().toISOString(),
      lastProgressAt: 0,
    });
    const view = await this.view(id);
    // Also on a repeat: a crash between storing and scheduling must not strand it.
    if (view.state === 'running') await this.store.schedule.scheduleIfAbsent(id, Date.now());
    if (created)
      this.logger.warn(
        { emergencyId: id, selector: request.selector, mode: request.mode, reason: request.reason, requestedBy: caller.subject },
        'emergency rotation started',
      );
    return { created, view };
  }

  async view(id: string): Promise<EmergencyRotationView> {
    const view = await this.store.view(id);
    if (!view) throw new DomainError('not-found', 'unknown-emergency-rotation', `emergency rotation ${id} does not exist`);
    return view;
  }
}
