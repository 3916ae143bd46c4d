import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AuditKeyring, auditKeyId } from '@rotor/audit-chain';

import { AuditSigningKeys } from './audit-signing-keys';

const dir = mkdtempSync(join(tmpdir(), 'rotor-audit-keys-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const settings = { intervalMs: 60_000, maxRecords: 10_000, gsmSecret: 'rotor-audit-checkpoints', publicKeysFile: undefined };
const ed25519 = () => generateKeyPairSync('ed25519');

describe('the audit signing keys', () => {
  it('signs with the key file and serves its public key and the older listed ones, by thumbprint', () => {
    const current = ed25519();
    const older = ed25519();
    const keys = AuditSigningKeys.load({
      ...settings,
      signingKeyFile: file('current.pem', current.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      publicKeysFile: file('older.json', JSON.stringify(new AuditKeyring([older.publicKey]).jwks())),
    });
    expect(keys.signer.keyId).toBe(auditKeyId(current.publicKey));
    expect(
      keys.keyring
        .jwks()
        .keys.map((key) => key.kid)
        .sort(),
    ).toEqual([auditKeyId(current.publicKey), auditKeyId(older.publicKey)].sort());
    expect(JSON.stringify(keys.keyring.jwks())).not.toContain('"d"');
  });

  it('refuses to start without a readable Ed25519 key, naming the variable and never the content', () => {
    expect(() => AuditSigningKeys.load({ ...settings, signingKeyFile: join(dir, 'missing.pem') })).toThrow(
      /ROTOR_AUDIT_SIGNING_KEY_FILE: cannot read .*missing\.pem \(ENOENT\)/,
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    let message = '';
    try {
      AuditSigningKeys.load({ ...settings, signingKeyFile: file('ec.pem', ec) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/ROTOR_AUDIT_SIGNING_KEY_FILE: not an Ed25519 private key/);
    expect(message).not.toContain('PRIVATE KEY');
  });
});
