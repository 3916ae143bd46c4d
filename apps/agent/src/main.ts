import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';

import { IssuerClient } from '@rotor/client';
import { createLogger } from '@rotor/telemetry';

import { Agent, AgentError } from './agent';
import { AgentMetrics } from './agent-metrics';
import { AgentConfigError, loadAgentConfig, parseAgentConfig, type AgentConfig } from './config';
import { startHealthServer } from './health-server';
import { TemplateError } from './template';

const USAGE =
  'usage: rotor-agent <init|sidecar> [--config FILE]   (or ROTOR_AGENT_MODE; ROTOR_AGENT_CONFIG: a file, or the JSON itself; default /etc/rotor-agent/config.yaml)';

/** Exit codes: 0 every file written (init), a clean stop (sidecar) or --help; 1 the credentials could not be obtained or written; 2 usage or configuration. */
async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const logger = createLogger({ service: 'agent', level: process.env['LOG_LEVEL'] ?? 'info' });
  // Without an argument (the rotor-agent image's bare ENTRYPOINT, or SERVICE=agent) the mode comes from ROTOR_AGENT_MODE.
  const mode = argv[0] && !argv[0].startsWith('-') ? argv[0] : process.env['ROTOR_AGENT_MODE'];
  const configAt = argv.indexOf('--config');
  const configFile = configAt >= 0 ? argv[configAt + 1] : (process.env['ROTOR_AGENT_CONFIG'] ?? '/etc/rotor-agent/config.yaml');
  if ((mode !== 'init' && mode !== 'sidecar') || !configFile) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }

  let config: AgentConfig;
  try {
    // The injector passes the configuration itself as JSON in ROTOR_AGENT_CONFIG; otherwise it names a file.
    config = configFile.trimStart().startsWith('{') ? parseAgentConfig(configFile, 'ROTOR_AGENT_CONFIG') : loadAgentConfig(configFile);
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'invalid configuration');
    return 2;
  }

  const client = new IssuerClient({
    url: config.issuer.url,
    caFile: config.issuer.caFile,
    timeoutMs: config.issuer.timeout,
    attempts: config.issuer.attempts,
    // Read at every call: the kubelet replaces a projected token well before it expires.
    token: () => readToken(config.tokenFile),
  });
  const metrics = new AgentMetrics();
  const agent = new Agent({ config, client, logger, metrics, task: config.task ?? podTask() });

  if (mode === 'init') {
    try {
      const slots = await agent.init();
      logger.info({ credentialNames: slots.map((slot) => slot.config.name) }, 'every credential file written');
      return 0;
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'the credential files could not be written');
      return error instanceof AgentConfigError || error instanceof TemplateError ? 2 : 1;
    }
  }

  const { host, port } = config.sidecar.listen;
  const server = await startHealthServer({ host, port, readiness: () => agent.readiness(), metrics });
  logger.info({ host, port }, 'health endpoints listening');
  let stopped: Promise<void> | undefined;
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping: revoking the leases this agent holds');
    stopped ??= agent.stop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    await agent.keep();
  } catch (error) {
    logger.error({ err: (error as Error).message }, 'the agent cannot keep the credentials');
    await agent.stop();
    server.close();
    return 1;
  }
  await stopped;
  server.close();
  logger.info({}, 'stopped');
  return 0;
}

async function readToken(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new AgentError(`cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The pod, as the downward API names it (POD_NAMESPACE, POD_NAME), else the host name (a pod's is its name). */
function podTask(): string {
  const namespace = process.env['POD_NAMESPACE'];
  const pod = process.env['POD_NAME'] ?? hostname();
  return `pod:${namespace ? `${namespace}/` : ''}${pod}`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`rotor-agent: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
