import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';

import { DomainError } from '@rotor/errors';
import { OperatorGroups, type Caller } from '@rotor/identity';
import { DriftScanReportSchema } from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, requireGroup } from '@rotor/service-kit';

import { DriftScanner } from './drift-scanner';

@ApiTags('deliveries')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/reconcile')
export class ReconcileController {
  constructor(private readonly scanner: DriftScanner) {}

  /** Runs a drift scan now and answers with its findings. */
  @Post()
  @HttpCode(200)
  @Needs('redis', 'kafka')
  @Answers(200, DriftScanReportSchema, 'what the scan found, and what it repaired')
  async reconcile(@CurrentCaller() caller: Caller) {
    requireGroup(caller, OperatorGroups.sre);
    const report = await this.scanner.scanExclusive();
    if (!report)
      throw new DomainError('conflict', 'scan-in-progress', 'a drift scan is already running; try again shortly', { retryAfterSeconds: 5 });
    return report;
  }
}
