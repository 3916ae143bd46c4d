import { Metrics } from './metrics';

describe('Metrics', () => {
  it('labels every sample rotor_service, never service (the target label Prometheus sets for a scraped Service)', async () => {
    const metrics = new Metrics('issuer');
    metrics.counter('rotor_probe_total', 'probe', ['outcome']).inc({ outcome: 'ok' });
    metrics.gauge('rotor_probe_level', 'probe').set(3);
    const text = await metrics.render();
    expect(text).toContain('rotor_probe_total{outcome="ok",rotor_service="issuer"} 1');
    expect(text).toContain('rotor_probe_level{rotor_service="issuer"} 3');
    expect(text).not.toMatch(/[{,]service="/);
  });

  it('exports a sampled gauge when its sample reads, and no sample at a scrape where it cannot', async () => {
    const metrics = new Metrics('auditor');
    const readings: (number | undefined)[] = [7, undefined, 0];
    metrics.gauge('rotor_probe_lag', 'probe', [], async () => readings.shift());
    const line = /^rotor_probe_lag\{rotor_service="auditor"\} (\S+)$/m;
    expect(line.exec(await metrics.render())?.[1]).toBe('7');
    const unread = await metrics.render();
    expect(unread).toContain('# TYPE rotor_probe_lag gauge');
    expect(unread).not.toMatch(/^rotor_probe_lag[{ ]/m);
    expect(line.exec(await metrics.render())?.[1]).toBe('0');
  });

  it('hands back the metric already registered under a name', () => {
    const metrics = new Metrics('issuer');
    expect(metrics.counter('rotor_probe_total', 'probe')).toBe(metrics.counter('rotor_probe_total', 'probe'));
  });
});
