import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';

import type { Caller } from '@rotor/identity';
import { CallerGuard, CurrentCaller, Needs, ZodBodyPipe } from '@rotor/service-kit';

import { IntrospectionService } from './introspection.service';

const IntrospectBody = z.object({ token: z.string().min(1).max(4096), token_type_hint: z.string().optional() });

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
  introspect(@CurrentCaller() caller: Caller, @Body(new ZodBodyPipe(IntrospectBody)) body: z.infer<typeof IntrospectBody>) {
    return this.introspection.introspect(body.token, caller);
  }
}
