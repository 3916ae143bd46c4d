import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';

import type { Caller } from '@rotor/identity';
import {
  EmergencyIdSchema,
  EmergencyPreviewRequestSchema,
  EmergencyPreviewSchema,
  EmergencyRotationPageSchema,
  EmergencyRotationRequestSchema,
  EmergencyRotationViewSchema,
  RunListQuerySchema,
  type EmergencyRotationPage,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Honours, Needs, PathFrom, QueryFrom, Takes, ZodBodyPipe } from '@rotor/service-kit';

import { idempotencyKeyOf, runId, runListQuery, sreOnly, sreOrAuditor } from './emergency-access';
import { EmergencyPreviewer } from './emergency-preview';
import { EmergencyRotationService } from './emergency-rotation.service';

const WHAT = 'emergency rotation';

@ApiTags('emergency-rotations')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/emergency-rotations')
export class EmergencyRotationsController {
  // Validated in the handlers, after the group check: a caller without rotor:sre learns nothing about the body.
  private readonly bodyPipe = new ZodBodyPipe(EmergencyRotationRequestSchema);
  private readonly previewPipe = new ZodBodyPipe(EmergencyPreviewRequestSchema);

  constructor(
    private readonly rotations: EmergencyRotationService,
    private readonly previewer: EmergencyPreviewer,
  ) {}

  /** What a rotation with this selector would cover now; starts nothing (the CLI's --dry-run and confirmation). */
  @Post('preview')
  @HttpCode(200)
  @Needs('redis')
  @Takes(EmergencyPreviewRequestSchema, 'the selector to count')
  @Answers(200, EmergencyPreviewSchema, 'what it would cover')
  async preview(@CurrentCaller() caller: Caller, @Body() body: unknown) {
    sreOnly(caller, WHAT);
    return this.previewer.preview(this.previewPipe.transform(body).selector);
  }

  /** 202 when started, 200 when this request id already started it. Authorization is checked before the body. */
  @Post()
  // Kafka too: the rotation runs on events; an SRE told 202 while it cannot start would wait for nothing.
  @Needs('redis', 'kafka')
  @Takes(EmergencyRotationRequestSchema, 'what to rotate, how, and why')
  @Honours('Idempotency-Key')
  @Answers(202, EmergencyRotationViewSchema, 'started')
  @Answers(200, EmergencyRotationViewSchema, 'this request id had already started it')
  async start(
    @CurrentCaller() caller: Caller,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ) {
    const sre = sreOnly(caller, WHAT);
    const request = this.bodyPipe.transform(body);
    const { created, view } = await this.rotations.start(sre, request, idempotencyKeyOf(idempotencyKey));
    response.status(created ? 202 : 200);
    return view;
  }

  /** The rotations the revoker still keeps (7 days after they end), newest first; `state` filters, `after` pages. */
  @Get()
  @Needs('redis')
  @QueryFrom(RunListQuerySchema)
  @Answers(200, EmergencyRotationPageSchema, 'a page of emergency rotations, newest first')
  async list(@CurrentCaller() caller: Caller, @Query() query: Record<string, unknown>): Promise<EmergencyRotationPage> {
    sreOrAuditor(caller, 'emergency rotations');
    return this.rotations.list('rotation', runListQuery(query));
  }

  @Get(':id')
  @Needs('redis')
  @PathFrom({ id: EmergencyIdSchema })
  @Answers(200, EmergencyRotationViewSchema, 'the rotation and its progress')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    sreOrAuditor(caller, 'emergency rotations');
    return this.rotations.view(runId(id, 'invalid-emergency-id', 'an emergency rotation'));
  }
}
