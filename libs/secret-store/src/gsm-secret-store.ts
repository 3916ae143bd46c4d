import { credentials } from '@grpc/grpc-js';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import type { CallOptions } from 'google-gax';

import { sleep } from '@rotor/backoff';
import { gsmVersionName } from '@rotor/contracts';
import { ConfigError, watchSecretFile, type WatchedSecretFile } from '@rotor/config';
import { DomainError } from '@rotor/errors';
import type { Metrics } from '@rotor/telemetry';

import { RateLimiter } from './rate-limiter';

export interface GsmSettings {
  project: string;
  /** `host:port` of a plaintext gRPC emulator; unset means the real GSM with ambient credentials. */
  emulatorHost?: string;
  /**
   * A service-account key file for the real GSM (GOOGLE_APPLICATION_CREDENTIALS). The client
   * caches the key it read, so a changed file gets a new client: a rotated key needs no restart.
   */
  credentialsFile?: string;
  /** How often the key file is checked for a change. */
  credentialsPollMs?: number;
  /** Default GSM quotas per project: 90,000 accesses/min and 600 writes/min. */
  accessesPerMinute?: number;
  writesPerMinute?: number;
  /** GSM allows about 2 version writes per second on one global secret. */
  versionWritesPerSecondPerSecret?: number;
}

/** Paces one kind of call; {@link RateLimiter} paces one process, a shared limiter every replica. */
export interface Pacer {
  /** Takes a token, waiting for one if needed; `onWait` runs once, before the first wait. */
  acquire(onWait?: () => Promise<void> | void): Promise<void>;
  /** Callers waiting right now. */
  readonly queued: number;
}

/**
 * Makes the pacer for one GSM quota. `quota` names it within the project (`accesses`, `writes`,
 * `version-writes:<secret>`), so pacers of the same quota in other processes can share a bucket.
 */
export type PacerFactory = (quota: string, ratePerMinute: number, burst?: number) => Pacer;

/** Each process paces itself: right for one replica, or when nothing shared is at hand. */
export const processPacers: PacerFactory = (_quota, ratePerMinute, burst) => new RateLimiter(ratePerMinute, burst);

/** Builds the gRPC client; a seam so tests can see which key file each client was built with. */
export type GsmClientFactory = (settings: Pick<GsmSettings, 'emulatorHost' | 'credentialsFile'>) => SecretManagerServiceClient;

export const gsmClient: GsmClientFactory = ({ emulatorHost, credentialsFile }) =>
  emulatorHost
    ? new SecretManagerServiceClient({
        apiEndpoint: emulatorHost.split(':')[0],
        port: Number(emulatorHost.split(':')[1]),
        sslCreds: credentials.createInsecure(),
        universeDomain: 'googleapis.com',
      })
    : new SecretManagerServiceClient(credentialsFile ? { keyFilename: credentialsFile } : {});

/** Calls still running on a replaced client get this long before it is closed. */
const RETIRED_CLIENT_GRACE_MS = 60_000;

/**
 * The client's own retry policy would retry RESOURCE_EXHAUSTED for up to a minute and then
 * report DEADLINE_EXCEEDED; rotor paces and backs off itself, so it must see the code.
 */
const NO_CLIENT_RETRY = { retry: null } as unknown as CallOptions;

const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_FAILED_PRECONDITION = 9;
const GRPC_UNAVAILABLE = 14;

const grpcCode = (error: unknown): number | undefined =>
  typeof error === 'object' && error !== null && 'code' in error ? Number(error.code) : undefined;

/** The GSM RPCs rotor calls: the `method` label of the GSM call metrics. */
type GsmMethod =
  | 'ListSecrets'
  | 'CreateSecret'
  | 'AddSecretVersion'
  | 'UpdateSecret'
  | 'AccessSecretVersion'
  | 'DisableSecretVersion'
  | 'DestroySecretVersion';

/** The project quota each RPC is paced by (ListSecrets is the readiness probe's). */
const QUOTA_OF: Record<GsmMethod, 'accesses' | 'writes'> = {
  ListSecrets: 'accesses',
  AccessSecretVersion: 'accesses',
  CreateSecret: 'writes',
  AddSecretVersion: 'writes',
  UpdateSecret: 'writes',
  DisableSecretVersion: 'writes',
  DestroySecretVersion: 'writes',
};

/** The `outcome` of a GSM call, from its gRPC status. */
const gsmCallOutcome = (code: number | undefined): string => {
  switch (code) {
    case GRPC_NOT_FOUND:
      return 'not-found';
    case GRPC_ALREADY_EXISTS:
    case GRPC_FAILED_PRECONDITION:
      return 'conflict';
    case GRPC_RESOURCE_EXHAUSTED:
      return 'quota-exhausted';
    case GRPC_UNAVAILABLE:
    case GRPC_DEADLINE_EXCEEDED:
      return 'unavailable';
    default:
      return 'error';
  }
};

/**
 * GSM calls by RPC and outcome, their duration, and the waits for quota in front of them. Labels
 * are RPC names, outcomes and quota kinds: never a secret's name (a per-secret quota is `version-writes`).
 */
class GsmMetrics {
  private readonly calls;
  private readonly duration;
  private readonly quotaWaits;
  private readonly quotaWaitSeconds;

  constructor(metrics: Metrics) {
    this.calls = metrics.counter('rotor_gsm_calls_total', 'GSM calls, by RPC and outcome', ['method', 'outcome']);
    this.duration = metrics.histogram('rotor_gsm_call_duration_seconds', 'GSM call duration, by RPC', ['method']);
    this.quotaWaits = metrics.counter('rotor_gsm_quota_waits_total', 'GSM calls that waited for quota at the rate limiter, by quota', [
      'quota',
    ]);
    this.quotaWaitSeconds = metrics.histogram(
      'rotor_gsm_quota_wait_seconds',
      'Time GSM calls waited for quota at the rate limiter, by quota',
      ['quota'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    );
  }

  called(method: GsmMethod, code: number | undefined, seconds: number): void {
    this.calls.inc({ method, outcome: code === undefined ? 'ok' : gsmCallOutcome(code) });
    this.duration.observe({ method }, seconds);
  }

  waited(quota: string, seconds: number): void {
    this.quotaWaits.inc({ quota });
    this.quotaWaitSeconds.observe({ quota }, seconds);
  }
}

const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/**
 * The authoritative store of managed-secret values: one GSM secret per managed secret,
 * one GSM version per rotor version. Values pass through here and nowhere else; errors
 * never include them.
 */
export class GsmSecretStore {
  private client: SecretManagerServiceClient;
  private readonly keyFile?: WatchedSecretFile;
  private readonly reads: Pacer;
  private readonly writes: Pacer;
  private readonly versionWrites = new Map<string, Pacer>();
  private readonly metrics?: GsmMetrics;

  constructor(
    private readonly settings: GsmSettings,
    private readonly pacers: PacerFactory = processPacers,
    createClient: GsmClientFactory = gsmClient,
    metrics?: Metrics,
  ) {
    this.client = createClient(settings);
    if (metrics) this.metrics = new GsmMetrics(metrics);
    const path = settings.emulatorHost ? undefined : settings.credentialsFile;
    if (path)
      this.keyFile = watchSecretFile({
        variable: 'GOOGLE_APPLICATION_CREDENTIALS',
        path,
        pollIntervalMs: settings.credentialsPollMs,
        onChange: (text) => {
          requireKeyFile(text);
          const retired = this.client;
          this.client = createClient(settings);
          setTimeout(() => void retired.close().catch(() => undefined), RETIRED_CLIENT_GRACE_MS).unref();
        },
      });
    this.reads = pacers('accesses', settings.accessesPerMinute ?? 90_000);
    this.writes = pacers('writes', settings.writesPerMinute ?? 600);
  }

  /** True while callers wait for quota: progress reports say so instead of looking stuck. */
  get quotaLimited(): boolean {
    return this.reads.queued > 0 || this.writes.queued > 0 || [...this.versionWrites.values()].some((limiter) => limiter.queued > 0);
  }

  /** The configured project: every name this store builds is inside it. */
  get project(): string {
    return this.settings.project;
  }

  secretName(secret: string): string {
    return `projects/${this.settings.project}/secrets/${secret}`;
  }

  /** The version's name in the configured project: what consumers read, disable and destroy, whatever an event said. */
  versionName(secret: string, version: number): string {
    return gsmVersionName({ project: this.settings.project, secret, version });
  }

  async ping(): Promise<void> {
    await this.call('ListSecrets', () =>
      this.client.listSecrets({ parent: `projects/${this.settings.project}`, pageSize: 1 }, { ...NO_CLIENT_RETRY, autoPaginate: false }),
    );
  }

  async ensureSecret(secret: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.call('CreateSecret', () =>
        this.client.createSecret(
          {
            parent: `projects/${this.settings.project}`,
            secretId: secret,
            secret: { replication: { automatic: {} }, labels },
          },
          NO_CLIENT_RETRY,
        ),
      );
    } catch (error) {
      if (!(error instanceof DomainError && error.code === 'gsm-already-exists')) throw error;
    }
  }

  /** Adds a version and returns its full name `projects/P/secrets/S/versions/V`. */
  async addVersion(secret: string, value: Buffer): Promise<string> {
    await this.paced(this.versionWriteLimiter(secret), 'version-writes');
    const [version] = await this.call('AddSecretVersion', () =>
      this.client.addSecretVersion({ parent: this.secretName(secret), payload: { data: value } }, NO_CLIENT_RETRY),
    );
    if (!version.name) throw new DomainError('unavailable', 'gsm-bad-answer', 'GSM returned a version without a name');
    return version.name;
  }

  /** Sets labels on the GSM secret (owner, current rotor version). */
  async setLabels(secret: string, labels: Record<string, string>): Promise<void> {
    await this.call('UpdateSecret', () =>
      this.client.updateSecret({ secret: { name: this.secretName(secret), labels }, updateMask: { paths: ['labels'] } }, NO_CLIENT_RETRY),
    );
  }

  async access(versionName: string): Promise<Buffer> {
    const [response] = await this.call('AccessSecretVersion', () =>
      this.client.accessSecretVersion({ name: versionName }, NO_CLIENT_RETRY),
    );
    const data = response.payload?.data;
    if (data === undefined || data === null) throw new DomainError('not-found', 'gsm-no-payload', `${versionName} has no payload`);
    return Buffer.isBuffer(data) ? data : Buffer.from(data);
  }

  async disable(versionName: string): Promise<void> {
    await this.call('DisableSecretVersion', () => this.client.disableSecretVersion({ name: versionName }, NO_CLIENT_RETRY));
  }

  async destroy(versionName: string): Promise<void> {
    await this.call('DestroySecretVersion', () => this.client.destroySecretVersion({ name: versionName }, NO_CLIENT_RETRY));
  }

  private versionWriteLimiter(secret: string): Pacer {
    let limiter = this.versionWrites.get(secret);
    if (!limiter) {
      const perSecond = this.settings.versionWritesPerSecondPerSecret ?? 2;
      // Burst 1: GSM counts over any one-second window, which a burst of 2 then 2/s would overrun.
      limiter = this.pacers(`version-writes:${secret}`, perSecond * 60, 1);
      this.versionWrites.set(secret, limiter);
    }
    return limiter;
  }

  async close(): Promise<void> {
    this.keyFile?.close();
    await this.client.close();
  }

  /** Takes a token from `limiter`, counting the wait when there was one. */
  private async paced(limiter: Pacer, quota: string): Promise<void> {
    const start = process.hrtime.bigint();
    let waited = false;
    await limiter.acquire(() => {
      waited = true;
    });
    if (waited) this.metrics?.waited(quota, secondsSince(start));
  }

  /** Paces the call, retries RESOURCE_EXHAUSTED with backoff, and maps gRPC failures to domain errors. */
  private async call<T>(method: GsmMethod, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const quota = QUOTA_OF[method];
      await this.paced(quota === 'accesses' ? this.reads : this.writes, quota);
      const start = process.hrtime.bigint();
      try {
        const answer = await fn();
        this.metrics?.called(method, undefined, secondsSince(start));
        return answer;
      } catch (error) {
        const code = grpcCode(error);
        this.metrics?.called(method, code, secondsSince(start));
        if (code === GRPC_RESOURCE_EXHAUSTED && attempt < 6) {
          await sleep(Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2));
          continue;
        }
        throw toDomainError(code);
      }
    }
  }
}

const toDomainError = (code: number | undefined): DomainError => {
  switch (code) {
    case GRPC_NOT_FOUND:
      return new DomainError('not-found', 'gsm-not-found', 'the secret or version does not exist in GSM');
    case GRPC_ALREADY_EXISTS:
      return new DomainError('conflict', 'gsm-already-exists', 'the secret already exists in GSM');
    case GRPC_FAILED_PRECONDITION:
      return new DomainError('conflict', 'gsm-version-disabled', 'the GSM version is disabled or destroyed');
    case GRPC_RESOURCE_EXHAUSTED:
      return new DomainError('unavailable', 'gsm-quota-exhausted', 'GSM quota exhausted', { retryAfterSeconds: 60 });
    case GRPC_UNAVAILABLE:
    default:
      return new DomainError('unavailable', 'gsm-unavailable', `GSM call failed (gRPC code ${code ?? 'unknown'})`, {
        retryAfterSeconds: 5,
      });
  }
};

/** A half-written or foreign file keeps the current client (the error names no content). */
function requireKeyFile(text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(['GOOGLE_APPLICATION_CREDENTIALS: the file is not JSON']);
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { type?: unknown }).type !== 'string')
    throw new ConfigError(['GOOGLE_APPLICATION_CREDENTIALS: the file is not a Google credentials file (no type)']);
}
