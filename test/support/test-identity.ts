import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';

export const TEST_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const TEST_AUDIENCE = 'rotor';
/** The sign-in provider operators' tokens come from; tests trust its key through a file, no discovery. */
export const TEST_OPERATOR_ISSUER = 'https://login.rotor.test';
export const TEST_OPERATOR_AUDIENCE = 'rotor-cli';

interface Signer {
  key: KeyLike;
  kid: string;
  issuer: string;
  audience: string;
}

/**
 * Stands in for a cluster's service-account issuer and for the organisation's OpenID Provider:
 * two key pairs whose public halves the services trust (ROTOR_JWKS, ROTOR_OPERATOR_JWKS), one
 * signing projected service-account tokens, the other operator tokens.
 */
export class TestIdentity {
  private constructor(
    private readonly cluster: Signer,
    private readonly operators: Signer,
    readonly jwksFile: string,
    readonly operatorJwksFile: string,
  ) {}

  static async create(): Promise<TestIdentity> {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-identity-'));
    const keyFile = async (name: string, kid: string) => {
      const { publicKey, privateKey } = await generateKeyPair('ES256');
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }));
      return { file, privateKey };
    };
    const cluster = await keyFile('jwks.json', 'test');
    const operators = await keyFile('operator-jwks.json', 'test-operator');
    return new TestIdentity(
      { key: cluster.privateKey, kid: 'test', issuer: TEST_ISSUER, audience: TEST_AUDIENCE },
      { key: operators.privateKey, kid: 'test-operator', issuer: TEST_OPERATOR_ISSUER, audience: TEST_OPERATOR_AUDIENCE },
      cluster.file,
      operators.file,
    );
  }

  get env(): Record<string, string> {
    return {
      ROTOR_JWKS: this.jwksFile,
      ROTOR_TOKEN_ISSUER: TEST_ISSUER,
      ROTOR_TOKEN_AUDIENCE: TEST_AUDIENCE,
      ROTOR_OPERATOR_ISSUER: TEST_OPERATOR_ISSUER,
      ROTOR_OPERATOR_JWKS: this.operatorJwksFile,
      ROTOR_OPERATOR_AUDIENCE: TEST_OPERATOR_AUDIENCE,
    };
  }

  serviceAccountToken(namespace: string, serviceAccount: string, pod?: { name: string; uid: string }): Promise<string> {
    return this.sign(this.cluster, {
      sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
      'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount, uid: 'sa-uid' }, ...(pod ? { pod } : {}) },
    });
  }

  /** A person's token from the operator issuer, its `groups` claim as given. */
  operatorToken(subject: string, groups: string[]): Promise<string> {
    return this.sign(this.operators, { sub: subject, groups });
  }

  /** A token of the cluster's issuer claiming operator groups: Kubernetes never issues one, and rotor must refuse it. */
  clusterTokenWithGroups(subject: string, groups: string[]): Promise<string> {
    return this.sign(this.cluster, { sub: subject, groups });
  }

  private sign({ key, kid, issuer, audience }: Signer, claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);
  }
}
