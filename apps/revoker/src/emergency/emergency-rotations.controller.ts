import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller, type OperatorCaller } from '@rotor/identity';
import {
  EmergencyIdSchema,
  EmergencyPreviewRequestSchema,
  EmergencyPreviewSchema,
  EmergencyRotationRequestSchema,
  EmergencyRotationViewSchema,
  IdempotencyKeySchema,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Honours, Needs, PathFrom, Takes, ZodBodyPipe } from '@rotor/service-kit';

import { EmergencyPreviewer } from './emergency-preview';
import { EmergencyRotationService } from './emergency-rotation.service';

const sreOnly = (caller: Caller): OperatorCaller => {
  if (caller.kind !== 'operator' || !hasGroup(caller, OperatorGroups.sre)) {
    throw new DomainError('forbidden', 'missing-group', 'emergency rotation needs the rotor:sre group');
  }
  return caller;
};

const emergencyId = (id: string): string => {
  if (!EmergencyIdSchema.safeParse(id).success)
    throw new DomainError('invalid', 'invalid-emergency-id', 'id: must be an emergency rotation id (UUID)', { field: 'id' });
  return id;
};

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
    sreOnly(caller);
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
    const sre = sreOnly(caller);
    const request = this.bodyPipe.transform(body);
    if (idempotencyKey !== undefined && !IdempotencyKeySchema.safeParse(idempotencyKey).success) {
      throw new DomainError(
        'invalid',
        'invalid-idempotency-key',
        'Idempotency-Key: must be 1-128 printable ASCII characters without spaces',
        { field: 'Idempotency-Key' },
      );
    }
    const { created, view } = await this.rotations.start(sre, request, idempotencyKey);
    response.status(created ? 202 : 200);
    return view;
  }

  @Get(':id')
  @Needs('redis')
  @PathFrom({ id: EmergencyIdSchema })
  @Answers(200, EmergencyRotationViewSchema, 'the rotation and its progress')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    if (!hasGroup(caller, OperatorGroups.sre) && !hasGroup(caller, OperatorGroups.auditor)) {
      throw new DomainError('forbidden', 'missing-group', 'reading emergency rotations needs the rotor:sre or rotor:auditor group');
    }
    return this.rotations.view(emergencyId(id));
  }
}
