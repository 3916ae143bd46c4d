import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import {
  CopyFingerprintSetSchema,
  CopyScanReportSchema,
  ReportedCopiesReceiptSchema,
  ReportedCopiesSchema,
  type CopyFingerprintSet,
  type CopyScanReport,
  type ReportedCopiesReceipt,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, requireGroup, Takes, ZodBodyPipe } from '@rotor/service-kit';

import { ClusterCopyScanner } from './cluster-copy-scanner';
import { CopyFingerprints } from './copy-fingerprints';
import { ReportedCopiesService } from './reported-copies';

const requireOperator = (caller: Caller) => {
  if (!hasGroup(caller, OperatorGroups.sre) && !hasGroup(caller, OperatorGroups.auditor)) {
    throw new DomainError('forbidden', 'missing-group', 'copy discovery needs the rotor:sre or rotor:auditor group');
  }
};

@ApiTags('copies')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/copy-scan')
export class CopyScanController {
  private readonly findingsPipe = new ZodBodyPipe(ReportedCopiesSchema);

  constructor(
    private readonly scanner: ClusterCopyScanner,
    private readonly fingerprints: CopyFingerprints,
    private readonly reported: ReportedCopiesService,
  ) {}

  /** Scans the watched namespaces for manual copies now and answers with what it found (and removed). */
  @Post()
  @HttpCode(200)
  @Needs('redis', 'kafka')
  @Answers(200, CopyScanReportSchema, 'what the scan found, and removed')
  async scan(@CurrentCaller() caller: Caller): Promise<CopyScanReport> {
    requireGroup(caller, OperatorGroups.sre);
    const report = await this.scanner.scanExclusive();
    if (!report)
      throw new DomainError('conflict', 'scan-in-progress', 'a copy scan is already running; try again shortly', { retryAfterSeconds: 5 });
    return report;
  }

  /**
   * The keyed hashes `rotor scan` compares files with: the scan key and, per live or recently
   * retired version, the HMAC and length of each form. Never a value.
   */
  @Post('fingerprints')
  @HttpCode(200)
  // Not GSM: versions it cannot read now are listed as unfingerprinted.
  @Needs('redis')
  @Answers(200, CopyFingerprintSetSchema, 'the scan key and the fingerprints')
  async fingerprintsForScan(@CurrentCaller() caller: Caller): Promise<CopyFingerprintSet> {
    requireOperator(caller);
    const { fingerprints, unfingerprinted } = await this.fingerprints.scannable();
    return { scanKey: this.fingerprints.scanKeyHex, fingerprints: this.fingerprints.forOperators(fingerprints), unfingerprinted };
  }

  /** Publishes copies `rotor scan --report` found in files or CI variables. */
  @Post('findings')
  @HttpCode(200)
  @Needs('redis', 'kafka')
  @Takes(ReportedCopiesSchema, 'where each copy was found (never its value)')
  @Answers(200, ReportedCopiesReceiptSchema, 'how many findings were published')
  async findings(@CurrentCaller() caller: Caller, @Body() body: unknown): Promise<ReportedCopiesReceipt> {
    requireOperator(caller);
    return this.reported.publish(caller, this.findingsPipe.transform(body));
  }
}
