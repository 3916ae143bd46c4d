/**
 * Why a dependency check failed, as a class /readyz may show: never the error's text, which
 * can carry host names, user names or (from a careless driver) a connection string.
 */
export type DependencyFailure = 'authentication' | 'authorization' | 'tls' | 'timeout' | 'unreachable' | 'unavailable';

const RULES: readonly [DependencyFailure, RegExp][] = [
  [
    'authentication',
    /SASL|authentication failed|invalid credentials|NOAUTH|WRONGPASS|password authentication|Unauthenticated|invalid username-password/i,
  ],
  ['authorization', /not authorized|NOPERM|authorization failed|permission denied|PERMISSION_DENIED/i],
  ['tls', /certificate|self[- ]signed|\bSSL\b|\bTLS\b|UNABLE_TO_VERIFY|CERT_|ERR_SSL|handshake|alert/i],
  ['timeout', /no answer within|timed? ?out|ETIMEDOUT|DEADLINE_EXCEEDED/i],
  [
    'unreachable',
    /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET|EAI_AGAIN|Connection is closed|closed connection|connect|UNAVAILABLE|socket/i,
  ],
];

export function classifyDependencyFailure(error: unknown): DependencyFailure {
  const parts: string[] = [];
  const text = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    if (current instanceof Error) {
      const { code, type } = current as { code?: unknown; type?: unknown };
      parts.push(current.name, current.message, text(code), text(type));
      current = (current as { cause?: unknown; originalError?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
    } else {
      parts.push(text(current));
      break;
    }
  }
  const joined = parts.join(' ');
  return RULES.find(([, pattern]) => pattern.test(joined))?.[0] ?? 'unavailable';
}
