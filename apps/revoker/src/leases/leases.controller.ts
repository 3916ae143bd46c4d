import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import { IrrevocableLeasePageSchema, irrevocableLeaseView, type IrrevocableLeasePage } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs } from '@rotor/service-kit';

import { LeaseClock } from './lease-clock';

@ApiTags('leases')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/leases')
export class LeasesController {
  constructor(private readonly clock: LeaseClock) {}

  /** Leases the revoker could not end within its attempt limit; they stay here, retried, until it succeeds. */
  @Get()
  @Needs('redis')
  @Answers(200, IrrevocableLeasePageSchema, 'the leases the revoker could not end yet')
  async list(@CurrentCaller() caller: Caller, @Query('state') state: string | undefined): Promise<IrrevocableLeasePage> {
    if (!hasGroup(caller, OperatorGroups.sre) && !hasGroup(caller, OperatorGroups.auditor)) {
      throw new DomainError('forbidden', 'missing-group', 'listing leases needs the rotor:sre or rotor:auditor group');
    }
    if (state !== 'irrevocable')
      throw new DomainError('invalid', 'unsupported-state', 'state: only "irrevocable" can be listed here', { field: 'state' });
    const leases = await this.clock.listIrrevocable();
    return { items: leases.map((lease) => irrevocableLeaseView(lease)) };
  }
}
