import { posix } from 'node:path';

/**
 * Why a file target's path is refused, or undefined: it must be absolute and already in its
 * normal form (no `..`, `.`, `//` or trailing `/`), so the path checked is the path written.
 */
export function fileTargetPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (path.split('/').includes('..')) return 'must not contain ..';
  if (path === '/' || posix.normalize(path) !== path || path.endsWith('/'))
    return `must be a normalised directory path (${posix.normalize(path).replace(/(.)\/$/, '$1')})`;
  return undefined;
}

/** A file target's path is strictly inside one of the roots (all normalised absolute paths). */
export function isInsideRoots(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path.startsWith(root === '/' ? '/' : `${root}/`) && path !== root);
}

/** The receiver a webhook URL names: scheme, host, port and path (a query string is the same receiver). */
export function webhookReceiverOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * Webhook key variables are `ROTOR_WEBHOOK_KEY_<RECEIVER>`: a catalog line can then name only a
 * webhook keyring, never another of the distributor's secrets (`_FILE` is added by the distributor).
 */
export const WEBHOOK_KEY_ENV = /^ROTOR_WEBHOOK_KEY_[A-Z0-9_]*[A-Z0-9]$/;
export const WEBHOOK_KEY_ENV_MESSAGE = 'must be ROTOR_WEBHOOK_KEY_<RECEIVER> (A-Z, 0-9, _), one variable per receiver, not ending in _FILE';
export const isWebhookKeyEnv = (name: string) => WEBHOOK_KEY_ENV.test(name) && !name.endsWith('_FILE');
