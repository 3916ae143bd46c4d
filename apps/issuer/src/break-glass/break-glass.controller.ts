import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller, type OperatorCaller } from '@rotor/identity';
import {
  BreakGlassEndingSchema,
  BreakGlassGrantSchema,
  BreakGlassIdSchema,
  BreakGlassListQuerySchema,
  BreakGlassPageSchema,
  BreakGlassPreviewSchema,
  BreakGlassRequestSchema,
  IdempotencyKeySchema,
  type BreakGlassEnding,
  type BreakGlassGrant,
  type BreakGlassPage,
  type BreakGlassPreview,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Honours, Needs, PathFrom, QueryFrom, Takes, ZodBodyPipe } from '@rotor/service-kit';

import { BREAK_GLASS_FOLLOW_UP, BreakGlassService } from './break-glass.service';

const asSre = (caller: Caller): OperatorCaller => {
  if (caller.kind !== 'operator' || !hasGroup(caller, OperatorGroups.sre))
    throw new DomainError('forbidden', 'missing-group', 'break-glass access needs the rotor:sre group');
  return caller;
};

const asReader = (caller: Caller): void => {
  if (caller.kind !== 'operator' || !(hasGroup(caller, OperatorGroups.sre) || hasGroup(caller, OperatorGroups.auditor)))
    throw new DomainError('forbidden', 'missing-group', 'listing break-glass access needs the rotor:sre or rotor:auditor group');
};

const idempotencyKey = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  if (!IdempotencyKeySchema.safeParse(value).success)
    throw new DomainError(
      'invalid',
      'invalid-idempotency-key',
      'Idempotency-Key: must be 1-128 printable ASCII characters without spaces',
      {
        field: 'Idempotency-Key',
      },
    );
  return value;
};

const listQuery = (query: unknown) => {
  const parsed = BreakGlassListQuerySchema.safeParse(query);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(',') : 'query');
  throw new DomainError('invalid', 'invalid-query', `${at}: ${issue?.message}`, { field: at });
};

@ApiTags('break-glass')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/break-glass')
export class BreakGlassController {
  // Authorization is checked before the body: a workload or an auditor learns nothing about the catalog.
  private readonly bodyPipe = new ZodBodyPipe(BreakGlassRequestSchema);

  constructor(private readonly breakGlass: BreakGlassService) {}

  /** What opening would expose (version references and targets, never a value), opening nothing: the CLI's --dry-run and confirmation. */
  @Post('preview')
  @HttpCode(200)
  @Needs('redis')
  @Takes(BreakGlassRequestSchema, 'the access it would open: the same body as opening')
  @Answers(200, BreakGlassPreviewSchema, 'what it would open')
  async preview(@CurrentCaller() caller: Caller, @Body() body: unknown): Promise<BreakGlassPreview> {
    asSre(caller);
    return this.breakGlass.preview(this.bodyPipe.transform(body));
  }

  /**
   * Time-boxed access to managed secrets or a role outside the bindings; rotated when it ends.
   * With an Idempotency-Key already used by this SRE within a day: 409 `break-glass-already-open`
   * (BreakGlassAlreadyOpenProblem: `breakGlassId`, `state`, `expiresAt`), and nothing opened or shown.
   */
  @Post()
  @HttpCode(201)
  @Needs('kafka', 'redis', 'gsm')
  @Takes(BreakGlassRequestSchema, 'what to open, why, under which ticket, for how long')
  @Honours('Idempotency-Key')
  @Answers(201, BreakGlassGrantSchema, 'the access: its values, shown this once')
  async open(
    @CurrentCaller() caller: Caller,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
  ): Promise<BreakGlassGrant> {
    const sre = asSre(caller);
    const request = this.bodyPipe.transform(body);
    const grant = await this.breakGlass.open(sre, request, idempotencyKey(idempotencyKeyHeader));
    return { ...grant, expiresAt: grant.expiresAt.toISOString(), followUp: BREAK_GLASS_FOLLOW_UP };
  }

  /** Accesses newest first, without values (SREs and auditors); `state` filters, `limit` and `after` page. */
  @Get()
  @Needs('redis')
  @QueryFrom(BreakGlassListQuerySchema)
  @Answers(200, BreakGlassPageSchema, 'a page of accesses')
  async list(@CurrentCaller() caller: Caller, @Query() query: Record<string, unknown>): Promise<BreakGlassPage> {
    asReader(caller);
    const { state, limit, after } = listQuery(query);
    const page = await this.breakGlass.list({ limit, ...(state ? { state } : {}), ...(after ? { after } : {}) });
    if (!page) throw new DomainError('invalid', 'invalid-query', `after: ${after} is not a listed break-glass access`, { field: 'after' });
    return page;
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
