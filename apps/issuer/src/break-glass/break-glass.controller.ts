import { Body, Controller, Delete, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller, type OperatorCaller } from '@rotor/identity';
import {
  BreakGlassEndingSchema,
  BreakGlassGrantSchema,
  BreakGlassIdSchema,
  BreakGlassRequestSchema,
  type BreakGlassEnding,
  type BreakGlassGrant,
  type BreakGlassRequest,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, PathFrom, Takes, ZodBodyPipe } from '@rotor/service-kit';
import { BreakGlassService } from './break-glass.service';

const asSre = (caller: Caller): OperatorCaller => {
  if (caller.kind !== 'operator' || !hasGroup(caller, OperatorGroups.sre))
    throw new DomainError('forbidden', 'missing-group', 'break-glass access needs the rotor:sre group');
  return caller;
};

@ApiTags('break-glass')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/break-glass')
export class BreakGlassController {
  constructor(private readonly breakGlass: BreakGlassService) {}

  /** Time-boxed access to managed secrets or a role outside the bindings; rotated when it ends. */
  @Post()
  @HttpCode(201)
  @Needs('kafka', 'redis', 'gsm')
  @Takes(BreakGlassRequestSchema, 'what to open, why, under which ticket, for how long')
  @Answers(201, BreakGlassGrantSchema, 'the access: its values, shown this once')
  async open(
    @CurrentCaller() caller: Caller,
    @Body(new ZodBodyPipe(BreakGlassRequestSchema)) body: BreakGlassRequest,
  ): Promise<BreakGlassGrant> {
    const grant = await this.breakGlass.open(asSre(caller), body);
    return { ...grant, expiresAt: grant.expiresAt.toISOString(), followUp: 'every managed secret listed is rotated when this access ends' };
  }

  /** Ends the access now. */
  @Delete(':id')
  @PathFrom({ id: BreakGlassIdSchema })
  @Needs('kafka', 'redis')
  @Answers(200, BreakGlassEndingSchema, 'the access is ending')
  async end(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<BreakGlassEnding> {
    const sre = asSre(caller);
    if (!BreakGlassIdSchema.safeParse(id).success)
      throw new DomainError('invalid', 'invalid-id', 'id: must be a break-glass id (UUID)', { field: 'id' });
    return this.breakGlass.end(sre, id);
  }
}
