import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';

import { isBound } from '@rotor/catalog';
import { createEvent, Topics } from '@rotor/contracts';
import { DomainError } from '@rotor/errors';
import type { Caller } from '@rotor/identity';
import { EventPublisher } from '@rotor/kafka';
import { GsmSecretStore } from '@rotor/secret-store';
import { SecretValueSchema, type SecretValue } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, DependencyGate, Needs, PathFrom } from '@rotor/service-kit';

import { RotationService } from './rotation.service';
import { SecretVersionStore } from './secret-version.store';

@ApiTags('secrets')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/secrets')
export class SecretsController {
  constructor(
    private readonly rotation: RotationService,
    private readonly versions: SecretVersionStore,
    private readonly gsm: GsmSecretStore,
    private readonly publisher: EventPublisher,
    private readonly gate: DependencyGate,
  ) {}

  /** Just-in-time read of the current version by a bound workload; every read is an `access` event. */
  @Get(':name')
  @Needs('redis', 'gsm', 'kafka')
  // Any name: one the catalog does not have is answered as not bound, like one bound to others.
  @PathFrom({ name: z.string() })
  @Answers(200, SecretValueSchema, 'the current version and its value')
  async read(@CurrentCaller() caller: Caller, @Param('name') name: string): Promise<SecretValue> {
    if (caller.kind !== 'workload')
      throw new DomainError('forbidden', 'workloads-only', 'managed secrets are read by workloads (operators use break-glass)');
    const secret = (() => {
      try {
        return this.rotation.secret(name);
      } catch {
        return undefined;
      }
    })();
    if (!secret || !isBound(secret, caller.workload)) {
      throw new DomainError(
        'forbidden',
        'secret-not-bound',
        `managed secret ${name} is not bound to ${caller.workload.namespace}/${caller.workload.serviceAccount}`,
      );
    }
    const current = await this.versions.current(name);
    if (!current)
      throw new DomainError('unavailable', 'no-version-yet', `managed secret ${name} has no version yet`, { retryAfterSeconds: 5 });
    // Bounded, as is the access event: nothing is returned until the read is on record.
    const value = await this.gate.bounded('gsm', this.gsm.access(current.gsmVersion));
    await this.publisher.publish(
      createEvent({
        topic: Topics.access,
        source: '/rotor/issuer',
        subject: name,
        data: {
          actor: { kind: 'workload', workload: caller.workload },
          action: 'read-secret',
          secret: name,
          version: current.version,
          at: new Date().toISOString(),
        },
      }),
      { key: name, timeoutMs: this.gate.timeoutMs },
    );
    return { secret: name, version: current.version, createdAt: current.createdAt.toISOString(), value: value.toString('utf8') };
  }
}
