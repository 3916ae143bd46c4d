import { z } from 'zod';

import { EnvFragments, httpSettings, parseEnv, TransportEnvFragments } from '@rotor/config';

import type { AgentSettings } from './injection';

/**
 * Every variable the injector reads. It talks to nothing but the API server that calls it: no
 * Kafka, Redis or GSM, so only the HTTPS listener and what it puts into pods.
 */
export const injectorEnvShape = {
  ...EnvFragments.http(8084),
  ...EnvFragments.logging,
  ...TransportEnvFragments.insecure,
  ROTOR_AGENT_IMAGE: z
    .string()
    .min(1)
    .describe("The image of the agent container it injects: the Dockerfile's agent target (rotor-agent), by digest in production."),
  ROTOR_AGENT_ISSUER_URL: z
    .url()
    .refine((value) => new URL(value).protocol === 'https:', 'must be an https URL')
    .default('https://issuer.rotor.svc:8443')
    .describe("The issuer's address as injected pods reach it, written into the agent's configuration."),
  ROTOR_AGENT_CA_CONFIGMAP: z
    .string()
    .regex(/^([a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?|-)$/, 'must be a ConfigMap name, or - for the image trust store')
    .default('rotor-ca')
    .describe(
      "A ConfigMap in each injected pod's namespace holding the issuer's CA as ca.crt (trust-manager can copy it there); - trusts the image's store instead.",
    ),
  ROTOR_AGENT_TOKEN_AUDIENCE: z
    .string()
    .min(1)
    .default('rotor')
    .describe("The audience of the projected token injected pods present: the issuer's ROTOR_TOKEN_AUDIENCE."),
  ROTOR_AGENT_TOKEN_EXPIRATION_SECONDS: z.coerce
    .number()
    .int()
    .min(600)
    .max(86_400)
    .default(600)
    .describe('Lifetime of that token; the kubelet renews it at 80%, and 600 s is the shortest the API server allows.'),
  ROTOR_AGENT_FS_GROUP: z.coerce
    .number()
    .int()
    .min(1)
    .max(2_147_483_647)
    .default(10001)
    .describe('The fsGroup set on injected pods that have none, so the application user can read the credential files (0440).'),
};

export function loadInjectorConfig(env: NodeJS.ProcessEnv = process.env) {
  const e = parseEnv(injectorEnvShape, env);
  const agent: AgentSettings = {
    image: e.ROTOR_AGENT_IMAGE,
    issuerUrl: e.ROTOR_AGENT_ISSUER_URL,
    ...(e.ROTOR_AGENT_CA_CONFIGMAP === '-' ? {} : { caConfigMap: e.ROTOR_AGENT_CA_CONFIGMAP }),
    tokenAudience: e.ROTOR_AGENT_TOKEN_AUDIENCE,
    tokenExpirationSeconds: e.ROTOR_AGENT_TOKEN_EXPIRATION_SECONDS,
    fsGroup: e.ROTOR_AGENT_FS_GROUP,
  };
  return { service: 'injector' as const, http: httpSettings(e), logLevel: e.LOG_LEVEL, agent };
}

export type InjectorConfig = ReturnType<typeof loadInjectorConfig>;
