import { errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

import { DomainError } from '@rotor/errors';
import { callerFrom, type Caller, type WorkloadCaller } from '@rotor/identity';

import { RefreshingKeySet, type KeySource } from './key-set';

/** What the cluster says of a token (TokenReview): still accepted, and as which user. */
export interface TokenReview {
  authenticated: boolean;
  username?: string;
}

/** A second opinion from the cluster: is this token still accepted (not revoked), and whose is it? */
export interface TokenReviewer {
  review(token: string): Promise<TokenReview>;
}

export interface TokenVerifierSettings extends KeySource {
  audience: string;
  clockSkewSeconds: number;
}

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
    return new TokenVerifier((await RefreshingKeySet.create(settings)).getKey, settings, reviewer);
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
    if (caller.kind === 'workload' && this.reviewer) await this.review(token, caller);
    return caller;
  }

  private async review(token: string, caller: WorkloadCaller): Promise<void> {
    let review: TokenReview;
    try {
      review = await this.reviewer!.review(token);
    } catch {
      throw new DomainError('unavailable', 'token-review-unavailable', 'the Kubernetes API could not review the token', {
        retryAfterSeconds: 5,
      });
    }
    if (!review.authenticated) throw unauthenticated('token-revoked', 'Kubernetes no longer accepts this token');
    // The cluster's word on whose token this is must be the token's own: anything else is not this workload.
    if (review.username !== caller.subject)
      throw unauthenticated('token-subject-mismatch', 'Kubernetes knows this token as another user than its subject');
  }
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
