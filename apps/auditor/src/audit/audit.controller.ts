import { Controller, Get, Inject, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';

import { identifierKey, pseudonym } from '@rotor/audit-chain';
import { PgAuditViews } from '@rotor/audit-store';
import { DomainError } from '@rotor/errors';
import { OperatorGroups, type Caller } from '@rotor/identity';
import { AuditEventsPageSchema, AuditVerifyReportSchema, type AuditEventsPage, type AuditVerifyReport } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, QueryFrom, requireGroup } from '@rotor/service-kit';

import type { AuditorConfig } from '../config';
import { AUDITOR_CONFIG } from '../platform/tokens';

import { ChainVerificationService } from './chain-verification.service';

const EventsQuery = z.strictObject({
  lease: z.string().min(1).max(128).optional(),
  workload: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'must be <namespace>/<serviceAccount>')
    .optional(),
  secret: z.string().min(1).max(128).optional(),
  /** An operator's token subject; matched by its keyed hash, which is all the log keeps. */
  actor: z.string().min(1).max(256).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

@ApiTags('audit')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/audit')
export class AuditController {
  private readonly identifierKey: Buffer;

  constructor(
    private readonly views: PgAuditViews,
    private readonly verification: ChainVerificationService,
    @Inject(AUDITOR_CONFIG) config: AuditorConfig,
  ) {
    this.identifierKey = identifierKey(config.auditKey);
  }

  @Get('events')
  @Needs('postgres')
  @QueryFrom(EventsQuery)
  @Answers(200, AuditEventsPageSchema, 'one page of the matching audit records')
  async events(@CurrentCaller() caller: Caller, @Query() rawQuery: Record<string, unknown>): Promise<AuditEventsPage> {
    requireGroup(caller, OperatorGroups.auditor);
    const parsed = EventsQuery.safeParse(rawQuery);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(',') : undefined);
      throw new DomainError('invalid', 'invalid-query', `${field ?? 'query'}: ${issue?.message}`, { field });
    }
    const { from, to, actor, ...rest } = parsed.data;
    const page = await this.views.events({
      ...rest,
      ...(actor ? { actor: pseudonym(this.identifierKey, actor) } : {}),
      ...(from ? { from: new Date(from) } : {}),
      ...(to ? { to: new Date(to) } : {}),
    });
    return { ...page, offset: rest.offset, limit: rest.limit };
  }

  @Get('verify')
  @Needs('kafka')
  @Answers(200, AuditVerifyReportSchema, 'the audit log checked end to end')
  async verify(@CurrentCaller() caller: Caller): Promise<AuditVerifyReport> {
    requireGroup(caller, OperatorGroups.auditor);
    return this.verification.verify();
  }
}
