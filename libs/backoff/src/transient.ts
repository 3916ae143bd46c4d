/** Network failures after which the same request may well succeed (not: an untrusted certificate, a refused TLS handshake). */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** HTTP answers that say "later": overloaded, restarting, a gateway without its backend. */
export const RETRY_LATER_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
