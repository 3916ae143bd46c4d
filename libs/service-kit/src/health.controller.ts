import { Controller, Get, HttpStatus, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';

import { Metrics, metricsFormatFor } from '@rotor/telemetry';

import { ReadinessRegistry } from './readiness';

@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly metrics: Metrics,
  ) {}

  /** Liveness: the process serves HTTP. Dependencies are /readyz's business. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() response: Response): Promise<void> {
    const report = await this.readiness.report();
    response.status(report.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json(report);
  }

  /**
   * The text format by default (curl, older scrapers); OpenMetrics, which carries exemplars, when
   * the scraper's Accept header prefers it, as Prometheus' does.
   */
  @Get('metrics')
  async metricsText(@Req() request: Request, @Res() response: Response): Promise<void> {
    const format = metricsFormatFor(request.headers.accept);
    response
      .vary('Accept')
      .type(this.metrics.contentType(format))
      .send(await this.metrics.render(format));
  }
}
