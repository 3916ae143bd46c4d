import { Command, InvalidArgumentError, Option } from 'commander';

import { registerAuditCommands } from './commands/audit';
import { registerBreakGlassCommands } from './commands/break-glass';
import { registerCredentialCommands } from './commands/credentials';
import { registerDeliveryCommands } from './commands/deliveries';
import { registerDevCommands } from './commands/dev';
import { registerEmergencyCommands } from './commands/emergency';
import { registerInventoryCommands } from './commands/inventory';
import { registerLeaseCommands } from './commands/leases';
import { registerLoginCommands } from './commands/login';
import { registerReportCommands } from './commands/report';
import { registerScanCommands } from './commands/scan';
import { registerTraceCommands } from './commands/trace';
import { completionScript, SHELLS, type Shell } from './completion';
import { OUTPUT_FORMATS, printResult } from './output';
import { contextOf, examples } from './program-kit';
import { configureRequests } from './rotor-api';
import { cliVersion } from './version';

const positiveSeconds = (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('a positive number of seconds');
  return value;
};
const attempts = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 10) throw new InvalidArgumentError('a whole number from 1 to 10');
  return value;
};

const ENVIRONMENT = `
Tokens, first found first: ROTOR_TOKEN (or --token, which other users of the machine can see),
--dev (the local stack only), the rotor login sign-in (ROTOR_CONFIG_DIR, else ~/.config/rotor).

Environment:
  ROTOR_ISSUER_URL, ROTOR_REVOKER_URL, ROTOR_DISTRIBUTOR_URL, ROTOR_AUDITOR_URL
                     the services (https://127.0.0.1:8080 … 8083)
  ROTOR_CA_FILE      the CA to trust (the local stack's: .rotor/tls/ca.crt)
  ROTOR_CLIENT_CERT_FILE, ROTOR_CLIENT_KEY_FILE   a client certificate, for services that require mTLS
  ROTOR_OPERATOR_ISSUER, ROTOR_OPERATOR_CLIENT_ID  where rotor login signs in (https://127.0.0.1:5556, rotor-cli)
  KAFKA_BROKERS, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE, KAFKA_SSL_CA_FILE
                     how rotor audit replay|tail reads the audit topic (as cli-audit)
  NO_COLOR           no colour

Exit codes:
  0  ok                      4  rotor unavailable: connection, TLS, timeout, 429, 5xx
  1  findings or drift       5  partial failure (some of the work failed)
  2  usage or invalid input  6  not found or conflict (404, 409)
  3  not signed in, or not allowed (401, 403)    70  a defect in rotor
`;

/** The whole command line: one tree, every command with its own flags, help and examples. */
export function buildProgram(): Command {
  const program = new Command('rotor')
    .description("rotor's command line: sign in, leases, emergency rotation, break-glass, audit, inventory and posture")
    .addOption(new Option('-o, --output <format>', 'table for people; json or yaml for scripts').choices(OUTPUT_FORMATS).default('table'))
    .option('--json', 'the same as --output json')
    .option('--no-color', 'no colour, even on a terminal')
    .option('--dev', 'a development token for the local stack (npm start)')
    .option('--token <token>', 'a bearer token; other users of this machine can read it: prefer rotor login or ROTOR_TOKEN')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for each answer').argParser(positiveSeconds).default(30))
    .addOption(new Option('--retries <n>', 'attempts for a request that is safe to repeat').argParser(attempts).default(3))
    .version(cliVersion().version, '-V, --version', "rotor's version")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', ENVIRONMENT);
  program.hook('preAction', (_program, action) => {
    const globals = action.optsWithGlobals<{ timeout: number; retries: number }>();
    configureRequests({ timeoutMs: globals.timeout * 1000, attempts: globals.retries });
  });

  registerLoginCommands(program);
  registerLeaseCommands(program);
  registerCredentialCommands(program);
  registerEmergencyCommands(program);
  registerBreakGlassCommands(program);
  registerAuditCommands(program);
  registerInventoryCommands(program);
  registerReportCommands(program);
  registerDeliveryCommands(program);
  registerScanCommands(program);
  registerTraceCommands(program);
  registerDevCommands(program);

  program
    .command('version')
    .description("the CLI's version, the commit it was built from, and Node.js")
    .action((_options: unknown, command: Command) => {
      const version = cliVersion();
      const context = contextOf(command);
      if (context.json) printResult(context, version);
      else process.stdout.write(`rotor ${version.version} (${version.commit}, node ${version.node})\n`);
    });
  program
    .command('completion')
    .description('a shell completion script')
    .addArgument(program.createArgument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText('after', examples('source <(rotor completion bash)    # in ~/.bashrc', 'rotor completion fish | source'))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
  return program;
}
