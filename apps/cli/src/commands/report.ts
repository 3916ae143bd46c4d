import { writeFileSync } from 'node:fs';

import { Option, type Command } from 'commander';

import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { printResult, renderTable } from '../output';
import { contextOf, examples } from '../program-kit';
import { auditorApi } from '../rotor-api';

const SEVERITIES = ['low', 'medium', 'high'] as const;

/**
 * `rotor report [--html FILE] [--fail-on high|medium|low]`: the posture report, as a table for
 * people, JSON or YAML for scripts, or a self-contained HTML page. Exits 1 with --fail-on when a
 * finding of that severity or worse exists (for pipelines), else 0.
 */
async function reportCommand(context: CliContext, flags: { html?: string; failOn?: (typeof SEVERITIES)[number] }): Promise<void> {
  const failOn = flags.failOn;
  const auditor = auditorApi(context, await context.token(['rotor:auditor']));
  const report = await auditor.postureReport();

  const html = flags.html;
  if (html !== undefined) {
    // The page as the auditor renders it; the CLI only saves it.
    writeFileSync(html, await auditor.postureReportHtml(), { mode: 0o640 });
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
