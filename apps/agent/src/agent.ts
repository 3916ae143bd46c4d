import { randomBytes } from 'node:crypto';

import { sleep } from '@rotor/backoff';
import { isTransient, RotorProblemError, type IssuerClient } from '@rotor/client';
import type { Logger } from '@rotor/telemetry';

import type { AgentMetrics } from './agent-metrics';
import { writeFileAtomic } from './atomic-file';
import type { AgentConfig, CredentialConfig } from './config';
import { notify as notifyApplication } from './notify';
import { nextStep, retryAt, type LeaseTiming } from './schedule';
import { render } from './template';

/** The calls the agent makes: the typed client, or a double in the unit specs. */
export type WorkloadApi = Pick<IssuerClient, 'issue' | 'renew' | 'revoke' | 'readSecret'>;

/** What the agent holds for one configured credential: the lease or the secret version in its file. */
export type Slot =
  | { kind: 'role'; config: CredentialConfig; leaseId: string; timing: LeaseTiming; fields: Record<string, string>; generation: number }
  | { kind: 'secret'; config: CredentialConfig; version: number; fields: Record<string, string> };

/** The agent could not do what it must; the message names credentials and reasons, never values. */
export class AgentError extends Error {
  override readonly name = 'AgentError';

  constructor(
    message: string,
    /** Every cause was the issuer being unreachable or busy: trying again later may work. */
    readonly transient = false,
  ) {
    super(message);
  }
}

export interface AgentDeps {
  config: AgentConfig;
  client: WorkloadApi;
  logger: Logger;
  metrics?: AgentMetrics;
  /** Names the pod on each lease. */
  task: string;
  write?: (path: string, content: string, mode: number) => Promise<void>;
  notify?: (changed: string[]) => Promise<void>;
}

export interface Readiness {
  ready: boolean;
  credentials: { name: string; ready: boolean; reason?: string }[];
}

/** What the agent asks of the issuer, as `rotor_agent_issuer_calls_total` names it. */
type IssuerCall = 'issue' | 'renew' | 'revoke' | 'read-secret';

/** Problems after which renewing is pointless: the lease is gone, so a new one is needed. */
const LEASE_GONE = new Set(['lease-ended', 'lease-not-found']);

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The agent: obtains each configured credential, renders it into its file and, as a sidecar,
 * keeps it valid (renewal at two thirds of the TTL, a new lease before the maximum lifetime,
 * new versions of managed secrets), revoking its own leases when it stops.
 */
export class Agent {
  private readonly slots = new Map<string, Slot>();
  /** Why a credential is not usable right now, by name (absent: fine). */
  private readonly problems = new Map<string, string>();
  private readonly stopping = new AbortController();
  private readonly run = randomBytes(4).toString('hex');
  private readonly write: NonNullable<AgentDeps['write']>;
  private loops: Promise<void>[] = [];
  /** Replaced leases waiting out their grace before revocation. */
  private readonly retiring = new Set<Extract<Slot, { kind: 'role' }>>();

  constructor(private readonly deps: AgentDeps) {
    this.write = deps.write ?? writeFileAtomic;
    for (const credential of deps.config.credentials) this.problems.set(credential.name, 'not obtained yet');
  }

  /**
   * Init mode: every credential obtained and rendered before any file is written, so a failure
   * leaves no new file at all; the leases obtained so far are then revoked.
   */
  async init(): Promise<Slot[]> {
    const credentials = this.deps.config.credentials;
    const obtained = await Promise.allSettled(credentials.map((credential) => this.obtain(credential, 0)));
    const slots = obtained.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failures = obtained.flatMap((result, index) =>
      result.status === 'rejected' ? [`${credentials[index]!.name}: ${reason(result.reason)}`] : [],
    );
    if (failures.length > 0) {
      await this.revokeAll(slots, 'init-failed');
      const transient = obtained.every((result) => result.status === 'fulfilled' || isTransient(result.reason));
      throw new AgentError(`could not obtain ${failures.join('; ')}`, transient);
    }
    const contents = new Map<string, string>();
    try {
      for (const slot of slots) contents.set(slot.config.name, this.render(slot));
    } catch (error) {
      await this.revokeAll(slots, 'init-failed');
      throw error;
    }
    try {
      for (const slot of slots) await this.writeSlot(slot, contents.get(slot.config.name)!);
    } catch (error) {
      await this.revokeAll(slots, 'init-failed');
      throw new AgentError(`could not write the credential files: ${reason(error)}`);
    }
    for (const slot of slots) this.hold(slot);
    return slots;
  }

  /** Sidecar mode: init (retried while the issuer is unreachable), then keep every credential valid until stop(). */
  async keep(): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      try {
        await this.init();
        break;
      } catch (error) {
        if (!(error instanceof AgentError && error.transient)) throw error;
        const waitMs = retryAt({ now: Date.now(), expiresAt: 0, attempt }) - Date.now();
        this.deps.logger.warn({ attempt, waitMs, err: reason(error) }, 'the issuer is unavailable; starting again later');
        await sleep(waitMs, this.stopping.signal);
      }
    }
    if (this.stopping.signal.aborted) return;
    this.loops = [...this.slots.values()].map((slot) =>
      slot.kind === 'role' ? this.keepLease(slot.config) : this.followSecret(slot.config),
    );
    await Promise.all(this.loops);
  }

  /** Stops the loops and revokes the leases this agent holds (task end). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    await this.revokeAll([...this.slots.values(), ...this.retiring], 'stopped');
  }

  readiness(now = Date.now()): Readiness {
    const credentials = this.deps.config.credentials.map(({ name }) => {
      const slot = this.slots.get(name);
      const problem = !slot
        ? (this.problems.get(name) ?? 'not obtained yet')
        : slot.kind === 'role' && slot.timing.expiresAt <= now
          ? `lease expired; ${this.problems.get(name) ?? 'being replaced'}`
          : undefined;
      this.deps.metrics?.ready.set({ credential: name }, problem ? 0 : 1);
      return { name, ready: !problem, ...(problem ? { reason: problem } : {}) };
    });
    return { ready: credentials.every((credential) => credential.ready), credentials };
  }

  /** The lease ids held now, by credential name. */
  leases(): Record<string, string> {
    return Object.fromEntries([...this.slots.values()].flatMap((slot) => (slot.kind === 'role' ? [[slot.config.name, slot.leaseId]] : [])));
  }

  private async keepLease(config: CredentialConfig): Promise<void> {
    const { logger, metrics } = this.deps;
    let attempt = 0;
    let replaceNow = false;
    while (!this.stopping.signal.aborted) {
      const slot = this.slots.get(config.name) as Extract<Slot, { kind: 'role' }>;
      const planned = nextStep(slot.timing);
      const step = replaceNow ? { action: 'replace' as const, at: Date.now() } : planned;
      const at = attempt > 0 ? retryAt({ now: Date.now(), expiresAt: slot.timing.expiresAt, attempt }) : step.at;
      await sleep(Math.max(0, at - Date.now()), this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      const action = replaceNow || Date.now() >= slot.timing.expiresAt ? 'replace' : step.action;
      try {
        if (action === 'renew') {
          const view = await this.call(config.name, 'renew', () => this.deps.client.renew(slot.leaseId, config.ttl));
          if (view.state !== 'active') {
            replaceNow = true;
            continue;
          }
          slot.timing = {
            ...slot.timing,
            refreshedAt: Date.now(),
            expiresAt: Date.parse(view.expiresAt),
            maxExpiresAt: Date.parse(view.maxExpiresAt),
          };
          metrics?.renewals.inc({ credential: config.name, outcome: 'renewed' });
          metrics?.expiry.set({ credential: config.name }, slot.timing.expiresAt / 1000);
          logger.info({ credentialName: config.name, leaseId: slot.leaseId, expiresAt: view.expiresAt }, 'lease renewed');
        } else {
          await this.replace(slot);
          metrics?.replacements.inc({ credential: config.name, outcome: 'replaced' });
        }
        attempt = 0;
        replaceNow = false;
        this.problems.delete(config.name);
      } catch (error) {
        attempt++;
        if (action === 'renew') metrics?.renewals.inc({ credential: config.name, outcome: 'failed' });
        else metrics?.replacements.inc({ credential: config.name, outcome: 'failed' });
        if (error instanceof RotorProblemError && error.code && LEASE_GONE.has(error.code)) {
          replaceNow = true;
          attempt = 0;
        }
        this.problems.set(config.name, `${action} failed: ${reason(error)}`);
        logger.warn(
          { credentialName: config.name, leaseId: slot.leaseId, action, attempt, err: reason(error) },
          `${action} failed; keeping the current file`,
        );
      }
    }
  }

  /**
   * A new lease in place of the old: obtained, written over the file atomically, the application
   * told, and only then the old one revoked, so the file never names a credential that no longer works.
   */
  private async replace(old: Extract<Slot, { kind: 'role' }>): Promise<void> {
    const fresh = await this.obtain(old.config, old.generation + 1);
    let content: string;
    try {
      content = this.render(fresh);
      await this.writeSlot(fresh, content);
    } catch (error) {
      await this.revokeAll([fresh], 'write-failed');
      throw error;
    }
    this.hold(fresh);
    this.deps.logger.info(
      { credentialName: old.config.name, oldLeaseId: old.leaseId, leaseId: fresh.kind === 'role' ? fresh.leaseId : undefined },
      'lease replaced',
    );
    await this.tell([old.config.name]);
    this.retire(old);
  }

  /** Revokes a replaced lease after the grace (or at its expiry, if sooner), unless stop() revokes it first. */
  private retire(old: Extract<Slot, { kind: 'role' }>): void {
    this.retiring.add(old);
    const graceMs = Math.min(this.deps.config.sidecar.replacedLeaseGrace, Math.max(0, old.timing.expiresAt - Date.now()));
    const done = sleep(graceMs, this.stopping.signal).then(async () => {
      if (this.stopping.signal.aborted) return; // stop() revokes it with the others
      this.retiring.delete(old);
      await this.revokeAll([old], 'replaced');
    });
    this.loops.push(done);
  }

  private async followSecret(config: CredentialConfig): Promise<void> {
    const { logger, metrics } = this.deps;
    const interval = this.deps.config.sidecar.secretPollInterval;
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      const waitMs = attempt > 0 ? Math.min(interval, retryAt({ now: 0, expiresAt: 0, attempt })) : interval;
      await sleep(waitMs, this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      const held = this.slots.get(config.name) as Extract<Slot, { kind: 'secret' }>;
      try {
        const current = await this.obtain(config, 0);
        attempt = 0;
        this.problems.delete(config.name);
        if (current.kind !== 'secret' || current.version === held.version) {
          metrics?.secretPolls.inc({ credential: config.name, outcome: 'unchanged' });
          continue;
        }
        await this.writeSlot(current, this.render(current));
        this.hold(current);
        metrics?.secretPolls.inc({ credential: config.name, outcome: 'new-version' });
        logger.info(
          { credentialName: config.name, secretName: config.secret, version: current.version, previous: held.version },
          'new secret version written',
        );
        await this.tell([config.name]);
      } catch (error) {
        attempt++;
        metrics?.secretPolls.inc({ credential: config.name, outcome: 'failed' });
        // The file keeps the version it has: still readable, maybe stale, so it stays ready.
        logger.warn({ credentialName: config.name, attempt, err: reason(error) }, 'secret read failed; keeping the current file');
      }
    }
  }

  private async obtain(config: CredentialConfig, generation: number): Promise<Slot> {
    const secret = config.secret;
    if (secret) {
      const read = await this.call(config.name, 'read-secret', () => this.deps.client.readSecret(secret));
      return {
        kind: 'secret',
        config,
        version: read.version,
        fields: { value: read.value, version: String(read.version), secret: read.secret },
      };
    }
    const issued = await this.call(config.name, 'issue', () =>
      this.deps.client.issue({
        role: config.role!,
        ...(config.ttl !== undefined ? { ttl: config.ttl } : {}),
        task: this.taskOf(config),
        // The same key on a retried attempt: the issuer answers the first lease instead of minting another.
        idempotencyKey: `rotor-agent-${this.run}-${config.name}-${generation}`,
      }),
    );
    const issuedAt = Date.parse(issued.issuedAt);
    const expiresAt = Date.parse(issued.expiresAt);
    return {
      kind: 'role',
      config,
      leaseId: issued.leaseId,
      generation,
      fields: issued.credential,
      timing: { refreshedAt: issuedAt, expiresAt, maxExpiresAt: Date.parse(issued.maxExpiresAt), ttlMs: expiresAt - issuedAt },
    };
  }

  private render(slot: Slot): string {
    const { config } = slot;
    try {
      return render({
        fields: slot.fields,
        shape: config.template ?? (slot.kind === 'secret' ? 'raw' : 'json'),
        templateText: config.templateText,
        field: config.field ?? (slot.kind === 'secret' && config.template === undefined ? 'value' : undefined),
      });
    } catch (error) {
      throw new AgentError(`${config.name}: ${reason(error)}`);
    }
  }

  private async writeSlot(slot: Slot, content: string): Promise<void> {
    await this.write(slot.config.file, content, slot.config.mode);
    this.deps.metrics?.writes.inc({ credential: slot.config.name });
    this.deps.logger.info(
      {
        credentialName: slot.config.name,
        file: slot.config.file,
        ...(slot.kind === 'role'
          ? { leaseId: slot.leaseId, expiresAt: new Date(slot.timing.expiresAt).toISOString() }
          : { secretName: slot.config.secret, version: slot.version }),
      },
      'credential file written',
    );
  }

  private hold(slot: Slot): void {
    this.slots.set(slot.config.name, slot);
    this.problems.delete(slot.config.name);
    if (slot.kind === 'role') this.deps.metrics?.expiry.set({ credential: slot.config.name }, slot.timing.expiresAt / 1000);
  }

  private async tell(changed: string[]): Promise<void> {
    const notify =
      this.deps.notify ??
      (this.deps.config.sidecar.notify ? (names: string[]) => notifyApplication(this.deps.config.sidecar.notify!, names) : undefined);
    if (!notify) return;
    try {
      await notify(changed);
      this.deps.metrics?.notifications.inc({ outcome: 'sent' });
    } catch (error) {
      this.deps.metrics?.notifications.inc({ outcome: 'failed' });
      this.deps.logger.warn({ changed, err: reason(error) }, 'could not notify the application');
    }
  }

  private async revokeAll(slots: Slot[], why: string): Promise<void> {
    await Promise.all(
      slots.map(async (slot) => {
        if (slot.kind !== 'role') return;
        try {
          const answer = await this.call(slot.config.name, 'revoke', () => this.deps.client.revoke(slot.leaseId));
          this.deps.logger.info(
            { credentialName: slot.config.name, leaseId: slot.leaseId, why, revocation: answer.revocation },
            'lease revoked',
          );
        } catch (error) {
          // It still ends at its expiry: the revoker's clock has it.
          this.deps.logger.warn(
            { credentialName: slot.config.name, leaseId: slot.leaseId, why, err: reason(error) },
            'could not revoke the lease',
          );
        }
      }),
    );
  }

  /** One call to the issuer, counted by outcome: what the agent costs the issuer shows in its metrics. */
  private async call<T>(credential: string, call: IssuerCall, request: () => Promise<T>): Promise<T> {
    try {
      const answer = await request();
      this.deps.metrics?.issuerCalls.inc({ credential, call, outcome: 'ok' });
      return answer;
    } catch (error) {
      this.deps.metrics?.issuerCalls.inc({ credential, call, outcome: 'failed' });
      throw error;
    }
  }

  private taskOf(config: CredentialConfig): string {
    return `${this.deps.task}/${config.name}`.replace(/[^\w.:/-]/g, '-').slice(0, 128);
  }
}
