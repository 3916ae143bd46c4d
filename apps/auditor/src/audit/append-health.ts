import { Injectable } from '@nestjs/common';

import { NotReady, ReadinessRegistry } from '@rotor/service-kit';
import { Metrics } from '@rotor/telemetry';

/**
 * Whether the auditor can append. While it cannot, its consumer holds its input uncommitted
 * (nothing is lost) and /readyz answers 503 with the reason, under `audit-append`.
 */
@Injectable()
export class AppendHealth {
  private failure?: { since: number; reason: string; operatorMessage?: string };
  private readonly failing;

  constructor(readiness: ReadinessRegistry, metrics: Metrics) {
    this.failing = metrics.gauge('rotor_audit_append_failing', '1 while the auditor cannot append (its input is not committed)');
    metrics.gauge('rotor_audit_append_failing_seconds', 'How long appends have been failing, 0 when they succeed', [], () =>
      Promise.resolve(this.failure ? (Date.now() - this.failure.since) / 1000 : 0),
    );
    readiness.register({ name: 'audit-append', check: () => this.check() });
  }

  failed(error: unknown): void {
    const reason = error instanceof Error ? error.message : 'unknown error';
    this.failure = {
      since: this.failure?.since ?? Date.now(),
      reason,
      ...(error instanceof NotReady ? { operatorMessage: error.message } : {}),
    };
    this.failing.set(1);
  }

  succeeded(): void {
    this.failure = undefined;
    this.failing.set(0);
  }

  private check(): Promise<void> {
    if (!this.failure) return Promise.resolve();
    const seconds = Math.round((Date.now() - this.failure.since) / 1000);
    // Only rotor's own words for operators reach /readyz; a driver's text goes to the log.
    const detail = `cannot append for ${seconds}s, input not committed${this.failure.operatorMessage ? `: ${this.failure.operatorMessage}` : ''}`;
    return Promise.reject(new NotReady(detail, 'unavailable', { cause: new Error(this.failure.reason) }));
  }
}
