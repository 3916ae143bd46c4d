import { EnvFragments, parseEnv, serviceEnvShape, serviceSettings } from '@rotor/config';

export function loadAuditorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv({ ...serviceEnvShape(8083), ...EnvFragments.keys.auditKey }, env);
  return { ...serviceSettings('auditor', e), auditKey: e.ROTOR_AUDIT_KEY };
}

export type AuditorConfig = ReturnType<typeof loadAuditorConfig>;
