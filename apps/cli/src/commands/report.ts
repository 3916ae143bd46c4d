import { writeFileSync } from 'node:fs';

import type { PostureReport } from '@rotor/rest-contract';

import type { CliContext, CliFlags } from '../context';
import { ApiError, request, send } from '../http-client';
import { renderTable } from '../output';

const SEVERITIES = ['low', 'medium', 'high'] as const;

/** The page as the auditor renders it (`?format=html`); the CLI only saves it. */
async function fetchHtml(url: string, token: string): Promise<string> {
  // send() trusts ROTOR_CA_FILE and names an unreachable or untrusted server.
  const response = await send(url, { headers: { authorization: `Bearer ${token}` } });
  if (response.status < 200 || response.status > 299) {
    let problem: ApiError['problem'] = {};
    try {
      problem = JSON.parse(response.text) as ApiError['problem'];
    } catch {
      // not a problem document: the status says enough
    }
    throw new ApiError(response.status, problem);
  }
  return response.text;
}

/**
 * `rotor report [--json] [--html FILE] [--fail-on high|medium|low]`: the posture report, as a
 * table for people, JSON for scripts, or a self-contained HTML page. Exits 1 with --fail-on
 * when a finding of that severity or worse exists (for pipelines), else 0.
 */
export async function reportCommand(context: CliContext, flags: CliFlags): Promise<void> {
  const failOn = flags['fail-on'];
  if (failOn !== undefined && !SEVERITIES.includes(failOn as (typeof SEVERITIES)[number]))
    throw new Error('--fail-on must be high, medium or low');
  const token = await context.token(['rotor:auditor']);
  const url = `${context.urls.auditor}/v1/reports/posture`;
  const report = await request<PostureReport>(url, { token });

  const html = flags['html'];
  if (typeof html === 'string') {
    writeFileSync(html, await fetchHtml(`${url}?format=html`, token), { mode: 0o640 });
    process.stderr.write(`rotor: posture report written to ${html}\n`);
  }
  if (context.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(
      renderTable(
        ['severity', 'kind', 'owner', 'finding', 'references'],
        report.findings.map((finding) => [
          finding.severity,
          finding.kind,
          finding.owner,
          finding.message,
          finding.references.map((reference) => reference.id).join(' '),
        ]),
      ),
    );
    const { high, medium, low } = report.summary.bySeverity;
    process.stdout.write(`\n${report.summary.findings} findings (${high} high, ${medium} medium, ${low} low) at ${report.generatedAt}\n`);
  }

  if (typeof failOn === 'string') {
    const threshold = SEVERITIES.indexOf(failOn as (typeof SEVERITIES)[number]);
    if (report.findings.some((finding) => SEVERITIES.indexOf(finding.severity) >= threshold)) process.exitCode = 1;
  }
}
