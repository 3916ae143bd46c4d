import { Controller, Get, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import { PostureReportSchema } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, QueryFrom } from '@rotor/service-kit';

import { renderPostureHtml } from './posture-html';
import { PostureService } from './posture.service';

const PostureQuery = z.strictObject({ format: z.enum(['json', 'html']).default('json') });

@ApiTags('reports')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/reports')
export class ReportsController {
  constructor(private readonly posture: PostureService) {}

  /** Auditors and SREs: what needs attention, with owners and OWASP NHI / NIST CSF references. `?format=html` gives a self-contained page. */
  @Get('posture')
  @Needs('postgres')
  @QueryFrom(PostureQuery)
  @Answers(200, PostureReportSchema, 'the posture report; a self-contained page with ?format=html', {
    'text/html': { type: 'string', contentMediaType: 'text/html' },
  })
  async postureReport(
    @CurrentCaller() caller: Caller,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ) {
    if (!hasGroup(caller, OperatorGroups.auditor) && !hasGroup(caller, OperatorGroups.sre)) {
      throw new DomainError(
        'forbidden',
        'missing-group',
        `this operation needs the ${OperatorGroups.auditor} or ${OperatorGroups.sre} group`,
      );
    }
    const parsed = PostureQuery.safeParse(query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(',') : 'format');
      throw new DomainError('invalid', 'invalid-query', `${field}: ${issue?.message}`, { field });
    }
    const report = await this.posture.report();
    if (parsed.data.format === 'json') return report;
    response.setHeader('content-type', 'text/html; charset=utf-8');
    response.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    return renderPostureHtml(report);
  }
}
