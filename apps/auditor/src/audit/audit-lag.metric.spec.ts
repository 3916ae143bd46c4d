import { Kafka, logLevel } from 'kafkajs';

import { Metrics } from '@rotor/telemetry';

import type { AuditorConfig } from '../config';
import { AuditLagMetric } from './audit-lag.metric';

describe('rotor_audit_lag_messages when Kafka does not answer', () => {
  // Port 1 on loopback refuses at once: a real client, a real failure, no broker needed.
  const kafka = new Kafka({
    clientId: 'audit-lag-spec',
    brokers: ['127.0.0.1:1'],
    connectionTimeout: 200,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const metrics = new Metrics('auditor');
  // The lag query reads only the consumer group of the config.
  const lag = new AuditLagMetric(kafka, { consumerGroup: 'rotor-auditor' } as AuditorConfig, metrics);

  afterAll(() => lag.onApplicationShutdown());

  it('exports no lag sample (never a made-up -1) and counts the failure, at every scrape', async () => {
    const scrapes = [await metrics.render(), await metrics.render(), await metrics.render()];
    for (const text of scrapes) {
      expect(text).toContain('# TYPE rotor_audit_lag_messages gauge');
      expect(text).not.toMatch(/^rotor_audit_lag_messages[{ ]/m);
    }
    // A scrape reads the counter while the lag query is still out: its failure shows from the next one.
    expect(scrapes.map((text) => /^rotor_audit_lag_errors_total\{rotor_service="auditor"\} (\d+)$/m.exec(text)?.[1])).toEqual([
      '0',
      '1',
      '2',
    ]);
  });
});
