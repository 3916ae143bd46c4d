import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

import { Topics, type AuditCheckpoint } from '@rotor/contracts';

import { canonicalJson } from './canonical-json';

/** An Ed25519 public key as JWKS serves it (RFC 8037), with its id. */
export interface AuditJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  use: 'sig';
  alg: 'EdDSA';
}

const publicJwk = (publicKey: KeyObject): { crv: string; kty: string; x: string } => {
  const { crv, kty, x } = publicKey.export({ format: 'jwk' });
  return { crv: String(crv), kty: String(kty), x: String(x) };
};

/**
 * A key's id is its RFC 7638 thumbprint (SHA-256 of the canonical public JWK): anyone holding
 * the public key computes the same id, and no registry of names is needed to rotate.
 */
export const auditKeyId = (publicKey: KeyObject): string =>
  createHash('sha256')
    .update(canonicalJson(publicJwk(publicKey)))
    .digest('base64url');

const requireEd25519 = (key: KeyObject, what: string): KeyObject => {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${what} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not Ed25519`);
  return key;
};

/** The checkpoint signing key from its PKCS#8 PEM text. */
export function signingKeyFromPem(pem: string): { privateKey: KeyObject; publicKey: KeyObject; keyId: string } {
  const privateKey = requireEd25519(createPrivateKey(pem), 'the audit signing key');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: auditKeyId(publicKey) };
}

/** The public keys a verifier accepts, by key id: the current signing key and older ones not yet retired. */
export class AuditKeyring {
  private readonly byId = new Map<string, KeyObject>();

  constructor(keys: readonly KeyObject[]) {
    for (const key of keys) this.byId.set(auditKeyId(requireEd25519(key, 'an audit public key')), key);
  }

  /** A JWKS document (`{"keys": [...]}`) or one or more PEM public keys, as `rotor audit keys --out` writes them. */
  static parse(text: string): AuditKeyring {
    const trimmed = text.trim();
    if (trimmed.startsWith('{')) {
      const document = JSON.parse(trimmed) as { keys?: unknown };
      if (!Array.isArray(document.keys)) throw new Error('not a JWKS document: no "keys" array');
      return new AuditKeyring(
        document.keys.map((jwk: { crv?: unknown; kty?: unknown; x?: unknown }) =>
          createPublicKey({ key: { crv: jwk.crv, kty: jwk.kty, x: jwk.x } as never, format: 'jwk' }),
        ),
      );
    }
    const pems = trimmed.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
    if (pems.length === 0) throw new Error('neither a JWKS document nor PEM public keys');
    return new AuditKeyring(pems.map((pem) => createPublicKey(pem)));
  }

  /** Both keyrings' keys. */
  with(other: AuditKeyring): AuditKeyring {
    return new AuditKeyring([...this.byId.values(), ...other.byId.values()]);
  }

  get size(): number {
    return this.byId.size;
  }

  get(keyId: string): KeyObject | undefined {
    return this.byId.get(keyId);
  }

  jwks(): { keys: AuditJwk[] } {
    return {
      keys: [...this.byId].map(([kid, key]) => ({ ...publicJwk(key), kid, use: 'sig', alg: 'EdDSA' }) as AuditJwk),
    };
  }
}

export type UnsignedCheckpoint = Omit<AuditCheckpoint, 'keyId' | 'signature'>;

const signedBytes = (checkpoint: Omit<AuditCheckpoint, 'signature'>): Buffer => Buffer.from(canonicalJson(checkpoint));

export interface AuditSigningKey {
  privateKey: KeyObject;
  keyId: string;
}

export function signCheckpoint(checkpoint: UnsignedCheckpoint, signer: AuditSigningKey): AuditCheckpoint {
  const body = { ...checkpoint, keyId: signer.keyId };
  return { ...body, signature: sign(null, signedBytes(body), signer.privateKey).toString('base64url') };
}

export type CheckpointSignature = 'valid' | 'unknown-key' | 'invalid';

export function checkCheckpointSignature(checkpoint: AuditCheckpoint, keyring: AuditKeyring): CheckpointSignature {
  const key = keyring.get(checkpoint.keyId);
  if (!key) return 'unknown-key';
  const { signature, ...body } = checkpoint;
  return verify(null, signedBytes(body), key, Buffer.from(signature, 'base64url')) ? 'valid' : 'invalid';
}

/**
 * The GSM secret that keeps an audit topic's checkpoints outside Kafka: `rotor-audit-checkpoints`
 * for rotor's audit log, one of its own for any other (an isolated installation or test), so two
 * logs never compare against each other's checkpoints.
 */
export const checkpointSecretFor = (auditTopic: string): string =>
  auditTopic === Topics.auditLog
    ? 'rotor-audit-checkpoints'
    : `rotor-audit-checkpoints-${auditTopic.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 255);
