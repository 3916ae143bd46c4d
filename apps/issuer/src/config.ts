import { backendSettings, EnvFragments, gsmSettings, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

export function loadIssuerConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(
    { ...serviceEnvShape(8080), ...EnvFragments.backends, ...EnvFragments.gsm, ...EnvFragments.catalog, ...EnvFragments.keys.tokenHashKey },
    env,
  );
  return {
    ...serviceSettings('issuer', e),
    backends: backendSettings(e),
    gsm: gsmSettings(e),
    catalogFile: e.ROTOR_CATALOG,
    tokenReview: e.ROTOR_TOKEN_REVIEW ? { kubeconfig: e.KUBECONFIG } : undefined,
    tokenHashKey: e.ROTOR_TOKEN_HASH_KEY,
  };
}

export type IssuerConfig = ReturnType<typeof loadIssuerConfig>;
