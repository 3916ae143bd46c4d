import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** The agent's Prometheus metrics; labels are credential names and outcomes, never values. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly writes = new Counter({
    name: 'rotor_agent_file_writes_total',
    help: 'Credential files written, by credential',
    labelNames: ['credential'],
    registers: [this.registry],
  });
  readonly renewals = new Counter({
    name: 'rotor_agent_renewals_total',
    help: 'Lease renewals, by credential and outcome',
    labelNames: ['credential', 'outcome'],
    registers: [this.registry],
  });
  readonly replacements = new Counter({
    name: 'rotor_agent_replacements_total',
    help: 'Leases replaced by a new one (maximum lifetime reached, or the old one ended), by credential and outcome',
    labelNames: ['credential', 'outcome'],
    registers: [this.registry],
  });
  readonly secretPolls = new Counter({
    name: 'rotor_agent_secret_polls_total',
    help: 'Managed-secret reads, by credential and outcome (unchanged, new-version, failed)',
    labelNames: ['credential', 'outcome'],
    registers: [this.registry],
  });
  readonly issuerCalls = new Counter({
    name: 'rotor_agent_issuer_calls_total',
    help: 'Calls to the issuer (each may be several HTTP attempts of the client), by credential, call and outcome',
    labelNames: ['credential', 'call', 'outcome'],
    registers: [this.registry],
  });
  readonly expiry = new Gauge({
    name: 'rotor_agent_credential_expiry_timestamp_seconds',
    help: 'When the credential in the file stops working (leases only)',
    labelNames: ['credential'],
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'rotor_agent_credential_ready',
    help: '1 while the file holds a credential that works, 0 otherwise',
    labelNames: ['credential'],
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: 'rotor_agent_notifications_total',
    help: 'Notices to the application after a write, by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
