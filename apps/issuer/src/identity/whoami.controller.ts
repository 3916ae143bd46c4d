import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';

import type { Caller } from '@rotor/identity';
import { CallerViewSchema, type CallerView } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller } from '@rotor/service-kit';

/** Who rotor takes a token's bearer to be: `rotor whoami` shows the rotor groups a sign-in maps to. */
@ApiTags('identity')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1')
export class WhoamiController {
  @Get('whoami')
  @Answers(200, CallerViewSchema, 'the caller')
  whoami(@CurrentCaller() caller: Caller): CallerView {
    return caller.kind === 'workload'
      ? { kind: 'workload', subject: caller.subject, workload: caller.workload }
      : { kind: 'operator', subject: caller.subject, groups: caller.groups };
  }
}
