import { Option, type Command } from 'commander';
import { decodeJwt } from 'jose';

import type { EmergencySelector } from '@rotor/client';
import type { EmergencyPreview, EmergencyRotationView as EmergencyView } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { revokerApi } from '../rotor-api';
import { finishRun, type RunProgressModel } from '../run-progress';

import { pageLimit, printPage } from './paging';
import { confirmOnTerminal, derivedRequestId, describeSelector, parseSelector } from './selector';

export { derivedRequestId, parseSelector } from './selector';

const MODES = ['graceful', 'immediate'] as const;
const STATES = ['running', 'completed', 'failed'] as const;

interface RotateOptions {
  selector: string[];
  mode: (typeof MODES)[number];
  reason: string;
  dryRun?: boolean;
  yes?: boolean;
  requestId?: string;
  watch?: boolean;
}

/** The preview as people read it: leases by role and backend, secrets with their targets. */
export function previewLines(preview: EmergencyPreview): string[] {
  const counts = (byKey: Record<string, number>) =>
    Object.entries(byKey)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `${key} ${n}`)
      .join(', ');
  return [
    `leases: ${preview.leases.total}${preview.leases.total ? ` (by role: ${counts(preview.leases.byRole)}; by backend: ${counts(preview.leases.byBackend)})` : ''}`,
    `managed secrets: ${preview.secrets.length}${preview.secrets.length ? ` (${preview.secrets.map((secret) => `${secret.secret} → ${secret.targets.map((target) => `${target.kind}/${target.name}`).join(', ') || 'no targets'}`).join('; ')})` : ''}`,
  ];
}

/** Starts one (or finds the one this request id started), after a preview and, unless --yes, a question. */
async function rotate(context: CliContext, options: RotateOptions): Promise<void> {
  const token = await context.token(['rotor:sre']);
  const revoker = revokerApi(context, token);
  const selector = parseSelector(options.selector) as EmergencySelector;
  // Changes nothing: retried.
  const preview = await revoker.previewEmergencyRotation(selector);
  if (options.dryRun) {
    printResult(context, preview, { columns: ['would cover', ''], rows: previewLines(preview).map((line) => line.split(': ', 2)) });
    return;
  }
  const requestId = options.requestId ?? derivedRequestId(String(decodeJwt(token).sub ?? ''), selector, options.mode, options.reason);
  if (!options.yes) {
    const lines = [`This emergency rotation (${options.mode}) would cover:`, ...previewLines(preview).map((line) => `  ${line}`)];
    if (!(await confirmOnTerminal('an emergency rotation', lines, 'Start it? [y/N] '))) {
      process.stderr.write('Not started.\n');
      process.exitCode = ExitCode.findings;
      return;
    }
  }
  if (!context.json)
    process.stderr.write(`request id ${requestId}: the same command again finds this rotation instead of starting another\n`);
  // The request id makes a second POST find the first rotation: retried.
  const view = await revoker.startEmergencyRotation({ selector, mode: options.mode, reason: options.reason, requestId });
  await finishRun(context, rotationProgress(context), view, options.watch);
}

async function show(context: CliContext, id: string, watch?: boolean): Promise<void> {
  const view = await revokerApi(context, await context.token(['rotor:sre'])).emergencyRotation(id);
  await finishRun(context, rotationProgress(context), view, watch);
}

async function list(context: CliContext, options: { state?: string; limit?: number; after?: string }): Promise<void> {
  const page = await revokerApi(context, await context.token(['rotor:sre'])).emergencyRotations(options);
  printPage(context, page, {
    columns: ['id', 'state', 'mode', 'selector', 'leases', 'secrets', 'requested by', 'started'],
    rows: page.items.map((view) => [
      view.id,
      view.state,
      view.mode,
      describeSelector(view.selector),
      `${view.revoked + view.failed}/${view.matched.leases}`,
      `${view.retired}/${view.matched.secrets}`,
      view.requestedBy,
      view.startedAt,
    ]),
  });
}

/** An emergency rotation's work: each matched lease ends (revoked or failed); each matched secret is rotated, then its old version retired. */
const rotationProgress = (context: CliContext): RunProgressModel<EmergencyView> => ({
  read: async (id) => revokerApi(context, await context.token(['rotor:sre'])).emergencyRotation(id),
  total: (view) => view.matched.leases + 2 * view.matched.secrets,
  done: (view) => view.revoked + view.failed + view.rotated + view.retired,
  line: (view) =>
    `${view.state}: leases ${view.revoked + view.failed}/${view.matched.leases} (${view.failed} failed), ` +
    `secrets rotated ${view.rotated}/${view.matched.secrets}, delivered ${view.delivered}, retired ${view.retired}/${view.matched.secrets}` +
    (view.quotaLimited ? ', paced by GSM quota' : ''),
  summary: summaryRows,
});

function summaryRows(view: EmergencyView): (string | number)[][] {
  return [
    ['id', view.id],
    ['state', view.state],
    ['mode', view.mode],
    ['selector', describeSelector(view.selector)],
    ['reason', view.reason],
    ['matched leases', view.matched.leases],
    ['matched secrets', view.matched.secrets],
    ['revoked', view.revoked],
    ['failed', view.failed],
    ['rotated', view.rotated],
    ['delivered', view.delivered],
    ['retired', view.retired],
    ['quota limited', String(view.quotaLimited)],
    ['started', view.startedAt],
    ['completed', view.completedAt ?? ''],
  ];
}

export function registerEmergencyCommands(program: Command): void {
  const emergency = program.command('emergency').description('fleet-wide emergency rotation, as an SRE');
  emergency
    .command('rotate')
    .description(
      'revokes the leases and rotates the managed secrets a selector covers; shows what it would cover and asks first (unless --yes)',
    )
    .requiredOption(
      '--selector <field=value>',
      'namespace=, serviceAccount= (with namespace), role=, backend=, secret=, or all; repeat to narrow (AND)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addOption(
      new Option('--mode <mode>', 'immediate: revoke now; graceful: rotate first, revoke after the grace period')
        .choices(MODES)
        .makeOptionMandatory(),
    )
    .requiredOption('--reason <text>', 'why: recorded on every event')
    .option('--dry-run', 'what it would cover (leases by role and backend, secrets and their targets); starts nothing')
    .option('-y, --yes', 'start without asking (scripts)')
    .option('--request-id <id>', 'the id that makes a repeat find this rotation (default: derived from you, the selector, mode and reason)')
    .option('--watch', 'follow its progress until it ends')
    .addHelpText(
      'after',
      examples(
        'rotor emergency rotate --selector namespace=payments --mode immediate --reason "INC-42 key leaked" --dry-run',
        'rotor emergency rotate --selector namespace=payments --selector role=orders-db --mode graceful --reason "INC-42" --watch',
        'rotor emergency rotate --selector all --mode graceful --reason "CA compromise" --yes --output json',
      ),
    )
    .action((options: RotateOptions, command: Command) => rotate(contextOf(command), options));
  emergency
    .command('show')
    .description('one rotation and its progress')
    .argument('<id>')
    .option('--watch', 'follow its progress until it ends')
    .action((id: string, options: { watch?: boolean }, command: Command) => show(contextOf(command), id, options.watch));
  emergency
    .command('list')
    .description('rotations, newest first (kept 7 days)')
    .addOption(new Option('--state <state>', 'only rotations in this state').choices(STATES))
    .addOption(new Option('--limit <n>', 'rotations per page (up to 500)').argParser(pageLimit(500)))
    .option('--after <id>', "the previous page's last id: the next page")
    .addHelpText('after', examples('rotor emergency list --state running'))
    .action((options: { state?: string; limit?: number; after?: string }, command: Command) => list(contextOf(command), options));
}
