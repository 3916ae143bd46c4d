import { assessPosture } from '@rotor/audit-chain';

import { renderPostureHtml } from './posture-html';

const NOW = Date.parse('2026-11-27T12:00:00.000Z');
const report = assessPosture({
  now: NOW,
  catalog: { roles: [], managedSecrets: [{ name: 'db', owner: '<script>alert(1)</script>', rotationPeriodMs: 86_400_000 }] },
  versions: { db: [{ secret: 'db', version: 1, state: 'current', createdAt: new Date(NOW - 3 * 86_400_000).toISOString() }] },
  copies: {},
  discoveredCopies: [
    {
      id: 'c',
      secret: 'db',
      version: 1,
      target: { kind: 'discovered:file', name: '' },
      locator: 'path=/repo/"x"&<y>.env,line=3',
      origin: 'discovered',
      state: 'discovered',
    },
  ],
  drifts: [],
  irrevocableLeases: [],
  breakGlass: [],
  breakGlassVersions: {},
});

describe('posture report page', () => {
  const html = renderPostureHtml(report);

  it('is self-contained: inline style and SVG, no script, no external reference', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<style>');
    expect(html).toContain('id="rotation-age-chart"');
    expect(html).toContain('id="copies-chart"');
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
  });

  it('escapes every text taken from the report', () => {
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('path=/repo/&quot;x&quot;&amp;&lt;y&gt;.env,line=3');
  });

  it('lists each finding with its references and the counts', () => {
    expect(html).toContain('NHI7:2025 Long-Lived Secrets');
    expect(html).toContain('NHI2:2025 Secret Leakage');
    expect(html).toContain('ID.AM-07');
    expect(html).toMatch(/<b>2<\/b>findings/);
  });
});
