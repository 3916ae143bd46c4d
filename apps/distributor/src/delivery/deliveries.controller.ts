import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import { DeliveryPageSchema, DeliveryStateSchema, ManagedSecretNameSchema, type Delivery, type DeliveryPage } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, QueryFrom } from '@rotor/service-kit';

import { DeliveryLedger, type DeliveredCopy } from './delivery-ledger';

const ListQuery = z.object({ secret: ManagedSecretNameSchema, state: DeliveryStateSchema.optional() });

@ApiTags('deliveries')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(private readonly ledger: DeliveryLedger) {}

  /** Every copy of a managed secret the distributor made or tried to make, and its state. */
  @Get()
  @Needs('redis')
  @QueryFrom(ListQuery)
  @Answers(200, DeliveryPageSchema, "the secret's copies")
  async list(
    @CurrentCaller() caller: Caller,
    @Query('secret') secret: string | undefined,
    @Query('state') state: string | undefined,
  ): Promise<DeliveryPage> {
    if (!hasGroup(caller, OperatorGroups.sre) && !hasGroup(caller, OperatorGroups.auditor)) {
      throw new DomainError('forbidden', 'missing-group', 'listing deliveries needs the rotor:sre or rotor:auditor group');
    }
    // Field by field: each has its own problem code.
    const name = ListQuery.shape.secret.safeParse(secret);
    if (!name.success) {
      throw new DomainError('invalid', 'invalid-secret', 'secret: must name a managed secret', { field: 'secret' });
    }
    const wanted = ListQuery.shape.state.safeParse(state);
    if (!wanted.success) {
      throw new DomainError('invalid', 'invalid-state', `state: must be one of ${DeliveryStateSchema.options.join(', ')}`, {
        field: 'state',
      });
    }
    const copies = await this.ledger.copiesOf(name.data);
    return { secret: name.data, items: copies.filter((copy) => !wanted.data || copy.state === wanted.data).map(view) };
  }
}

/** The public shape of a copy: the target by kind and name (its settings stay in the catalog). */
const view = (copy: DeliveredCopy): Delivery => ({
  secret: copy.secret,
  version: copy.version,
  gsmVersion: copy.gsmVersion,
  target: { kind: copy.target.kind, name: copy.target.name },
  locator: copy.locator ?? null,
  state: copy.state,
  contentHash: copy.contentHash ?? null,
  attempts: copy.attempts,
  lastError: copy.lastError ?? null,
  updatedAt: copy.updatedAt,
});
