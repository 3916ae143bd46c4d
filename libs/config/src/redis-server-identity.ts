/**
 * Which Redis server a URL reaches, as far as the URL alone can tell: host and port, with
 * the spellings of one address made equal (case, `localhost` and the loopback addresses,
 * IPv4 written as `127.1` or in hex, the default port). The database number is left out on
 * purpose: ACL users belong to the whole server, not to one database.
 */
export function redisServerIdentity(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || '6379';
  return `${canonicalHost(parsed.hostname)}:${port}`;
}

/** True when both URLs name the same Redis server in any spelling the URL can show. */
export const sameRedisServer = (a: string, b: string): boolean => redisServerIdentity(a) === redisServerIdentity(b);

function canonicalHost(hostname: string): string {
  // `redis:` is not a special URL scheme, so its host is left as written; `http:` parsing
  // lower-cases names and normalises IPv4 (127.1, 0x7f.0.0.1, 2130706433) and IPv6 forms.
  let host: string;
  try {
    host = new URL(`http://${hostname}/`).hostname;
  } catch {
    host = hostname.toLowerCase();
  }
  host = host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (isLoopback(host)) return 'loopback';
  return host;
}

const isLoopback = (host: string): boolean =>
  host === 'localhost' ||
  host.endsWith('.localhost') ||
  /^127\.\d+\.\d+\.\d+$/.test(host) ||
  host === '::1' ||
  /^::ffff:(127\.\d+\.\d+\.\d+|7f[0-9a-f]{2}:[0-9a-f]{1,4})$/.test(host) ||
  // A client connecting to the unspecified address reaches this machine.
  host === '0.0.0.0' ||
  host === '::';
