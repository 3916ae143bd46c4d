import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Caller } from '@rotor/identity';
import { IntrospectionAnswerSchema, IntrospectionRequestSchema, type IntrospectionRequest } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, Takes, ZodBodyPipe } from '@rotor/service-kit';

import { IntrospectionService } from './introspection.service';

/** RFC 7662 token introspection for resource servers holding an opaque token. */
@ApiTags('introspection')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1')
export class IntrospectionController {
  constructor(private readonly introspection: IntrospectionService) {}

  @Post('introspect')
  @HttpCode(200)
  @Needs('redis')
  @Takes(IntrospectionRequestSchema, 'the token (RFC 7662 §2.1)', 'application/x-www-form-urlencoded', 'application/json')
  @Answers(200, IntrospectionAnswerSchema, 'whether the token is active, and if so whose (RFC 7662 §2.2)')
  introspect(@CurrentCaller() caller: Caller, @Body(new ZodBodyPipe(IntrospectionRequestSchema)) body: IntrospectionRequest) {
    return this.introspection.introspect(body.token, caller);
  }
}
