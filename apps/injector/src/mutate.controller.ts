import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { Counter } from 'prom-client';

import { LOGGER, ZodBodyPipe } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import { admissionReviewSchema, review, type AdmissionOutcome, type AdmissionReview, type AgentSettings } from './injection';

export const AGENT_SETTINGS = Symbol('AGENT_SETTINGS');

/** The API server's call: always 200 with an AdmissionReview, except for a body that is not one (400). */
@Controller()
export class MutateController {
  private readonly admissions: Counter<'outcome'>;

  constructor(
    @Inject(AGENT_SETTINGS) private readonly settings: AgentSettings,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.admissions = metrics.counter('rotor_injector_admissions_total', 'Pod admission reviews answered, by outcome.', ['outcome']);
  }

  // A Kubernetes API (admission.k8s.io/v1), not one of rotor's REST routes: kept out of /docs.
  @ApiExcludeEndpoint()
  @Post('mutate')
  @HttpCode(200)
  mutate(@Body(new ZodBodyPipe(admissionReviewSchema)) body: AdmissionReview) {
    const { answer, outcome } = review(body, this.settings);
    this.admissions.inc({ outcome });
    this.log(body, outcome, answer.response.status?.message);
    return answer;
  }

  private log(body: AdmissionReview, outcome: AdmissionOutcome, refusal: string | undefined) {
    if (outcome === 'not-requested') return;
    const { uid, namespace, name } = body.request;
    const metadata = (body.request.object as { metadata?: { generateName?: string } } | null | undefined)?.metadata;
    const pod = { uid, namespace, pod: name ?? metadata?.generateName };
    if (outcome === 'refused') this.logger.warn({ ...pod, outcome, refusal }, 'pod refused');
    else this.logger.info({ ...pod, outcome }, 'pod admitted');
  }
}
