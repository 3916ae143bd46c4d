import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import { CallerGuard, CurrentCaller } from '@rotor/service-kit';

import { DeliveryLedger } from './delivery-ledger';

@ApiTags('deliveries')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(private readonly ledger: DeliveryLedger) {}

  /** Every copy of a managed secret the distributor made, and its state. */
  @Get()
  async list(@CurrentCaller() caller: Caller, @Query('secret') secret: string | undefined) {
    if (!hasGroup(caller, OperatorGroups.sre) && !hasGroup(caller, OperatorGroups.auditor)) {
      throw new DomainError('forbidden', 'missing-group', 'listing deliveries needs the rotor:sre or rotor:auditor group');
    }
    if (!secret || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(secret)) {
      throw new DomainError('invalid', 'invalid-secret', 'secret: must name a managed secret', { field: 'secret' });
    }
    return { secret, items: await this.ledger.copiesOf(secret) };
  }
}
