/**
 * What a log line may never carry. The first defence is not to log values at all; this
 * catches mistakes, at any depth, in arrays, errors and child-logger bindings alike.
 *
 * A field is secret-shaped when its name (case and `_`/`-` ignored) is one of SECRET_FIELD_NAMES
 * or ends with one of SECRET_FIELD_SUFFIXES: `adminPassword`, `client_secret`, `apiKey` are
 * redacted; `tokenHash`, `keyId`, `secretName` are not.
 */
export const SECRET_FIELD_NAMES = [
  'token',
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'value',
  'values',
  'secret',
  'secrets',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'payload',
  'plaintext',
  'key',
  'keys',
  'connectionstring',
  'databaseurl',
  'dsn',
] as const;

export const SECRET_FIELD_SUFFIXES = [
  'password',
  'passwd',
  'token',
  'secret',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'plaintext',
  'apikey',
  'privatekey',
  'secretkey',
  'accesskey',
  'signingkey',
  'hashkey',
  'hmackey',
  'auditkey',
] as const;

export const REDACTED = '[redacted]';
/** Deeper than any structure rotor logs on purpose; past it nothing is written. */
const MAX_DEPTH = 32;

const names = new Set<string>(SECRET_FIELD_NAMES);
const normalise = (field: string) => field.toLowerCase().replace(/[_\-.\s]/g, '');

export function isSecretField(field: string): boolean {
  const name = normalise(field);
  return names.has(name) || SECRET_FIELD_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/** `scheme://user:password@host` keeps the user and host; `Bearer x` keeps the scheme. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi;

export function redactText(text: string): string {
  return text.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(BEARER, `$1 ${REDACTED}`);
}

/**
 * A copy of `value` with every secret-shaped field replaced, at any depth. Errors stay errors
 * (same prototype, so pino's serializer still names their type) with their own fields redacted;
 * binary buffers are never written, whatever their field is called.
 */
export function redactSecrets<T>(value: T): T {
  return walk(value, 0, new WeakSet()) as T;
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary ${value.byteLength} bytes]`;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, seen));
    if (value instanceof Date) return value;
    const copy: Record<string, unknown> = value instanceof Error ? errorShell(value, depth, seen) : {};
    for (const [field, item] of Object.entries(value)) {
      copy[field] = isSecretField(field) ? REDACTED : walk(item, depth + 1, seen);
    }
    return copy;
  } finally {
    seen.delete(value);
  }
}

/** An object pino's error serializer treats as the original error, with its message and stack redacted. */
function errorShell(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const shell = Object.create(Object.getPrototypeOf(error) as object) as Record<string, unknown>;
  shell['message'] = redactText(error.message);
  if (error.stack) shell['stack'] = redactText(error.stack);
  if (error.cause !== undefined) shell['cause'] = walk(error.cause, depth + 1, seen);
  if (error instanceof AggregateError) shell['errors'] = walk(error.errors, depth + 1, seen);
  return shell;
}
