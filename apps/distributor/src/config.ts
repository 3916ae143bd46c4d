import { EnvFragments, gsmSettings, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

export function loadDistributorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv({ ...serviceEnvShape(8082), ...EnvFragments.gsm }, env);
  return { ...serviceSettings('distributor', e), gsm: gsmSettings(e) };
}

export type DistributorConfig = ReturnType<typeof loadDistributorConfig>;
