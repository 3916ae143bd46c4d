import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** A person who can sign in at the local OpenID Provider, with the IdP groups it reports. */
export interface Account {
  email: string;
  groups: string[];
  /** scrypt of the password, hex; `salt` hex. Passwords themselves are never stored. */
  passwordHash: string;
  salt: string;
}

export type Accounts = Record<string, Account>;

/** The people of a fresh local stack: IdP groups named as an organisation's, mapped to rotor's by the services. */
const DEFAULT_PEOPLE: { username: string; groups: string[] }[] = [
  { username: 'sre', groups: ['platform-sre'] },
  { username: 'auditor', groups: ['security-audit'] },
  { username: 'developer', groups: ['engineering'] },
];

const hash = (password: string, salt: Buffer) => scryptSync(password, salt, 32).toString('hex');

export function account(username: string, password: string, groups: string[]): [string, Account] {
  const salt = randomBytes(16);
  return [username, { email: `${username}@rotor.local`, groups, passwordHash: hash(password, salt), salt: salt.toString('hex') }];
}

/** The password's account, or undefined; the comparison takes the same time whatever matches. */
export function authenticate(accounts: Accounts, username: string, password: string): string | undefined {
  const found = Object.hasOwn(accounts, username) ? accounts[username] : undefined;
  const salt = Buffer.from(found?.salt ?? '00'.repeat(16), 'hex');
  const expected = Buffer.from(found?.passwordHash ?? '00'.repeat(32), 'hex');
  const given = Buffer.from(hash(password, salt), 'hex');
  return timingSafeEqual(given, expected) && found ? username : undefined;
}

/**
 * Reads the accounts file, creating one with the default people on first use: random
 * passwords, written once to `passwordsFile` (mode 0600) for the person running the stack.
 */
export function loadAccounts(file: string, passwordsFile: string): Accounts {
  if (!existsSync(file)) {
    const lines: string[] = [];
    const accounts: Accounts = {};
    for (const { username, groups } of DEFAULT_PEOPLE) {
      const password = randomBytes(12).toString('base64url');
      const [name, entry] = account(username, password, groups);
      accounts[name] = entry;
      lines.push(`${username} ${password}   (IdP groups: ${groups.join(', ')})`);
    }
    writeFileSync(file, `${JSON.stringify(accounts, null, 2)}\n`, { mode: 0o600 });
    writeFileSync(passwordsFile, `${lines.join('\n')}\n`, { mode: 0o600 });
    chmodSync(passwordsFile, 0o600);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Accounts;
}
