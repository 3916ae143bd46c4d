import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';

export const TEST_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const TEST_AUDIENCE = 'rotor';

/**
 * Stands in for a cluster's service-account issuer: a key pair whose public half the
 * services trust through ROTOR_JWKS, signing projected service-account tokens and operator tokens.
 */
export class TestIdentity {
  private constructor(
    private readonly privateKey: KeyLike,
    readonly jwksFile: string,
  ) {}

  static async create(): Promise<TestIdentity> {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const dir = mkdtempSync(join(tmpdir(), 'rotor-identity-'));
    const jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'test', alg: 'ES256', use: 'sig' }] }));
    return new TestIdentity(privateKey, jwksFile);
  }

  get env(): Record<string, string> {
    return { ROTOR_JWKS: this.jwksFile, ROTOR_TOKEN_ISSUER: TEST_ISSUER, ROTOR_TOKEN_AUDIENCE: TEST_AUDIENCE };
  }

  serviceAccountToken(namespace: string, serviceAccount: string, pod?: { name: string; uid: string }): Promise<string> {
    return this.sign({
      sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
      'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: 'sa-uid' }, ...(pod ? { pod } : {}) },
    });
  }

  operatorToken(subject: string, groups: string[]): Promise<string> {
    return this.sign({ sub: subject, groups });
  }

  private sign(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'test' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(this.privateKey);
  }
}
