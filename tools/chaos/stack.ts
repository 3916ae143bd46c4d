import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { Cluster } from 'ioredis';

import { createRedis } from '@rotor/redis-store';
import { createWebhookReceiver, type WebhookNotice } from '@rotor/webhook-signature';

import { FakeKubeApi } from '../fake-kube-api/fake-kube-api';
import { PrivateAuditDatabase } from '../../test/support/private-audit-database';
import { ServiceProcess, type ServiceName } from '../../test/support/service-process';
import { readEnvFile } from '../../test/support/services-env';
import { TcpSwitch } from '../../test/support/tcp-switch';
import { TestIdentity } from '../../test/support/test-identity';
import { kafkaFromEnv, redisLinkFromEnv } from '../security/env-clients';

const run = promisify(execFile);
export const ROOT = join(__dirname, '..', '..');

/** The three-node Kafka cluster of scripts/kafka-cluster.sh: node N listens on 29091+N. */
export const KAFKA_NODES = [1, 2, 3] as const;
export const KAFKA_BROKERS = KAFKA_NODES.map((node) => `127.0.0.1:${29091 + node}`).join(',');
/** The chaos runner's own Redis Cluster (scripts/redis-cluster.sh, instance `chaos`). */
export const REDIS_CLUSTER_ENV = { ROTOR_REDIS_CLUSTER_NAME: 'chaos', ROTOR_REDIS_CLUSTER_PORT: '7101' };
export const REDIS_PORTS = [7101, 7102, 7103, 7104, 7105, 7106];

const PORTS = { gsm: 19590, pgSwitch: 19591, redisAclSwitch: 19592, gsmSwitch: 19593 };
export interface ReplicaSpec {
  id: string;
  app: ServiceName;
  port: number;
}

/** The replicas: one issuer and distributor, two revokers and auditors (issue 15's sizing for two cores). */
export const REPLICAS: readonly ReplicaSpec[] = [
  { id: 'issuer-1', app: 'issuer', port: 19580 },
  { id: 'distributor-1', app: 'distributor', port: 19581 },
  { id: 'revoker-1', app: 'revoker', port: 19582 },
  { id: 'revoker-2', app: 'revoker', port: 19583 },
  { id: 'auditor-1', app: 'auditor', port: 19584 },
  { id: 'auditor-2', app: 'auditor', port: 19585 },
];

/** `count` replicas of every service (the capacity bench): issuer-1, issuer-2, distributor-1, … */
export const replicasOfEach = (count: number): ReplicaSpec[] =>
  (['issuer', 'distributor', 'revoker', 'auditor'] as const).flatMap((app, service) =>
    Array.from({ length: count }, (_, index) => ({ id: `${app}-${index + 1}`, app, port: 19600 + service * 4 + index })),
  );

export const MANAGED_SECRETS = ['chaos-api-key', 'chaos-signing-key'] as const;
export const NAMESPACES = { steady: 'chaos-steady', emergency: 'chaos-em' } as const;

const script = (name: string, args: string[], env: Record<string, string> = {}) =>
  run('bash', [join(ROOT, 'scripts', name), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 240_000 });

/** Runs a script step and returns its output; a failure carries the script's last lines. */
export async function stackScript(name: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout, stderr } = await script(name, args, env);
    return `${stdout}${stderr}`.trim();
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`scripts/${name} ${args.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

/** Every version notice the webhook target received, verified with rotor's own receiver helper. */
export class WebhookTarget {
  readonly notices: WebhookNotice[] = [];
  readonly key = { id: 'chaos-1', key: randomBytes(32).toString('hex') };
  private server?: Server;

  async start(): Promise<this> {
    const handler = createWebhookReceiver({ keyring: [this.key], onNotice: (notice) => void this.notices.push(notice) });
    this.server = createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/rotor`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/**
 * A fresh rotor installation on the clustered topology, owned by one chaos run: rotor's topics in
 * a Kafka namespace of its own on the three-node cluster, its own Redis Cluster (flushed), the
 * auditors' own PostgreSQL database, its own GSM emulator, fake kube-apiserver, webhook receiver and file-target directory, and the replicas
 * as child processes it can kill and restart. The issuer reaches PostgreSQL, the redis-acl
 * backend and GSM through TCP switches, so that one service's network can be cut without stopping
 * the servers the others use.
 */
export class ChaosStack {
  readonly namespace: string;
  readonly gsmProject: string;
  readonly dir: string;
  readonly fileRoot: string;
  readonly replicas = new Map<string, ServiceProcess>();
  readonly switches: { pg: TcpSwitch; redisAcl: TcpSwitch; gsm: TcpSwitch };
  readonly webhook = new WebhookTarget();
  readonly kube = new FakeKubeApi();
  /** The auditors' database (both replicas share it, as one installation's do), on the stack's PostgreSQL, dropped at the end. */
  readonly auditDatabase = new PrivateAuditDatabase();
  identity!: TestIdentity;
  redisNodes: string[] = [];
  private gsm?: ChildProcess;
  private env: Record<string, string> = {};

  constructor(
    readonly runId: string,
    private readonly progress: (line: string) => void,
    readonly replicaSpecs: readonly ReplicaSpec[] = REPLICAS,
  ) {
    this.namespace = `chaos-${runId}.`;
    this.gsmProject = `chaos-${runId}`;
    this.dir = mkdtempSync(join(tmpdir(), 'rotor-chaos-'));
    this.fileRoot = join(this.dir, 'targets');
    mkdirSync(this.fileRoot);
    const url = (name: string) => new URL(process.env[name]!);
    this.switches = {
      pg: new TcpSwitch({ host: '127.0.0.1', port: Number(url('DATABASE_URL').port || 5432) }, PORTS.pgSwitch),
      redisAcl: new TcpSwitch({ host: '127.0.0.1', port: Number(url('ROTOR_REDIS_ACL_URL').port) }, PORTS.redisAclSwitch),
      gsm: new TcpSwitch({ host: '127.0.0.1', port: PORTS.gsm }, PORTS.gsmSwitch),
    };
  }

  get gsmHost(): string {
    return `127.0.0.1:${PORTS.gsm}`;
  }

  replica(id: string): ServiceProcess {
    const replica = this.replicas.get(id);
    if (!replica) throw new Error(`no replica ${id}`);
    return replica;
  }

  url(id: string): string {
    return this.replica(id).url;
  }

  async start(catalogYaml: (stack: ChaosStack) => string): Promise<void> {
    const t0 = Date.now();
    this.progress('[stack] Kafka cluster (3 KRaft nodes) and the chaos Redis Cluster (3 masters, 3 replicas)');
    await stackScript('kafka-cluster.sh', ['up']);
    await stackScript('redis-cluster.sh', ['up'], REDIS_CLUSTER_ENV);
    this.redisNodes = readEnvFile(join(ROOT, '.rotor', 'redis-cluster-chaos', 'env'))['REDIS_CLUSTER_NODES']!.split(',');
    await this.flushRedis();
    await this.auditDatabase.create();
    this.identity = await TestIdentity.create();
    await Promise.all([this.kube.start(), this.webhook.start(), this.startGsm()]);
    await Promise.all(Object.values(this.switches).map((relay) => relay.start()));
    const catalog = join(this.dir, 'catalog.yaml');
    writeFileSync(catalog, catalogYaml(this));
    this.progress(`[stack] rotor's topics in Kafka namespace ${this.namespace} (3 replicas, min.insync.replicas 2)`);
    await this.prepareKafka(catalog);
    this.env = {
      ...this.identity.env,
      KAFKA_BROKERS,
      ROTOR_KAFKA_NAMESPACE: this.namespace,
      REDIS_CLUSTER_NODES: this.redisNodes.join(','),
      SECRET_MANAGER_EMULATOR_HOST: this.gsmHost,
      GSM_PROJECT: this.gsmProject,
      ROTOR_CATALOG: catalog,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_CONTENT_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_WEBHOOK_KEY_CHAOS: `${this.webhook.key.id}:${this.webhook.key.key}`,
      ROTOR_FILE_TARGET_ROOTS: this.fileRoot,
      KUBECONFIG: this.kube.writeKubeconfig(join(this.dir, 'kubeconfig')),
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
      LOG_LEVEL: 'info',
    };
    for (const { id, app, port } of this.replicaSpecs) {
      const own: Record<string, string> =
        app === 'issuer'
          ? {
              DATABASE_URL: this.viaSwitch('DATABASE_URL', PORTS.pgSwitch),
              ROTOR_REDIS_ACL_URL: this.viaSwitch('ROTOR_REDIS_ACL_URL', PORTS.redisAclSwitch),
              SECRET_MANAGER_EMULATOR_HOST: `127.0.0.1:${PORTS.gsmSwitch}`,
              // The final check introspects every token the run was given, a thousand or more.
              ROTOR_INTROSPECTION_RATE_PER_MINUTE: '60000',
              ROTOR_INTROSPECTION_BURST: '1000',
            }
          : app === 'auditor'
            ? this.auditDatabase.env()
            : {};
      this.replicas.set(id, new ServiceProcess(app, port, { ...this.env, ...own }));
    }
    this.progress(`[stack] ${this.replicaSpecs.length} rotor replicas: ${this.replicaSpecs.map((replica) => replica.id).join(', ')}`);
    await Promise.all([...this.replicas.values()].map((replica) => replica.start().ready(120_000)));
    this.progress(`[stack] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  /** Restarts a replica that was killed (the same command line and settings). */
  async restart(id: string): Promise<void> {
    // As a supervisor (a Deployment's kubelet) does: a replica that exits while starting is started again.
    const deadline = Date.now() + 240_000;
    for (;;) {
      try {
        await this.replica(id)
          .start()
          .ready(Math.max(1_000, deadline - Date.now()));
        return;
      } catch (error) {
        if (!/exited with/.test((error as Error).message) || Date.now() > deadline) throw error;
        this.progress(`[stack] ${id} exited while starting; starting it again`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  /** Stops every replica but the auditors: nothing produces events any more (rotations, deliveries, revocations). */
  async stopProducers(): Promise<void> {
    await Promise.all(this.replicaSpecs.filter(({ app }) => app !== 'auditor').map(({ id }) => this.replica(id).stop()));
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.replicas.values()].map((replica) => replica.stop()));
    await Promise.allSettled(Object.values(this.switches).map((relay) => relay.stop()));
    this.gsm?.kill('SIGCONT');
    this.gsm?.kill('SIGTERM');
    await Promise.allSettled([this.kube.stop(), this.webhook.stop()]);
    await this.auditDatabase.drop().catch(() => undefined);
  }

  /** The chaos Redis Cluster as admin (the checks read every key), connected. */
  async redisAdmin(): Promise<Cluster> {
    const redis = createRedis(process.env['REDIS_URL']!, {
      connectionName: 'rotor-chaos',
      clusterNodes: this.redisNodes,
      security: redisLinkFromEnv(),
    }) as unknown as Cluster;
    await redis.connect();
    return redis;
  }

  get gsmPid(): number | undefined {
    return this.gsm?.pid;
  }

  private viaSwitch(variable: string, port: number): string {
    const url = new URL(process.env[variable]!);
    url.port = String(port);
    return url.toString();
  }

  /** A fresh keyspace: the chaos cluster belongs to the runner, and each run is a new installation. */
  private async flushRedis(): Promise<void> {
    const redis = await this.redisAdmin();
    try {
      await Promise.all(redis.nodes('master').map((node) => node.flushall()));
    } finally {
      redis.disconnect();
    }
  }

  private async startGsm(): Promise<void> {
    const log = join(ROOT, '.rotor', 'logs', 'chaos-gsm.log');
    appendFileSync(log, `\n===== ${new Date().toISOString()} chaos run ${this.runId} =====\n`);
    this.gsm = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'tools', 'gsm-emulator', 'main.ts'), '--host', '127.0.0.1', '--port', String(PORTS.gsm)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Its own emulator or none: one left behind by an interrupted run would answer on the port
    // with another run's state, and pausing this run's process would pause nothing.
    const listening = new Promise<void>((resolve, reject) => {
      let output = '';
      const keep = (chunk: Buffer) => {
        appendFileSync(log, chunk);
        output += chunk.toString();
        if (/listening on/.test(output)) resolve();
      };
      this.gsm!.stdout?.on('data', keep);
      this.gsm!.stderr?.on('data', keep);
      this.gsm!.once('exit', (code) =>
        reject(
          new Error(`the GSM emulator exited (${code}) before it listened on ${this.gsmHost}: ${output.trim().split('\n').pop() ?? ''}`),
        ),
      );
    });
    await listening;
    await run(process.execPath, [join(ROOT, 'scripts', 'wait-for-gsm.js'), '30', this.gsmHost], { cwd: ROOT });
  }

  /** Topics and ACLs for this run's namespace; earlier runs' topics are deleted (their ACLs go with the setup). */
  private async prepareKafka(catalog: string): Promise<void> {
    const env = {
      KAFKA_BROKERS,
      KAFKA_SASL_USERNAME: 'admin',
      KAFKA_SASL_PASSWORD_FILE: join(ROOT, '.rotor', 'secrets', 'kafka-admin.password'),
      KAFKA_REPLICATION_FACTOR: '3',
      KAFKA_MIN_INSYNC_REPLICAS: '2',
      ROTOR_KAFKA_SETUP_NAMESPACES: this.namespace,
      ROTOR_CATALOG: catalog,
      ROTOR_KAFKA_NAMESPACE: '',
    };
    const admin = kafkaFromEnv('rotor-chaos-setup', { ...process.env, ...env }).admin();
    await admin.connect();
    try {
      const stale = (await admin.listTopics()).filter((topic) => topic.startsWith('chaos-') && !topic.startsWith(this.namespace));
      if (stale.length) {
        this.progress(`[stack] deleting ${stale.length} topics of earlier chaos runs`);
        await admin.deleteTopics({ topics: stale, timeout: 60_000 });
      }
    } finally {
      await admin.disconnect();
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await run(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools', 'security', 'kafka-setup.ts')], {
          cwd: ROOT,
          env: { ...process.env, ...env },
          timeout: 120_000,
        });
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
    }
  }
}

/** The PostgreSQL server's processes (postmaster and its children), for SIGSTOP/SIGCONT. */
export function postgresPids(): number[] {
  const dataDir = readFileSync(join(ROOT, '.rotor', 'pg.datadir'), 'utf8').trim();
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return [postmaster, ...children];
}
