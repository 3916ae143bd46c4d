/**
 * The metric names rotor's services export, derived from their source: every
 * `metrics.counter|gauge|histogram('rotor_…'` call in apps/ and libs/ (the name on the line or
 * the next), a histogram's `_bucket`, `_sum` and `_count` series, and prom-client's default
 * `process_*` and `nodejs_*` metrics, which every registry collects (libs/telemetry).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const repoRoot = join(__dirname, '..', '..');

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
    return entry.name.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name) ? [path] : [];
  });

/** The non-test TypeScript sources of apps/ and libs/. */
export const serviceSources = (): string[] =>
  [...sources(join(repoRoot, 'apps')), ...sources(join(repoRoot, 'libs'))].map((file) => readFileSync(file, 'utf8'));

/** `metrics.gauge('rotor_…'` through libs/telemetry, or `new Gauge({ name: 'rotor_…'` where a metric needs its own collect. */
const registrations = (code: string[], kinds: string) =>
  code.flatMap((text) => [
    ...[...text.matchAll(new RegExp(`\\.(?:${kinds})(?:<[^>]*>)?\\(\\s*'(rotor_[a-z0-9_]+)'`, 'g'))].map((match) => match[1]!),
    ...[...text.matchAll(new RegExp(`new (?:${capitalised(kinds)})(?:<[^>]*>)?\\(\\{\\s*name: '(rotor_[a-z0-9_]+)'`, 'g'))].map(
      (match) => match[1]!,
    ),
  ]);
const capitalised = (kinds: string) => kinds.replace(/(^|\|)([a-z])/g, (_all, bar: string, letter: string) => bar + letter.toUpperCase());

/** rotor's own metrics as registered: every name, and which of them are histograms. */
export function registeredMetrics(code = serviceSources()): { names: Set<string>; histograms: Set<string> } {
  return {
    names: new Set(registrations(code, 'counter|gaugeSeries|gauge|histogram|latencyHistogram')),
    histograms: new Set(registrations(code, 'histogram|latencyHistogram')),
  };
}

/** prom-client's default metrics on this platform (Linux, as in the images), with their types. */
function defaultMetrics(): { name: string; histogram: boolean }[] {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry.getMetricsAsArray().map((metric) => ({ name: metric.name, histogram: metric instanceof Histogram }));
}

/** Every series name a scrape of a rotor service can hold. */
export function exportedSeries(code = serviceSources()): Set<string> {
  const { names, histograms } = registeredMetrics(code);
  const defaults = defaultMetrics();
  const histogramNames = [...histograms, ...defaults.filter((metric) => metric.histogram).map((metric) => metric.name)];
  return new Set([
    ...names,
    ...defaults.map((metric) => metric.name),
    ...histogramNames.flatMap((name) => [`${name}_bucket`, `${name}_sum`, `${name}_count`]),
  ]);
}
