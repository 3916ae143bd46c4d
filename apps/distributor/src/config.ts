import { EnvFragments, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

export function loadDistributorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv({ ...serviceEnvShape(8082), ...EnvFragments.gsm }, env);
  return { ...serviceSettings('distributor', e), gsm: { project: e.GSM_PROJECT, emulatorHost: e.SECRET_MANAGER_EMULATOR_HOST } };
}

export type DistributorConfig = ReturnType<typeof loadDistributorConfig>;
