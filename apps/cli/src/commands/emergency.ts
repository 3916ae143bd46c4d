import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline/promises';

import { decodeJwt } from 'jose';

import type { EmergencyPreview, EmergencyRotationView as EmergencyView } from '@rotor/rest-contract';

import type { CliContext, CliFlags, CommandWords } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

const SELECTOR_FIELDS: Record<string, string> = {
  namespace: 'namespace',
  serviceaccount: 'serviceAccount',
  'service-account': 'serviceAccount',
  role: 'role',
  backend: 'backend',
  secret: 'secret',
  all: 'all',
};

const USAGE =
  'usage: rotor emergency rotate --selector namespace=NS [--selector serviceAccount=SA|role=R|backend=B|secret=S|all] --mode graceful|immediate --reason "…"\n' +
  '                              [--dry-run] [--yes] [--request-id ID] [--watch]\n' +
  '       rotor emergency show <id> [--watch]';

/**
 * The request id a rotation gets unless one is given: the same operator, selector, mode and
 * reason give the same id, so running the same command again (after a timeout, say) finds the
 * rotation already started instead of starting a second fleet-wide one.
 */
export function derivedRequestId(subject: string, selector: Record<string, string | boolean>, mode: string, reason: string): string {
  const normalised = JSON.stringify(Object.fromEntries(Object.entries(selector).sort(([a], [b]) => a.localeCompare(b))));
  const digest = createHash('sha256').update(`${subject}\n${normalised}\n${mode}\n${reason.trim()}`).digest('hex');
  return `cli-${digest.slice(0, 32)}`;
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

/** Asks on the terminal; anything but y or yes is no. */
async function confirmed(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes)$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

/** `--selector namespace=payments --selector role=x` → `{ namespace: 'payments', role: 'x' }`; `all` alone means everything. */
export function parseSelector(values: string[]): Record<string, string | boolean> {
  const selector: Record<string, string | boolean> = {};
  for (const value of values) {
    const [rawKey = '', ...rest] = value.split('=');
    const field = SELECTOR_FIELDS[rawKey.toLowerCase()];
    if (!field) throw new Error(`--selector ${value}: unknown field "${rawKey}" (namespace, serviceAccount, role, backend, secret, all)`);
    if (field === 'all') {
      if (rest.length && rest.join('=') !== 'true') throw new Error('--selector all takes no value');
      selector[field] = true;
      continue;
    }
    if (!rest.length || !rest.join('=')) throw new Error(`--selector ${value}: expected ${rawKey}=VALUE`);
    selector[field] = rest.join('=');
  }
  if (!Object.keys(selector).length) throw new Error(`at least one --selector is required\n${USAGE}`);
  return selector;
}

/** A mistake in how the command was called (exit 2), not a failure of rotor. */
export class UsageError extends Error {}

/** `rotor emergency rotate …` and `rotor emergency show <id>`, as an SRE. */
export async function emergencyCommand(context: CliContext, { action, id }: CommandWords, flags: CliFlags): Promise<void> {
  const token = await context.token(['rotor:sre']);
  const base = `${context.urls.revoker}/v1/emergency-rotations`;
  let view: EmergencyView;
  switch (action) {
    case 'rotate': {
      const selectors = Array.isArray(flags['selector']) ? flags['selector'] : [];
      if (typeof flags['mode'] !== 'string' || typeof flags['reason'] !== 'string')
        throw new Error(`--mode and --reason are required\n${USAGE}`);
      const selector = parseSelector(selectors);
      const preview = await request<EmergencyPreview>(`${base}/preview`, { method: 'POST', token, body: { selector } });
      if (flags['dry-run'] === true) {
        printResult(context, preview, { columns: ['would cover', ''], rows: previewLines(preview).map((line) => line.split(': ', 2)) });
        return;
      }
      const requestId =
        typeof flags['request-id'] === 'string'
          ? flags['request-id']
          : derivedRequestId(String(decodeJwt(token).sub ?? ''), selector, flags['mode'], flags['reason']);
      if (flags['yes'] !== true) {
        // Without a terminal nobody can answer: a script must say --yes.
        if (!process.stdin.isTTY)
          throw new UsageError(`a rotation starts only when confirmed: run it on a terminal, or add --yes\n${USAGE}`);
        process.stderr.write(`This emergency rotation (${flags['mode']}) would cover:\n  ${previewLines(preview).join('\n  ')}\n`);
        if (!(await confirmed('Start it? [y/N] '))) {
          process.stderr.write('Not started.\n');
          process.exitCode = 1;
          return;
        }
      }
      if (!context.json)
        process.stderr.write(`request id ${requestId}: the same command again finds this rotation instead of starting another\n`);
      view = await request<EmergencyView>(base, {
        method: 'POST',
        token,
        body: { selector, mode: flags['mode'], reason: flags['reason'], requestId },
      });
      break;
    }
    case 'show':
      if (!id) throw new Error(`emergency show needs an id\n${USAGE}`);
      view = await request<EmergencyView>(`${base}/${encodeURIComponent(id)}`, { token });
      break;
    default:
      throw new Error(USAGE);
  }
  if (flags['watch'] === true) view = await watch(context, { url: `${base}/${encodeURIComponent(view.id)}`, token }, view);
  printResult(context, view, { columns: ['field', 'value'], rows: summaryRows(view) });
  if (view.state === 'failed') process.exitCode = 2;
}

/** Polls until the rotation ends: a live bar on a terminal, one line per change otherwise, nothing with --json. */
async function watch(context: CliContext, { url, token }: { url: string; token: string }, first: EmergencyView): Promise<EmergencyView> {
  const live = !context.json && process.stderr.isTTY;
  const started = Date.now();
  const startDone = done(first);
  let view = first;
  let lastLine = '';
  for (;;) {
    if (!context.json) {
      const line = live ? progressBar(view, started, startDone) : progressLine(view);
      if (live) process.stderr.write(`\r${line}\x1b[K`);
      else if (line !== lastLine) process.stderr.write(`${line}\n`);
      lastLine = line;
    }
    if (view.state !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    view = await request<EmergencyView>(url, { token });
  }
  if (live) process.stderr.write('\n');
  return view;
}

/** Work units: each matched lease ends (revoked or failed); each matched secret is rotated, then its old version retired. */
const total = (view: EmergencyView) => view.matched.leases + 2 * view.matched.secrets;
const done = (view: EmergencyView) => view.revoked + view.failed + view.rotated + view.retired;

function progressLine(view: EmergencyView): string {
  return (
    `${view.state}: leases ${view.revoked + view.failed}/${view.matched.leases} (${view.failed} failed), ` +
    `secrets rotated ${view.rotated}/${view.matched.secrets}, delivered ${view.delivered}, retired ${view.retired}/${view.matched.secrets}` +
    (view.quotaLimited ? ', paced by GSM quota' : '')
  );
}

function progressBar(view: EmergencyView, startedMs: number, startDone: number): string {
  const width = 30;
  // Nothing matched: finished is all of it.
  const fraction = total(view) === 0 ? (view.state === 'running' ? 0 : 1) : Math.min(1, done(view) / total(view));
  const filled = Math.round(fraction * width);
  const seconds = (Date.now() - startedMs) / 1000;
  const rate = seconds > 0 ? (done(view) - startDone) / seconds : 0;
  const remaining = total(view) - done(view);
  const eta = view.state !== 'running' ? 'done' : rate > 0 ? `ETA ${formatDuration(remaining / rate)}` : 'ETA --';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${done(view)}/${total(view)}  ${rate.toFixed(1)}/s  ${eta}  ${progressLine(view)}`;
}

const formatDuration = (seconds: number) =>
  seconds < 90 ? `${Math.ceil(seconds)}s` : `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;

function summaryRows(view: EmergencyView): (string | number)[][] {
  return [
    ['id', view.id],
    ['state', view.state],
    ['mode', view.mode],
    [
      'selector',
      Object.entries(view.selector)
        .map(([key, value]) => (value === true ? key : `${key}=${String(value)}`))
        .join(' '),
    ],
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
