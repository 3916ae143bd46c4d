/**
 * What the instrumentations may record of a call. Redis arguments and SQL text can hold secret
 * values (`ACL SETUSER … >password`, `CREATE ROLE … PASSWORD '…'`), and a URL's query can hold a
 * token: spans keep the command, the statement's verb and the URL without its query.
 */

/** `SET`, `EVALSHA`…: the command name only, never its arguments. */
export const redisStatement = (command: string): string => command.toUpperCase();

/** `CREATE ROLE "x" PASSWORD '…'` → `CREATE ROLE`; `SELECT …` → `SELECT`. */
export function sqlVerb(text: string | undefined): string {
  const words = (text ?? '')
    .replace(/\/\*[\s\S]*?\*\/|--[^\n]*/g, ' ')
    .trim()
    .split(/\s+/, 2);
  const first = (words[0] ?? '').toUpperCase();
  if (!/^[A-Z]+$/.test(first)) return 'QUERY';
  const second = (words[1] ?? '').toUpperCase();
  // DDL names what it acts on (CREATE ROLE, DROP ROLE, ALTER ROLE); the second word is a keyword there.
  return ['CREATE', 'DROP', 'ALTER', 'GRANT', 'REVOKE'].includes(first) && /^[A-Z]+$/.test(second) ? `${first} ${second}` : first;
}

/** `https://host/path?token=…` → `https://host/path`; a value that is not a URL → its path part. */
export function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}
