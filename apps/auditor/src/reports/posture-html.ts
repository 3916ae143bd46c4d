import type { PostureReport } from '@rotor/audit-chain';

/**
 * The posture report as one self-contained HTML page: inline CSS and inline SVG charts, no
 * script and no external asset, so it can be mailed or archived as is. Every text from the
 * report is escaped (secret names, locators and tickets come from people).
 */

const escape = (text: string | number | undefined): string =>
  String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const COLORS = {
  high: '#c62828',
  medium: '#ef6c00',
  low: '#607d8b',
  bar: '#1565c0',
  over: '#c62828',
  outside: '#c62828',
  delivered: '#2e7d32',
} as const;
const ROW = 22;
const LABEL = 190;
const WIDTH = 720;

/** Horizontal bars of days since the current version; a tick marks each secret's rotation period. */
function rotationChart(rows: PostureReport['charts']['rotationAge']): string {
  if (rows.length === 0) return '<p class="muted">No managed secrets.</p>';
  const max = Math.max(...rows.map((row) => Math.max(row.ageDays ?? 0, row.periodDays)), 1e-6);
  const scale = (value: number) => ((WIDTH - LABEL - 90) * value) / max;
  const height = rows.length * ROW + 24;
  const bars = rows
    .map((row, index) => {
      const y = index * ROW + 4;
      const age = row.ageDays ?? 0;
      const label = row.ageDays === undefined ? 'no version' : `${age} d`;
      return [
        `<text x="${LABEL - 8}" y="${y + 13}" text-anchor="end">${escape(row.secret)}</text>`,
        `<rect x="${LABEL}" y="${y}" width="${Math.max(scale(age), 1).toFixed(1)}" height="${ROW - 8}" fill="${row.overdue ? COLORS.over : COLORS.bar}"><title>${escape(`${row.secret}: ${label}, period ${row.periodDays} d`)}</title></rect>`,
        `<line x1="${(LABEL + scale(row.periodDays)).toFixed(1)}" x2="${(LABEL + scale(row.periodDays)).toFixed(1)}" y1="${y - 2}" y2="${y + ROW - 6}" stroke="#000" stroke-width="2"/>`,
        `<text x="${(LABEL + Math.max(scale(age), scale(row.periodDays)) + 6).toFixed(1)}" y="${y + 13}">${escape(label)}</text>`,
      ].join('');
    })
    .join('');
  return `<svg class="chart" id="rotation-age-chart" role="img" aria-label="Rotation age per secret" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">${bars}<text x="${LABEL}" y="${height - 4}" class="muted">bar: days since the current version · tick: rotation period · red: overdue</text></svg>`;
}

/** Stacked bars: copies rotor delivered, and copies found outside the inventory. */
function copiesChart(rows: PostureReport['charts']['copies']): string {
  if (rows.length === 0) return '<p class="muted">No copies.</p>';
  const max = Math.max(...rows.map((row) => row.delivered + row.outside), 1);
  const unit = (WIDTH - LABEL - 60) / max;
  const height = rows.length * ROW + 24;
  const bars = rows
    .map((row, index) => {
      const y = index * ROW + 4;
      const delivered = row.delivered * unit;
      return [
        `<text x="${LABEL - 8}" y="${y + 13}" text-anchor="end">${escape(row.secret)}</text>`,
        `<rect x="${LABEL}" y="${y}" width="${delivered.toFixed(1)}" height="${ROW - 8}" fill="${COLORS.delivered}"><title>${escape(`${row.secret}: ${row.delivered} delivered`)}</title></rect>`,
        `<rect x="${(LABEL + delivered).toFixed(1)}" y="${y}" width="${(row.outside * unit).toFixed(1)}" height="${ROW - 8}" fill="${COLORS.outside}"><title>${escape(`${row.secret}: ${row.outside} outside the inventory`)}</title></rect>`,
        `<text x="${(LABEL + (row.delivered + row.outside) * unit + 6).toFixed(1)}" y="${y + 13}">${row.delivered} + ${row.outside}</text>`,
      ].join('');
    })
    .join('');
  return `<svg class="chart" id="copies-chart" role="img" aria-label="Copies per secret" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">${bars}<text x="${LABEL}" y="${height - 4}" class="muted">green: delivered by rotor · red: outside the inventory</text></svg>`;
}

export function renderPostureHtml(report: PostureReport): string {
  const { summary } = report;
  const rows = report.findings
    .map(
      (finding) => `<tr class="${finding.severity}">
<td><span class="sev ${finding.severity}">${escape(finding.severity)}</span></td><td>${escape(finding.kind)}</td><td>${escape(finding.owner ?? '—')}</td><td>${escape(finding.message)}</td>
<td>${finding.references.map((reference) => `<span class="ref" title="${escape(`${reference.framework}: ${reference.title}`)}">${escape(reference.id)} ${escape(reference.title)}</span>`).join('<br>')}</td></tr>`,
    )
    .join('\n');
  const kinds = Object.entries(summary.byKind)
    .map(([kind, count]) => `<li>${escape(kind)}: <b>${count}</b></li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rotor posture report ${escape(report.generatedAt)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#212121}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em}
.muted{color:#757575;font-size:12px}
.cards{display:flex;gap:1em;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:7em}
.card b{font-size:1.6em;display:block}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e0e0e0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#fafafa}.sev{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}
.sev.high{background:${COLORS.high}}.sev.medium{background:${COLORS.medium}}.sev.low{background:${COLORS.low}}
.ref{font-size:12px;white-space:nowrap}svg text{font-size:12px;fill:#212121}svg text.muted{fill:#757575}
</style></head>
<body>
<h1>rotor posture report</h1>
<p class="muted">Generated ${escape(report.generatedAt)} from the audit log and the catalog. Values are never part of this report.</p>
<div class="cards"><div class="card"><b>${summary.findings}</b>findings</div><div class="card"><b style="color:${COLORS.high}">${summary.bySeverity.high}</b>high</div><div class="card"><b style="color:${COLORS.medium}">${summary.bySeverity.medium}</b>medium</div><div class="card"><b style="color:${COLORS.low}">${summary.bySeverity.low}</b>low</div></div>
<ul>${kinds}</ul>
<h2>Rotation age per secret</h2>
${rotationChart(report.charts.rotationAge)}
<h2>Copies per secret</h2>
${copiesChart(report.charts.copies)}
<h2>Findings</h2>
<table><thead><tr><th>Severity</th><th>Kind</th><th>Owner</th><th>Finding</th><th>References</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="5">No findings.</td></tr>'}
</tbody></table>
<p class="muted">References: OWASP Top 10 Non-Human Identities Risks – 2025; NIST Cybersecurity Framework 2.0 subcategories.</p>
</body></html>
`;
}
