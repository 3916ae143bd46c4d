import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline/promises';

import { UsageError } from '../exit-codes';

/** `--selector` field names as people type them, and as the REST bodies spell them. */
const SELECTOR_FIELDS: Record<string, string> = {
  namespace: 'namespace',
  serviceaccount: 'serviceAccount',
  'service-account': 'serviceAccount',
  role: 'role',
  backend: 'backend',
  secret: 'secret',
  all: 'all',
};

export type Selector = Record<string, string | boolean>;

/**
 * `--selector namespace=payments --selector role=x` → `{ namespace: 'payments', role: 'x' }`;
 * `all` alone means everything. `fields` limits what a command accepts.
 */
export function parseSelector(values: string[], fields: readonly string[] = Object.values(SELECTOR_FIELDS)): Selector {
  const selector: Selector = {};
  const allowed = [...new Set(fields)];
  for (const value of values) {
    const [rawKey = '', ...rest] = value.split('=');
    const field = SELECTOR_FIELDS[rawKey.toLowerCase()];
    if (!field || !allowed.includes(field)) throw new UsageError(`--selector ${value}: unknown field "${rawKey}" (${allowed.join(', ')})`);
    if (field === 'all') {
      if (rest.length && rest.join('=') !== 'true') throw new UsageError('--selector all takes no value');
      selector[field] = true;
      continue;
    }
    if (!rest.length || !rest.join('=')) throw new UsageError(`--selector ${value}: expected ${rawKey}=VALUE`);
    selector[field] = rest.join('=');
  }
  if (!Object.keys(selector).length) throw new UsageError('at least one --selector is required');
  return selector;
}

export const describeSelector = (selector: Selector): string =>
  Object.entries(selector)
    .map(([key, value]) => (value === true ? key : `${key}=${String(value)}`))
    .join(' ');

/**
 * The request id a fleet-wide action gets unless one is given: the same operator, action,
 * selector (in any order) and reason give the same id, so running the same command again
 * (after a timeout, say) finds the work already started instead of starting it twice.
 */
export function derivedRequestId(subject: string, selector: Selector, mode: string, reason: string): string {
  const normalised = JSON.stringify(Object.fromEntries(Object.entries(selector).sort(([a], [b]) => a.localeCompare(b))));
  const digest = createHash('sha256').update(`${subject}\n${normalised}\n${mode}\n${reason.trim()}`).digest('hex');
  return `cli-${digest.slice(0, 32)}`;
}

/**
 * Asks before a fleet-wide action: the preview, then `question`; anything but y or yes is no.
 * Without a terminal nobody can answer, so a script must say --yes (exit 2 otherwise).
 */
export async function confirmOnTerminal(what: string, lines: string[], question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError(`${what} starts only when confirmed: run it on a terminal, or add --yes`);
  process.stderr.write(`${lines.join('\n')}\n`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes)$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}
