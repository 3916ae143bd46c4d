import { z } from 'zod';

import { backendSettings, EnvFragments, gsmSettings, keyringFrom, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

const issuerEnv = {
  ROTOR_INTROSPECTION_RATE_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(600)
    .describe('Introspection calls per minute for each caller (a resource server or an operator), beyond which it answers 429.'),
  ROTOR_INTROSPECTION_BURST: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(60)
    .describe('How many introspection calls a caller may make at once after a quiet spell.'),
};

/** Every variable the issuer reads, with its meaning (the configuration reference is rendered from it). */
export const issuerEnvShape = {
  ...serviceEnvShape(8080),
  ...EnvFragments.backends,
  ...EnvFragments.gsm,
  ...EnvFragments.catalog,
  ...EnvFragments.keys.tokenHashKey,
  ...EnvFragments.dedupe,
  ...issuerEnv,
};

export function loadIssuerConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(issuerEnvShape, env);
  return {
    ...serviceSettings('issuer', e),
    backends: backendSettings(e),
    gsm: gsmSettings(e),
    catalogFile: e.ROTOR_CATALOG,
    tokenReview: e.ROTOR_TOKEN_REVIEW ? { kubeconfig: e.KUBECONFIG } : undefined,
    tokenHashKeys: keyringFrom('ROTOR_TOKEN_HASH_KEY', e),
    introspectionRate: { ratePerMinute: e.ROTOR_INTROSPECTION_RATE_PER_MINUTE, burst: e.ROTOR_INTROSPECTION_BURST },
    dedupeWindowMs: e.ROTOR_DEDUPE_WINDOW_SECONDS * 1000,
  };
}

export type IssuerConfig = ReturnType<typeof loadIssuerConfig>;
