import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

import { DomainError } from '@rotor/errors';
import { operatorFrom, workloadFrom, type Caller, type OperatorClaimRules, type WorkloadCaller } from '@rotor/identity';

import { RefreshingKeySet, type KeySource } from './key-set';
import { VerifiedTokenCache } from './verified-token-cache';

/** What the cluster says of a token (TokenReview): still accepted, and as which user. */
export interface TokenReview {
  authenticated: boolean;
  username?: string;
}

/** A second opinion from the cluster: is this token still accepted (not revoked), and whose is it? */
export interface TokenReviewer {
  review(token: string): Promise<TokenReview>;
}

/**
 * The organisation's OpenID Provider, where people sign in (`rotor login`): its tokens are the
 * only ones that can carry operator rights. Its keys come from its discovery document unless
 * `jwks` names a file or URL.
 */
export interface OperatorTrust extends KeySource, OperatorClaimRules {
  /** The `aud` its tokens carry for rotor: the CLI's client id, as kubectl's `--oidc-client-id`. */
  audience: string;
}

export interface TokenVerifierSettings extends KeySource {
  audience: string;
  clockSkewSeconds: number;
  /**
   * How long a workload token that verified is answered from memory (never past its `exp`); 0
   * checks every request. It bounds how late a token the cluster revoked (TokenReview) or one
   * signed by a key withdrawn from the JWKS is noticed. Operator tokens are always checked.
   */
  cacheSeconds?: number;
  /** Without it no token carries operator rights: every operator route answers 401 or 403. */
  operator?: OperatorTrust;
}

const ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'];

const unauthenticated = (code: string, message: string) => new DomainError('unauthenticated', code, message);

/**
 * Verifies bearer tokens: Kubernetes projected service-account tokens (the cluster's issuer)
 * for workloads, and tokens of the operator issuer (an OpenID Provider) for people. Each
 * issuer is trusted for one kind of caller only.
 */
export class TokenVerifier {
  private operatorKeys?: Promise<RefreshingKeySet>;
  private readonly workloads: VerifiedTokenCache<WorkloadCaller>;

  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly settings: TokenVerifierSettings,
    private readonly reviewer?: TokenReviewer,
  ) {
    this.workloads = new VerifiedTokenCache((settings.cacheSeconds ?? 0) * 1000);
  }

  static async create(settings: TokenVerifierSettings, reviewer?: TokenReviewer): Promise<TokenVerifier> {
    if (settings.operator && settings.operator.issuer === settings.issuer)
      throw new Error('the operator issuer must not be the service-account issuer: workload tokens never carry operator rights');
    return new TokenVerifier((await RefreshingKeySet.create(settings)).getKey, settings, reviewer);
  }

  async verify(token: string | undefined): Promise<Caller> {
    if (!token) throw unauthenticated('missing-token', 'a bearer token is required');
    const known = this.workloads.get(token);
    if (known) return known;
    const operator = this.settings.operator;
    if (operator && issuerOf(token) === operator.issuer) {
      const keys = await this.operatorKeySet(operator);
      const payload = await checked(token, keys.getKey, { issuer: operator.issuer, audience: operator.audience }, this.settings);
      return operatorFrom(payload, operator);
    }
    const payload = await checked(token, this.keys, { issuer: this.settings.issuer, audience: this.settings.audience }, this.settings);
    const caller = Object.freeze(workloadFrom(payload));
    if (this.reviewer) await this.review(token, caller);
    this.workloads.set(token, caller, payload.exp! * 1000);
    return caller;
  }

  /**
   * The operator issuer's keys, fetched at the first operator request rather than at boot: a
   * service starts, and workloads are served, while the sign-in provider is away. A failed
   * fetch is tried again at the next request.
   */
  private operatorKeySet(operator: OperatorTrust): Promise<RefreshingKeySet> {
    this.operatorKeys ??= RefreshingKeySet.create(operator).catch((error: Error) => {
      this.operatorKeys = undefined;
      throw new DomainError('unavailable', 'operator-issuer-unavailable', `the operator sign-in provider's keys could not be read`, {
        retryAfterSeconds: 5,
        cause: error,
      });
    });
    return this.operatorKeys;
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

/** The issuer a token names, read before its signature is checked: it only chooses which keys check it. */
function issuerOf(token: string): string | undefined {
  try {
    return decodeJwt(token).iss;
  } catch {
    throw unauthenticated('invalid-token', 'the token is malformed');
  }
}

async function checked(
  token: string,
  keys: JWTVerifyGetKey,
  expected: { issuer: string; audience: string },
  { clockSkewSeconds }: { clockSkewSeconds: number },
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, keys, {
      ...expected,
      clockTolerance: clockSkewSeconds,
      requiredClaims: ['sub', 'exp'],
      algorithms: ALGORITHMS,
    });
    return payload;
  } catch (error) {
    throw unauthenticated('invalid-token', describeJoseError(error));
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
