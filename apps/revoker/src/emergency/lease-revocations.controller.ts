import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';

import type { Caller } from '@rotor/identity';
import {
  EmergencyIdSchema,
  LeaseRevocationPageSchema,
  LeaseRevocationPreviewRequestSchema,
  LeaseRevocationPreviewSchema,
  LeaseRevocationRequestSchema,
  LeaseRevocationViewSchema,
  RunListQuerySchema,
  type LeaseRevocationPage,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Honours, Needs, PathFrom, QueryFrom, Takes, ZodBodyPipe } from '@rotor/service-kit';

import { idempotencyKeyOf, runId, runListQuery, sreOnly, sreOrAuditor } from './emergency-access';
import { EmergencyPreviewer } from './emergency-preview';
import { EmergencyRotationService } from './emergency-rotation.service';

const WHAT = 'lease revocation';

/**
 * Revocation of leases by selector (like `vault lease revoke -prefix`, with a preview): an
 * emergency run over leases only, so it has the same checkpoints, crash safety and progress.
 */
@ApiTags('lease-revocations')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/lease-revocations')
export class LeaseRevocationsController {
  // Validated in the handlers, after the group check: a caller without rotor:sre learns nothing about the body.
  private readonly bodyPipe = new ZodBodyPipe(LeaseRevocationRequestSchema);
  private readonly previewPipe = new ZodBodyPipe(LeaseRevocationPreviewRequestSchema);

  constructor(
    private readonly runs: EmergencyRotationService,
    private readonly previewer: EmergencyPreviewer,
  ) {}

  /** The leases a revocation with this selector would end now, by role and backend; starts nothing (`--dry-run`). */
  @Post('preview')
  @HttpCode(200)
  @Needs('redis')
  @Takes(LeaseRevocationPreviewRequestSchema, 'the selector to count')
  @Answers(200, LeaseRevocationPreviewSchema, 'what it would revoke')
  async preview(@CurrentCaller() caller: Caller, @Body() body: unknown) {
    sreOnly(caller, WHAT);
    return this.previewer.previewLeases(this.previewPipe.transform(body).selector);
  }

  /** 202 when started, 200 when this request id (Idempotency-Key) already started it. Authorization is checked before the body. */
  @Post()
  // Kafka too: each lease's revocation.requested names the SRE; a run that cannot publish would wait for nothing.
  @Needs('redis', 'kafka')
  @Takes(LeaseRevocationRequestSchema, 'which leases to revoke, and why')
  @Honours('Idempotency-Key')
  @Answers(202, LeaseRevocationViewSchema, 'started')
  @Answers(200, LeaseRevocationViewSchema, 'this request id had already started it')
  async start(
    @CurrentCaller() caller: Caller,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ) {
    const sre = sreOnly(caller, WHAT);
    const request = this.bodyPipe.transform(body);
    const { created, view } = await this.runs.startLeaseRevocation(sre, request, idempotencyKeyOf(idempotencyKey));
    response.status(created ? 202 : 200);
    return view;
  }

  /** The lease revocations the revoker still keeps (7 days after they end), newest first; `state` filters, `after` pages. */
  @Get()
  @Needs('redis')
  @QueryFrom(RunListQuerySchema)
  @Answers(200, LeaseRevocationPageSchema, 'a page of lease revocations, newest first')
  async list(@CurrentCaller() caller: Caller, @Query() query: Record<string, unknown>): Promise<LeaseRevocationPage> {
    sreOrAuditor(caller, 'lease revocations');
    return this.runs.list('lease-revocation', runListQuery(query));
  }

  @Get(':id')
  @Needs('redis')
  @PathFrom({ id: EmergencyIdSchema })
  @Answers(200, LeaseRevocationViewSchema, 'the revocation and its progress')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    sreOrAuditor(caller, 'lease revocations');
    return this.runs.leaseRevocation(runId(id, 'invalid-lease-revocation-id', 'a lease revocation'));
  }
}
