import { randomBytes, randomInt } from 'node:crypto';

import type { ManagedSecret } from '@rotor/catalog';

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.~!@#%^*';

/** A new value for a managed secret, from the catalog's generator. */
export function generateSecretValue(generator: ManagedSecret['generator']): Buffer {
  switch (generator.kind) {
    case 'random-bytes':
      return Buffer.from(randomBytes(generator.bytes).toString(generator.encoding));
    case 'password':
      return Buffer.from(Array.from({ length: generator.length }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join(''));
  }
}

/** `projects/P/secrets/S/versions/7` → 7. */
export const versionNumberOf = (gsmVersion: string): number => {
  const match = /\/versions\/(\d+)$/.exec(gsmVersion);
  if (!match?.[1]) throw new Error(`not a GSM version name: ${gsmVersion}`);
  return Number(match[1]);
};
