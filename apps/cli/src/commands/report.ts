import { writeFileSync } from 'node:fs';

import { Option, type Command } from 'commander';

import type { PostureReport } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { ApiError, request, send } from '../http-client';
import { printResult, renderTable } from '../output';
import { contextOf, examples } from '../program-kit';

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
 * `rotor report [--html FILE] [--fail-on high|medium|low]`: the posture report, as a table for
 * people, JSON or YAML for scripts, or a self-contained HTML page. Exits 1 with --fail-on when a
 * finding of that severity or worse exists (for pipelines), else 0.
 */
async function reportCommand(context: CliContext, flags: { html?: string; failOn?: (typeof SEVERITIES)[number] }): Promise<void> {
  const failOn = flags.failOn;
  const token = await context.token(['rotor:auditor']);
  const url = `${context.urls.auditor}/v1/reports/posture`;
  const report = await request<PostureReport>(url, { token });

  const html = flags.html;
  if (html !== undefined) {
    writeFileSync(html, await fetchHtml(`${url}?format=html`, token), { mode: 0o640 });
    process.stderr.write(`rotor: posture report written to ${html}\n`);
  }
  if (context.json) printResult(context, report);
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

  if (failOn !== undefined) {
    const threshold = SEVERITIES.indexOf(failOn);
    if (report.findings.some((finding) => SEVERITIES.indexOf(finding.severity) >= threshold)) process.exitCode = ExitCode.findings;
  }
}

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description(
      'the posture report: overdue rotations, irrevocable leases, copies outside the inventory, break-glass follow-ups, TTLs above the ceiling',
    )
    .option('--html <file>', 'also write it as a self-contained HTML page')
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding this severe or worse exists (pipelines)').choices(SEVERITIES))
    .addHelpText('after', examples('rotor report', 'rotor report --html posture.html', 'rotor report --fail-on high --output json'))
    .action((options: { html?: string; failOn?: (typeof SEVERITIES)[number] }, command: Command) =>
      reportCommand(contextOf(command), options),
    );
}
