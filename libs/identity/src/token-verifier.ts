import { readFile } from 'node:fs/promises';

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

import { DomainError } from '@rotor/errors';

import type { Caller } from './caller';

/** A second opinion from the cluster: is this token still accepted (not revoked)? */
export interface TokenReviewer {
  review(token: string): Promise<boolean>;
}

export interface TokenVerifierSettings {
  /** A JWKS file path, a JWKS URL, or an OIDC issuer's discovery URL (`…/.well-known/openid-configuration`). */
  jwks: string;
  issuer: string;
  audience: string;
  clockSkewSeconds: number;
}

const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

const unauthenticated = (code: string, message: string) => new DomainError('unauthenticated', code, message);

/**
 * Verifies bearer tokens: Kubernetes projected service-account tokens for workloads, and
 * operator tokens (same issuer, a `groups` claim with rotor groups) for people.
 */
export class TokenVerifier {
  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly settings: TokenVerifierSettings,
    private readonly reviewer?: TokenReviewer,
  ) {}

  static async create(settings: TokenVerifierSettings, reviewer?: TokenReviewer): Promise<TokenVerifier> {
    return new TokenVerifier(await loadKeys(settings.jwks), settings, reviewer);
  }

  async verify(token: string | undefined): Promise<Caller> {
    if (!token) throw unauthenticated('missing-token', 'a bearer token is required');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTolerance: this.settings.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
        algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
      }));
    } catch (error) {
      throw unauthenticated('invalid-token', describeJoseError(error));
    }
    const caller = callerFrom(payload);
    if (caller.kind === 'workload' && this.reviewer) await this.review(token);
    return caller;
  }

  private async review(token: string): Promise<void> {
    let accepted: boolean;
    try {
      accepted = await this.reviewer!.review(token);
    } catch {
      throw new DomainError('unavailable', 'token-review-unavailable', 'the Kubernetes API could not review the token', {
        retryAfterSeconds: 5,
      });
    }
    if (!accepted) throw unauthenticated('token-revoked', 'Kubernetes no longer accepts this token');
  }
}

export function callerFrom(payload: JWTPayload): Caller {
  const subject = payload.sub ?? '';
  const match = SERVICE_ACCOUNT_SUBJECT.exec(subject);
  if (match?.[1] && match[3]) {
    const pod = (payload['kubernetes.io'] as { pod?: { name?: unknown; uid?: unknown } } | undefined)?.pod;
    return {
      kind: 'workload',
      subject,
      workload: {
        namespace: match[1],
        serviceAccount: match[3],
        ...(typeof pod?.name === 'string' && pod.name ? { podName: pod.name } : {}),
        ...(typeof pod?.uid === 'string' && pod.uid ? { podUid: pod.uid } : {}),
      },
    };
  }
  const groups = payload['groups'];
  if (Array.isArray(groups) && groups.every((group) => typeof group === 'string')) {
    const rotorGroups = groups.filter((group) => group.startsWith('rotor:'));
    if (rotorGroups.length > 0) return { kind: 'operator', subject, groups: rotorGroups };
  }
  throw unauthenticated('unknown-subject', 'the token is neither a service-account token nor a rotor operator token');
}

async function loadKeys(source: string): Promise<JWTVerifyGetKey> {
  if (!/^https?:\/\//.test(source)) {
    const jwks = JSON.parse(await readFile(source, 'utf8')) as JSONWebKeySet;
    return createLocalJWKSet(jwks);
  }
  if (source.endsWith('/.well-known/openid-configuration')) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`OIDC discovery at ${source} answered ${response.status}`);
    const { jwks_uri: jwksUri } = (await response.json()) as { jwks_uri?: string };
    if (!jwksUri) throw new Error(`OIDC discovery at ${source} has no jwks_uri`);
    return createRemoteJWKSet(new URL(jwksUri));
  }
  return createRemoteJWKSet(new URL(source));
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no trusted key matches the token';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'the token is malformed';
  return 'the token could not be verified';
}
