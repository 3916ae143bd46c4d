import { readFileSync } from 'node:fs';

import { AuditKeyring, signingKeyFromPem } from '@rotor/audit-chain';
import { ConfigError } from '@rotor/config';

import type { AuditorConfig } from '../config';

/**
 * The checkpoint signing key and the public keys verifiers accept: the signing key's own and,
 * during a rotation, older ones whose checkpoints are still in the log. A key's id is the
 * thumbprint of its public key, so rotating needs no naming: sign with the new key file, list
 * the old public key in ROTOR_AUDIT_PUBLIC_KEYS_FILE until its checkpoints no longer matter.
 */
export class AuditSigningKeys {
  private constructor(
    readonly signer: ReturnType<typeof signingKeyFromPem>,
    readonly keyring: AuditKeyring,
  ) {}

  static load({ signingKeyFile, publicKeysFile }: AuditorConfig['checkpoints']): AuditSigningKeys {
    // Messages name the variable and the reason, never the file's contents.
    const read = (variable: string, file: string) => {
      try {
        return readFileSync(file, 'utf8');
      } catch (error) {
        throw new ConfigError([`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`]);
      }
    };
    let signer: ReturnType<typeof signingKeyFromPem>;
    try {
      signer = signingKeyFromPem(read('ROTOR_AUDIT_SIGNING_KEY_FILE', signingKeyFile));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError([`ROTOR_AUDIT_SIGNING_KEY_FILE: not an Ed25519 private key in PKCS#8 PEM`]);
    }
    let keyring = new AuditKeyring([signer.publicKey]);
    if (publicKeysFile) {
      try {
        keyring = keyring.with(AuditKeyring.parse(read('ROTOR_AUDIT_PUBLIC_KEYS_FILE', publicKeysFile)));
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        throw new ConfigError([`ROTOR_AUDIT_PUBLIC_KEYS_FILE: ${error instanceof Error ? error.message : 'unreadable'}`]);
      }
    }
    return new AuditSigningKeys(signer, keyring);
  }
}
