import { parseArgs } from 'node:util';

import { auditCommand } from './commands/audit';
import { breakGlassCommand } from './commands/break-glass';
import { deliveriesCommand } from './commands/deliveries';
import { issueCredentialCommand } from './commands/credentials';
import { devTokenCommand } from './commands/dev';
import { emergencyCommand, UsageError } from './commands/emergency';
import { inventoryCommand } from './commands/inventory';
import { leasesCommand } from './commands/leases';
import { loginCommand, logoutCommand, whoamiCommand } from './commands/login';
import { reportCommand } from './commands/report';
import { scanCommand } from './commands/scan';
import { createContext } from './context';
import { ApiError } from './http-client';

const USAGE = `rotor: the operators' command line

  rotor login [--browser] [--issuer URL] [--client-id ID]   (sign in at your OpenID Provider: a code to
                      enter on any device, or --browser for a sign-in page on this machine; the tokens are
                      kept in ~/.config/rotor/login.json, mode 0600, and renewed as needed)
  rotor whoami        (the sign-in in use, and the rotor groups rotor grants it)
  rotor logout        (revokes the refresh token at the provider and forgets the sign-in)
  rotor credentials issue --role R [--ttl 15m] [--task T] [--idempotency-key K]
  rotor leases show|renew|revoke <lease-id> [--ttl 15m]
  rotor leases list [--namespace NS [--service-account SA]] [--role R] [--backend B] [--owner O]
                   [--state active|expired|revoked|irrevocable] [--limit 100] [--after ID]
                      (the auditor's inventory, a page at a time; --state irrevocable alone: the revoker's
                      list, with attempts and the last error)
  rotor audit events [--lease ID] [--workload NS/SA] [--secret NAME] [--from ISO] [--to ISO]
  rotor audit verify
  rotor emergency rotate --selector namespace=NS [--selector role=R …] --mode graceful|immediate --reason "…"
                         [--dry-run] [--yes] [--request-id ID] [--watch]
                      (--dry-run: what it would cover, leases by role and backend, secrets and targets; without
                      --yes it shows the same and asks; the request id, derived from you, the selector, mode and
                      reason unless given, makes the same command again find the rotation already started)
  rotor emergency show <id> [--watch]
  rotor audit replay [--from TIME|OFFSET] [--to TIME|OFFSET] [--verify [--public-key FILE]] [--rebuild] [--out FILE.jsonl] [--filter type=|lease=|secret=|workload=|actor=…]
                      (--verify needs only the auditor's public keys: --public-key or ROTOR_AUDIT_PUBLIC_KEYS_FILE;
                      with GSM_PROJECT set it also compares the checkpoint kept in GSM)
  rotor audit keys [--out FILE]       (the public keys that verify the audit checkpoints, as JWKS)
  rotor audit tail [--from TIME] [--filter …]
  rotor inventory secret NAME | inventory workload NS/SA | inventory owner NAME | inventory at ISO-TIME
  rotor report [--html FILE] [--fail-on high|medium|low]   (posture: overdue rotations, irrevocable leases,
                      copies outside the inventory, break-glass follow-ups, TTLs above the ceiling)
  rotor break-glass --secret A[,B] [--role R] --reason "…" --ticket T [--ttl 30m] | break-glass end <id>
  rotor deliveries list --secret NAME [--state delivered|failed|...]
  rotor deliveries reconcile          (drift scan now; exit 3 when something is found)
  rotor scan <path>… | - [--max-file-mb 50] [--report]   (manual copies of managed values in files or stdin;
                      prints path:line, never values; exit 1 when something is found, 2 on errors)
  rotor dev token (--namespace NS --service-account SA [--pod P] | --groups rotor:sre,rotor:auditor)

Options: --json (machine-readable output). Tokens, first found first: ROTOR_TOKEN (or --token T, which
other users of the machine can see), --dev (a development token for the local stack), the rotor login sign-in.
Sign-in: ROTOR_OPERATOR_ISSUER (https://127.0.0.1:5556, the local stack's provider), ROTOR_OPERATOR_CLIENT_ID
(rotor-cli), ROTOR_CONFIG_DIR (~/.config/rotor).
Endpoints: ROTOR_ISSUER_URL, ROTOR_REVOKER_URL, ROTOR_DISTRIBUTOR_URL, ROTOR_AUDITOR_URL (https://127.0.0.1:8080..8083).
TLS: ROTOR_CA_FILE (the CA to trust; the local stack's is .rotor/tls/ca.crt), ROTOR_CLIENT_CERT_FILE and
ROTOR_CLIENT_KEY_FILE (mTLS). \`rotor audit\` reads Kafka as KAFKA_SASL_USERNAME (cli-audit) with
KAFKA_SASL_PASSWORD_FILE over TLS (KAFKA_SSL_CA_FILE); see README, Security.`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      dev: { type: 'boolean' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      role: { type: 'string' },
      ttl: { type: 'string' },
      task: { type: 'string' },
      'idempotency-key': { type: 'string' },
      state: { type: 'string' },
      lease: { type: 'string' },
      workload: { type: 'string' },
      secret: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      owner: { type: 'string' },
      backend: { type: 'string' },
      offset: { type: 'string' },
      namespace: { type: 'string' },
      'service-account': { type: 'string' },
      pod: { type: 'string' },
      groups: { type: 'string' },
      subject: { type: 'string' },
      // emergency rotate
      selector: { type: 'string', multiple: true },
      mode: { type: 'string' },
      reason: { type: 'string' },
      'request-id': { type: 'string' },
      watch: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      // audit replay / tail
      verify: { type: 'boolean' },
      rebuild: { type: 'boolean' },
      out: { type: 'string' },
      filter: { type: 'string', multiple: true },
      'public-key': { type: 'string' },
      // distributor
      target: { type: 'string' },
      // login
      issuer: { type: 'string' },
      'client-id': { type: 'string' },
      browser: { type: 'boolean' },
      // break-glass
      ticket: { type: 'string' },
      // scan
      report: { type: 'boolean' },
      'max-file-mb': { type: 'string' },
      // report
      html: { type: 'string' },
      'fail-on': { type: 'string' },
    },
  });
  const [group, action, argument] = positionals;
  if (values.help || !group) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const context = createContext(values);
  switch (`${group} ${action ?? ''}`.trim()) {
    case 'credentials issue':
      return issueCredentialCommand(context, values);
    case 'dev token':
      return devTokenCommand(context, values);
    case 'login':
      return loginCommand(context, values);
    case 'logout':
      return logoutCommand(context);
    case 'whoami':
      return whoamiCommand(context);
    default:
      if (group === 'leases') return leasesCommand(context, { action, id: argument }, values);
      if (group === 'audit') return auditCommand(context, action, values);
      if (group === 'emergency') return emergencyCommand(context, { action, id: argument }, values);
      if (group === 'inventory') return inventoryCommand(context, action, argument);
      if (group === 'deliveries') return deliveriesCommand(context, action, values);
      if (group === 'break-glass') return breakGlassCommand(context, { action, id: argument }, values);
      if (group === 'scan') return scanCommand(context, positionals.slice(1), values);
      if (group === 'report') return reportCommand(context, values);
      throw new Error(`unknown command "${positionals.join(' ')}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`rotor: ${error instanceof ApiError || error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
