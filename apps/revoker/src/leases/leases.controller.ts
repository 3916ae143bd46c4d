import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import { IrrevocableLeasePageSchema, irrevocableLeaseView, type IrrevocableLeasePage } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, QueryFrom } from '@rotor/service-kit';

import { LeaseClock } from './lease-clock';

/** Only the leases the revoker could not end are listed here (the auditor's inventory lists the others). */
const ListQuery = z.object({ state: z.literal('irrevocable') });

@ApiTags('leases')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/leases')
export class LeasesController {
  constructor(private readonly clock: LeaseClock) {}

  /** Leases the revoker could not end within its attempt limit; they stay here, retried, until it succeeds. */
  @Get()
  @Needs('redis')
  @QueryFrom(ListQuery)
  @Answers(200, IrrevocableLeasePageSchema, 'the leases the revoker could not end yet')
  async list(@CurrentCaller() caller: Caller, @Query('state') state: string | undefined): Promise<IrrevocableLeasePage> {
    if (!hasGroup(caller, OperatorGroups.sre) && !hasGroup(caller, OperatorGroups.auditor)) {
      throw new DomainError('forbidden', 'missing-group', 'listing leases needs the rotor:sre or rotor:auditor group');
    }
    if (!ListQuery.shape.state.safeParse(state).success)
      throw new DomainError('invalid', 'unsupported-state', 'state: only "irrevocable" can be listed here', { field: 'state' });
    const leases = await this.clock.listIrrevocable();
    return { items: leases.map((lease) => irrevocableLeaseView(lease)) };
  }
}
