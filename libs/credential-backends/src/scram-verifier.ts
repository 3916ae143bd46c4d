import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's own default (scram_iterations), so a rotor role costs a client what any role costs. */
export const SCRAM_ITERATIONS = 4096;

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802/7677, in the form of
 * `pg_authid.rolpassword`): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
 * Sent in `CREATE ROLE … PASSWORD '<verifier>'`, PostgreSQL stores it as is, so the password
 * itself never reaches the server: not its log, not pg_stat_activity. PBKDF2 runs on libuv's
 * thread pool (crypto.pbkdf2), off the event loop.
 *
 * Only printable-ASCII passwords are accepted: for them PostgreSQL's SASLprep is the identity,
 * so the verifier matches what the client's SCRAM exchange computes.
 */
export async function scramSha256Verifier(
  password: string,
  { iterations = SCRAM_ITERATIONS, salt = randomBytes(16) }: { iterations?: number; salt?: Buffer } = {},
): Promise<string> {
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error('SCRAM verifier: the password must be printable ASCII');
  const salted = await pbkdf2Async(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
