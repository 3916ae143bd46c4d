/**
 * docker-compose.yml runs the secure stack (DESIGN §14), as scripts/services-up.sh runs it
 * locally. No Docker engine is needed: the compose file is parsed, the broker's properties and
 * pg_hba.conf are read, and the shell scripts the stack runs (infra/compose/*.sh) are executed
 * here with Debian's sh and openssl. infra/compose/pki.sh writes into a temporary directory
 * laid out like its volumes, so every file a container is told to read can be looked up: a
 * *_FILE variable or a --tls-key-file that points at nothing fails this test.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';

import { parse } from 'yaml';

import { KAFKA_PRINCIPALS, REDIS_ACCESS, REDIS_ACL_ADMIN, redisAclLine } from '@rotor/contracts';

const repoRoot = join(__dirname, '..', '..');
const COMPOSE_DIR = join(repoRoot, 'infra', 'compose');
const SERVICES = ['issuer', 'revoker', 'distributor', 'auditor'] as const;
/** The services that run the credential backends: PostgreSQL roles and Redis ACL users. */
const BACKEND_SERVICES: readonly string[] = ['issuer', 'revoker'];
/** The auditor's own PostgreSQL role and database (apps/auditor/src/config.ts, ROTOR_AUDIT_DATABASE_URL_FILE). */
const AUDITOR_ROLE = 'rotor_auditor';
const AUDITOR_DATABASE = 'rotor_audit';
const SETUP = 'kafka-setup';
const PKI_MOUNT_ROOT = '/pki';

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string };
  entrypoint?: string | string[];
  command?: string | string[];
  user?: string;
  network_mode?: string;
  environment?: Record<string, string | number> | string[];
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
}

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A named volume (else a bind mount of a repository path). */
  named: boolean;
}

const composeText = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
// Compose honours YAML merge keys (`<<:`); so must the parser.
const compose = parse(composeText, { merge: true }) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

function env(name: string): Record<string, string> {
  const environment = service(name).environment ?? {};
  if (Array.isArray(environment)) throw new Error(`${name}: environment must be a mapping`);
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, String(value)]));
}

function mounts(name: string): Mount[] {
  return (service(name).volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') {
      const source = volume.source ?? '';
      return {
        source,
        target: volume.target,
        readOnly: volume.read_only === true,
        named: volume.type === 'volume' || !/^[./~]/.test(source),
      };
    }
    const [source = '', target = '', mode = ''] = volume.split(':');
    return { source, target, readOnly: mode.split(',').includes('ro'), named: !/^[./~]/.test(source) };
  });
}

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const dependsOn = (name: string) => (service(name).depends_on ?? {}) as Record<string, { condition?: string }>;

/** `--flag value` from a command given as a list. */
function flag(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

/** name=value lines of a Java properties file (no continuation lines in ours). */
function properties(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** A word list assigned in a shell script: NAME='a b c'. */
function shellList(script: string, name: string): string[] {
  const match = new RegExp(`^${name}='([^']*)'`, 'm').exec(readFileSync(join(COMPOSE_DIR, script), 'utf8'));
  if (!match?.[1]) throw new Error(`${script}: no ${name}='…'`);
  return match[1].split(/\s+/);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const runsAsRoot = process.getuid?.() === 0;

describe('docker-compose.yml: the secure stack', () => {
  let pkiRoot: string;

  /**
   * Where a path inside a container's file system is on this machine: a repository file for a
   * bind mount, the pki output for a volume the `pki` service writes; undefined otherwise
   * (no mount, or a data volume).
   */
  function resolve(name: string, path: string): string | undefined {
    const mount = mounts(name)
      .filter((candidate) => path === candidate.target || path.startsWith(`${candidate.target}/`))
      .sort((a, b) => b.target.length - a.target.length)[0];
    if (!mount) return undefined;
    const rest = path.slice(mount.target.length);
    if (!mount.named) return join(repoRoot, mount.source, rest);
    const written = mounts('pki').find((candidate) => candidate.named && candidate.source === mount.source);
    return written ? join(pkiRoot, posix.relative(PKI_MOUNT_ROOT, written.target), rest) : undefined;
  }

  /** The file a container path names, which must exist; with its mode. */
  function fileIn(name: string, path: string | undefined) {
    const local = path === undefined ? undefined : resolve(name, path);
    const exists = local !== undefined && existsSync(local) && statSync(local).isFile();
    return { name, path, exists, mode: exists ? (statSync(local).mode & 0o777).toString(8) : undefined, local: exists ? local : undefined };
  }

  function read(name: string, path: string): string {
    const { local } = fileIn(name, path);
    if (!local) throw new Error(`${name}: ${path} resolves to no file`);
    return readFileSync(local, 'utf8');
  }

  beforeAll(() => {
    pkiRoot = mkdtempSync(join(tmpdir(), 'rotor-compose-pki-'));
    // The `pki` service's own command, with its volumes replaced by directories.
    const command = asList(service('pki').command);
    expect(command.slice(0, 1)).toEqual(['sh']);
    const script = resolve('pki', command[1] ?? '');
    expect(script).toBe(join(COMPOSE_DIR, 'pki.sh'));
    execFileSync('sh', [script ?? ''], { env: { ...process.env, PKI_ROOT: pkiRoot }, stdio: 'pipe' });
  });

  afterAll(() => {
    if (pkiRoot) rmSync(pkiRoot, { recursive: true, force: true });
  });

  it('never sets ROTOR_INSECURE_LOCAL, in the compose file or the scripts it runs', () => {
    const files = [join(repoRoot, 'docker-compose.yml'), ...readdirSync(COMPOSE_DIR).map((file) => join(COMPOSE_DIR, file))];
    expect(files.filter((file) => readFileSync(file, 'utf8').includes('ROTOR_INSECURE_LOCAL'))).toEqual([]);
  });

  it('serves HTTPS in every rotor service, with the pki certificate and a private key', () => {
    for (const name of SERVICES) {
      const e = env(name);
      expect({ name, HOST: e.HOST, cert: fileIn(name, e.ROTOR_TLS_CERT_FILE).exists, key: fileIn(name, e.ROTOR_TLS_KEY_FILE) }).toEqual({
        name,
        HOST: '0.0.0.0',
        cert: true,
        key: expect.objectContaining({ exists: true, mode: '600' }) as unknown,
      });
      const cert = execFileSync(
        'openssl',
        ['x509', '-noout', '-ext', 'subjectAltName', '-in', fileIn(name, e.ROTOR_TLS_CERT_FILE).local ?? ''],
        {
          encoding: 'utf8',
        },
      );
      for (const san of [
        'IP Address:127.0.0.1',
        'DNS:localhost',
        ...SERVICES.map((host) => `DNS:${host}`),
        'DNS:kafka',
        'DNS:redis',
        'DNS:postgres',
      ]) {
        expect({ name, san, present: cert.includes(san) }).toEqual({ name, san, present: true });
      }
    }
  });

  it('connects every rotor service to Kafka over SASL_SSL as its own SCRAM principal, with the password in a file', () => {
    for (const name of SERVICES) {
      const e = env(name);
      expect({
        name,
        brokers: e.KAFKA_BROKERS,
        mechanism: e.KAFKA_SASL_MECHANISM,
        ssl: e.KAFKA_SSL ?? 'true',
        ca: fileIn(name, e.KAFKA_SSL_CA_FILE).exists,
        username: e.KAFKA_SASL_USERNAME,
        inlinePassword: e.KAFKA_SASL_PASSWORD,
        passwordFile: fileIn(name, e.KAFKA_SASL_PASSWORD_FILE),
      }).toEqual({
        name,
        brokers: 'kafka:9092',
        mechanism: 'scram-sha-512',
        ssl: 'true',
        ca: true,
        username: name,
        inlinePassword: undefined,
        passwordFile: expect.objectContaining({ exists: true, mode: '600' }) as unknown,
      });
      // The very password kafka-users gives this principal.
      expect(read(name, e.KAFKA_SASL_PASSWORD_FILE ?? '')).toBe(read('kafka-users', `/etc/kafka/rotor-secrets/kafka-${name}.password`));
    }
  });

  it('connects every rotor service to Redis over TLS (rediss://) as its own ACL user, with the password in a file', () => {
    const acl = read('redis', flag(asList(service('redis').command), '--aclfile') ?? '');
    for (const name of SERVICES) {
      const e = env(name);
      expect({
        name,
        url: e.REDIS_URL,
        ca: fileIn(name, e.REDIS_CA_FILE).exists,
        username: e.REDIS_USERNAME,
        inlinePassword: e.REDIS_PASSWORD,
        passwordFile: fileIn(name, e.REDIS_PASSWORD_FILE),
      }).toEqual({
        name,
        url: 'rediss://redis:6379',
        ca: true,
        username: name,
        inlinePassword: undefined,
        passwordFile: expect.objectContaining({ exists: true, mode: '600' }) as unknown,
      });
      // Redis knows this user by the hash of exactly that password.
      expect(acl).toContain(`user ${name} on #${sha256(read(name, e.REDIS_PASSWORD_FILE ?? '').trim())} `);
    }
  });

  it('gives the credential backends acl-admin for Redis ACL users and a verify-full DATABASE_URL from a file, and nobody else', () => {
    const postgresPassword = read('postgres', env('postgres').POSTGRES_PASSWORD_FILE ?? '').trim();
    for (const name of SERVICES) {
      const e = env(name);
      const backend = BACKEND_SERVICES.includes(name);
      const databaseUrl = backend ? read(name, e.DATABASE_URL_FILE ?? '').trim() : undefined;
      expect({
        name,
        inlineDatabaseUrl: e.DATABASE_URL,
        databaseUrl,
        aclUser: e.ROTOR_REDIS_ACL_USERNAME,
        aclPassword: e.ROTOR_REDIS_ACL_PASSWORD_FILE === undefined ? undefined : fileIn(name, e.ROTOR_REDIS_ACL_PASSWORD_FILE).mode,
        entrypoint: asList(service(name).entrypoint).slice(0, 3),
      }).toEqual({
        name,
        inlineDatabaseUrl: undefined,
        databaseUrl: backend
          ? `postgres://rotor:${postgresPassword}@postgres:5432/rotor?sslmode=verify-full&sslrootcert=/etc/rotor/tls/ca.crt`
          : undefined,
        aclUser: backend ? 'acl-admin' : undefined,
        aclPassword: backend ? '600' : undefined,
        entrypoint: backend ? ['/usr/bin/tini', '--', '/bin/sh'] : [],
      });
      if (backend) {
        // sslrootcert is the CA this container has, and the wrapper that exports the URL is mounted.
        expect(fileIn(name, new URL(databaseUrl ?? '').searchParams.get('sslrootcert') ?? '').exists).toBe(true);
        expect(resolve(name, asList(service(name).entrypoint)[3] ?? '')).toBe(join(COMPOSE_DIR, 'rotor-entrypoint.sh'));
      }
    }
  });

  it('gives the auditor, and only it, its own database (rotor_auditor on rotor_audit, verify-full) from a file, never DATABASE_URL', () => {
    const auditorPassword = read('postgres', env('postgres').ROTOR_AUDITOR_PASSWORD_FILE ?? '').trim();
    const rotorPassword = read('postgres', env('postgres').POSTGRES_PASSWORD_FILE ?? '').trim();
    expect(auditorPassword).toMatch(/^[0-9a-f]{48}$/);
    expect(auditorPassword).not.toBe(rotorPassword);
    for (const name of SERVICES) {
      const e = env(name);
      const auditor = name === 'auditor';
      expect({
        name,
        inlineUrl: e.ROTOR_AUDIT_DATABASE_URL,
        urlFile: e.ROTOR_AUDIT_DATABASE_URL_FILE === undefined ? undefined : fileIn(name, e.ROTOR_AUDIT_DATABASE_URL_FILE).mode,
        adminUrl: auditor ? [e.DATABASE_URL, e.DATABASE_URL_FILE] : undefined,
        postgres: dependsOn(name).postgres?.condition,
      }).toEqual({
        name,
        inlineUrl: undefined,
        urlFile: auditor ? '600' : undefined,
        adminUrl: auditor ? [undefined, undefined] : undefined,
        postgres: auditor || BACKEND_SERVICES.includes(name) ? 'service_healthy' : undefined,
      });
    }
    const path = env('auditor').ROTOR_AUDIT_DATABASE_URL_FILE ?? '';
    const url = read('auditor', path).trim();
    expect(url).toBe(
      `postgres://${AUDITOR_ROLE}:${auditorPassword}@postgres:5432/${AUDITOR_DATABASE}?sslmode=verify-full&sslrootcert=/etc/rotor/tls/ca.crt`,
    );
    // Read by the service itself (apps/auditor/src/config.ts), not exported by rotor-entrypoint.sh as DATABASE_URL.
    expect(asList(service('auditor').entrypoint)).toEqual([]);
    expect(fileIn('auditor', new URL(url).searchParams.get('sslrootcert') ?? '').exists).toBe(true);
    expect(path).not.toBe(env('issuer').DATABASE_URL_FILE);
  });

  it("mounts each service's own secrets only: its own principals' passwords, nobody else's", () => {
    for (const name of SERVICES) {
      const secretVolumes = mounts(name).filter((mount) => mount.named && mount.source.startsWith('secrets-'));
      expect({ name, volumes: secretVolumes.map((mount) => `${mount.source}:${mount.target}:${mount.readOnly ? 'ro' : 'rw'}`) }).toEqual({
        name,
        volumes: [`secrets-${name}:/etc/rotor/secrets:ro`],
      });
      const files = readdirSync(resolve(name, '/etc/rotor/secrets') ?? '').sort();
      expect({ name, files }).toEqual({
        name,
        files: [
          ...(name === 'auditor' ? ['audit-signing-key.pem'] : []), // signs the audit checkpoints
          ...(name === 'auditor' ? ['audit-database-url'] : []), // its own database, never database-url
          ...(BACKEND_SERVICES.includes(name) ? ['database-url'] : []),
          `kafka-${name}.password`,
          ...(BACKEND_SERVICES.includes(name) ? ['redis-acl-admin.password'] : []),
          `redis-${name}.password`,
        ].sort(),
      });
    }
    // Only pki writes the volumes it fills; the others mount them read-only.
    const pkiVolumes = new Set(
      mounts('pki')
        .filter((mount) => mount.named)
        .map((mount) => mount.source),
    );
    for (const [name] of Object.entries(compose.services).filter(([other]) => other !== 'pki')) {
      for (const mount of mounts(name).filter((candidate) => candidate.named && pkiVolumes.has(candidate.source))) {
        expect({ name, volume: mount.source, readOnly: mount.readOnly }).toEqual({ name, volume: mount.source, readOnly: true });
      }
    }
    // The CA key stays in pki's own volume.
    expect(Object.keys(compose.services).filter((name) => mounts(name).some((mount) => mount.source === 'pki-ca'))).toEqual(['pki']);
  });

  it('writes keys and passwords 0600, owned by the uid of the container that reads them', () => {
    const owners: Record<string, number> = {
      services: 10001,
      redis: 999,
      kafka: 1000,
      'kafka-admin': 1000,
      postgres: 0,
      ...Object.fromEntries(SERVICES.map((name) => [name, 10001])),
    };
    for (const [dir, uid] of Object.entries(owners)) {
      for (const file of readdirSync(join(pkiRoot, dir))) {
        const stat = statSync(join(pkiRoot, dir, file));
        const secret = !file.endsWith('.crt');
        expect({ dir, file, mode: (stat.mode & 0o777).toString(8) }).toEqual({ dir, file, mode: secret ? '600' : '644' });
        // Only root can give files away; run as another user, the modes are what is checked.
        if (runsAsRoot && secret) expect({ dir, file, uid: stat.uid }).toEqual({ dir, file, uid });
      }
    }
  });

  it('keeps the keys and passwords of an earlier run (pki runs on every `up`)', () => {
    const before = ['ca/ca.crt', 'services/server.key', 'kafka/kafka-broker.pem', 'issuer/kafka-issuer.password', 'redis/users.acl'].map(
      (file) => readFileSync(join(pkiRoot, file), 'utf8'),
    );
    execFileSync('sh', [join(COMPOSE_DIR, 'pki.sh')], { env: { ...process.env, PKI_ROOT: pkiRoot }, stdio: 'pipe' });
    const after = ['ca/ca.crt', 'services/server.key', 'kafka/kafka-broker.pem', 'issuer/kafka-issuer.password', 'redis/users.acl'].map(
      (file) => readFileSync(join(pkiRoot, file), 'utf8'),
    );
    expect(after).toEqual(before);
  });

  it('runs Kafka with SASL_SSL client listeners, mTLS controller and inter-broker listeners, and deny-by-default ACLs', () => {
    const command = asList(service('kafka').command).join(' ');
    const configPath = /kafka-server-start\.sh (\S+)/.exec(command)?.[1] ?? '';
    expect(resolve('kafka', configPath)).toBe(join(COMPOSE_DIR, 'kafka-server.properties'));
    const config = properties(resolve('kafka', configPath) ?? '');
    const protocols = Object.fromEntries((config['listener.security.protocol.map'] ?? '').split(',').map((entry) => entry.split(':')));
    const listeners = (config.listeners ?? '').split(',').map((listener) => listener.split('://')[0] ?? '');
    expect(listeners.length).toBeGreaterThan(0);
    for (const listener of listeners) {
      const protocol = protocols[listener];
      expect({ listener, protocol }).toEqual({ listener, protocol: expect.stringMatching(/^(SASL_SSL|SSL)$/) as unknown });
      if (protocol === 'SASL_SSL') {
        expect({ listener, jaas: config[`listener.name.${listener.toLowerCase()}.scram-sha-512.sasl.jaas.config`] }).toEqual({
          listener,
          jaas: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
        });
      } else {
        // A plain SSL listener authenticates by client certificate, or not at all.
        expect({ listener, clientAuth: config[`listener.name.${listener.toLowerCase()}.ssl.client.auth`] }).toEqual({
          listener,
          clientAuth: 'required',
        });
      }
    }
    expect(Object.values(protocols).filter((protocol) => protocol === 'PLAINTEXT' || protocol === 'SASL_PLAINTEXT')).toEqual([]);
    expect({
      controller: protocols[config['controller.listener.names'] ?? ''],
      interBroker: protocols[config['inter.broker.listener.name'] ?? ''],
      mechanisms: config['sasl.enabled.mechanisms'],
      authorizer: config['authorizer.class.name'],
      allowEveryone: config['allow.everyone.if.no.acl.found'],
      superUsers: config['super.users'],
      hostnames: config['ssl.endpoint.identification.algorithm'],
    }).toEqual({
      controller: 'SSL',
      interBroker: 'SSL',
      mechanisms: 'SCRAM-SHA-512',
      authorizer: 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      allowEveryone: 'false',
      superUsers: 'User:admin;User:CN=rotor-kafka-broker',
      hostnames: 'https',
    });
    // The broker's PEM keystore is its own certificate (the mTLS super user), signed by the CA clients trust.
    const keystore = fileIn('kafka', config['ssl.keystore.location']);
    expect(keystore.mode).toBe('600');
    expect(execFileSync('openssl', ['x509', '-noout', '-subject', '-in', keystore.local ?? ''], { encoding: 'utf8' })).toMatch(
      /CN\s*=\s*rotor-kafka-broker/,
    );
    execFileSync('openssl', ['verify', '-CAfile', fileIn('kafka', config['ssl.truststore.location']).local ?? '', keystore.local ?? ''], {
      stdio: 'pipe',
    });
    // No KAFKA_* variable of the image reintroduces a listener behind the file's back.
    expect(Object.keys(env('kafka')).filter((key) => /LISTENER|SECURITY_PROTOCOL/.test(key))).toEqual([]);
  });

  it('checks Kafka health and sets SCRAM users over the mTLS listener, as the broker', () => {
    const internal = properties(join(COMPOSE_DIR, 'kafka-internal-client.properties'));
    expect(internal['security.protocol']).toBe('SSL');
    for (const name of ['kafka', 'kafka-users']) {
      expect({
        name,
        keystore: fileIn(name, internal['ssl.keystore.location']).exists,
        truststore: fileIn(name, internal['ssl.truststore.location']).exists,
      }).toEqual({
        name,
        keystore: true,
        truststore: true,
      });
    }
    expect(asList(service('kafka').healthcheck?.test).join(' ')).toContain(
      '--bootstrap-server kafka:9094 --command-config /etc/kafka/rotor/internal-client.properties',
    );
    expect(resolve('kafka', '/etc/kafka/rotor/internal-client.properties')).toBe(join(COMPOSE_DIR, 'kafka-internal-client.properties'));
    const users = readFileSync(join(COMPOSE_DIR, 'kafka-users.sh'), 'utf8');
    expect(/for user in ([^;]+);/.exec(users)?.[1]?.split(' ')).toEqual(['admin', ...KAFKA_PRINCIPALS]);
    expect(users).toContain('--bootstrap-server kafka:9094');
    expect(resolve('kafka-users', asList(service('kafka-users').command)[1] ?? '')).toBe(join(COMPOSE_DIR, 'kafka-users.sh'));
    for (const user of ['admin', ...KAFKA_PRINCIPALS]) {
      expect(fileIn('kafka-users', `/etc/kafka/rotor-secrets/kafka-${user}.password`)).toEqual(
        expect.objectContaining({ exists: true, mode: '600' }),
      );
    }
    expect(shellList('pki.sh', 'KAFKA_USERS')).toEqual(['admin', ...KAFKA_PRINCIPALS]);
  });

  it("creates topics and ACLs with tools/security/kafka-setup.ts as admin, in the Dockerfile's build stage (which has tools/ and dev dependencies)", () => {
    const setup = service(SETUP);
    const e = env(SETUP);
    const build = typeof setup.build === 'string' ? { context: setup.build } : setup.build;
    expect({ build, command: setup.command, user: setup.user }).toEqual({
      build: { context: '.', dockerfile: 'Dockerfile', target: 'build' },
      command: ['node', '-r', '@swc-node/register', 'tools/security/kafka-setup.ts'],
      user: '1000:1000',
    });
    expect(existsSync(join(repoRoot, 'tools/security/kafka-setup.ts'))).toBe(true);
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    const buildStage = /^FROM \S+ AS build$([\s\S]*?)^FROM /m.exec(dockerfile)?.[1] ?? '';
    expect(buildStage).toMatch(/^RUN npm ci --no-audit --no-fund$/m); // dev dependencies included
    expect(buildStage).toMatch(/^COPY \. \.$/m);
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim());
    expect(ignored.filter((pattern) => ['tools', 'libs', 'tsconfig.json', 'tsconfig.base.json', '*'].includes(pattern))).toEqual([]);
    expect({
      brokers: e.KAFKA_BROKERS,
      user: e.KAFKA_SASL_USERNAME,
      mechanism: e.KAFKA_SASL_MECHANISM,
      ca: fileIn(SETUP, e.KAFKA_SSL_CA_FILE).exists,
      password: fileIn(SETUP, e.KAFKA_SASL_PASSWORD_FILE).mode,
    }).toEqual({ brokers: 'kafka:9092', user: 'admin', mechanism: 'scram-sha-512', ca: true, password: '600' });
  });

  it('starts Kafka, Redis and PostgreSQL after pki, and every rotor service after the Kafka setup completed', () => {
    for (const name of ['kafka', 'redis', 'postgres']) {
      expect({ name, pki: dependsOn(name).pki?.condition }).toEqual({ name, pki: 'service_completed_successfully' });
    }
    expect({
      users: dependsOn('kafka-users').kafka?.condition,
      setup: dependsOn(SETUP)['kafka-users']?.condition,
    }).toEqual({ users: 'service_healthy', setup: 'service_completed_successfully' });
    for (const name of SERVICES) {
      expect({ name, setup: dependsOn(name)[SETUP]?.condition }).toEqual({ name, setup: 'service_completed_successfully' });
    }
    // One-shot services must not be restarted into a loop.
    for (const name of ['pki', 'kafka-users', SETUP]) {
      expect({ name, restart: (service(name) as { restart?: string }).restart }).toEqual({ name, restart: 'no' });
    }
    expect(service('pki').network_mode).toBe('none');
  });

  it('runs Redis on TLS only, with the ACL file pki writes and a TLS healthcheck as admin', () => {
    const command = asList(service('redis').command);
    expect({
      port: flag(command, '--port'),
      tlsPort: flag(command, '--tls-port'),
      cert: fileIn('redis', flag(command, '--tls-cert-file')).exists,
      key: fileIn('redis', flag(command, '--tls-key-file')).mode,
      ca: fileIn('redis', flag(command, '--tls-ca-cert-file')).exists,
      aclfile: fileIn('redis', flag(command, '--aclfile')).mode,
    }).toEqual({ port: '0', tlsPort: '6379', cert: true, key: '600', ca: true, aclfile: '600' });
    const acl = read('redis', flag(command, '--aclfile') ?? '');
    // The default user needs a password (NOAUTH without one) and all commands, or Redis 7.0
    // drops MULTI/EXEC blocks when it replays the AOF (tools/security/redis-acl-file.ts).
    expect(acl.split('\n')[0]).toMatch(/^user default on #[0-9a-f]{64} ~\* &\* \+@all$/);
    expect(acl.split('\n')[0]).not.toMatch(/nopass/);
    // `$$` is compose's escape for a `$` the container's shell sees.
    const health = asList(service('redis').healthcheck?.test).join(' ').replaceAll('$$', '$');
    expect(health).toMatch(/redis-cli --tls --cacert \S+ --user admin /);
    const passwordFile = /REDISCLI_AUTH="\$\(cat (\S+)\)"/.exec(health)?.[1];
    expect(fileIn('redis', passwordFile).mode).toBe('600');
    expect(acl).toContain(`user admin on #${sha256(read('redis', passwordFile ?? '').trim())} `);
  });

  describe('the Redis ACL file', () => {
    let secrets: string;
    beforeAll(() => {
      secrets = mkdtempSync(join(tmpdir(), 'rotor-acl-'));
      for (const user of shellList('pki.sh', 'REDIS_USERS'))
        writeFileSync(join(secrets, `redis-${user}.password`), `${user}-password-${sha256(user).slice(0, 8)}\n`);
    });
    afterAll(() => rmSync(secrets, { recursive: true, force: true }));

    it('has a line per user equal to redisAclLine of the access table (pki.sh cannot run Node.js)', () => {
      execFileSync('sh', [join(COMPOSE_DIR, 'redis-acl.sh'), secrets, join(secrets, 'sh.acl')]);
      const lines = readFileSync(join(secrets, 'sh.acl'), 'utf8').split('\n');
      const hashOf = (user: string) => sha256(readFileSync(join(secrets, `redis-${user}.password`), 'utf8').trim());
      for (const [user, access] of [...Object.entries(REDIS_ACCESS), [REDIS_ACL_ADMIN.user, REDIS_ACL_ADMIN] as const]) {
        expect(lines.filter((line) => line.startsWith(`user ${user} `))).toEqual([redisAclLine(user, access, hashOf(user))]);
      }
      expect(shellList('pki.sh', 'REDIS_USERS')).toEqual(['default', 'admin', ...Object.keys(REDIS_ACCESS), REDIS_ACL_ADMIN.user]);
    });

    it('is byte for byte what tools/security/redis-acl-file.ts writes for the local stack', () => {
      execFileSync('sh', [join(COMPOSE_DIR, 'redis-acl.sh'), secrets, join(secrets, 'sh.acl')]);
      execFileSync(process.execPath, ['-r', '@swc-node/register', 'tools/security/redis-acl-file.ts', secrets, join(secrets, 'ts.acl')], {
        cwd: repoRoot,
        stdio: 'pipe',
      });
      expect(readFileSync(join(secrets, 'sh.acl'), 'utf8')).toBe(readFileSync(join(secrets, 'ts.acl'), 'utf8'));
      expect((statSync(join(secrets, 'sh.acl')).mode & 0o777).toString(8)).toBe('600');
    });
  });

  it('runs PostgreSQL with TLS on, scram-sha-256 and a pg_hba.conf that takes TCP only over TLS', () => {
    const postgres = service('postgres');
    const e = env('postgres');
    expect({
      password: e.POSTGRES_PASSWORD,
      hostAuth: e.POSTGRES_HOST_AUTH_METHOD,
      passwordFile: fileIn('postgres', e.POSTGRES_PASSWORD_FILE).mode,
    }).toEqual({
      password: undefined,
      hostAuth: undefined,
      passwordFile: '600',
    });
    const command = asList(postgres.command);
    const settings = Object.fromEntries(
      command.flatMap((arg, at) => (command[at - 1] === '-c' ? [[arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]] : [])),
    );
    expect({ first: command[0], ssl: settings.ssl, encryption: settings.password_encryption }).toEqual({
      first: 'postgres',
      ssl: 'on',
      encryption: 'scram-sha-256',
    });
    // postgres-start.sh copies each file (owned by postgres) to where the setting names it.
    const entrypoint = asList(postgres.entrypoint);
    const start = readFileSync(resolve('postgres', entrypoint[1] ?? '') ?? '', 'utf8');
    expect(entrypoint[1] && resolve('postgres', entrypoint[1])).toBe(join(COMPOSE_DIR, 'postgres-start.sh'));
    const dest = /^DEST=(\S+)$/m.exec(start)?.[1];
    const copies = Object.fromEntries(
      [...start.matchAll(/^install -m (\d+) -o postgres -g postgres (\S+) "\$DEST\/(\S+)"$/gm)].map(([, mode, source, file]) => [
        `${dest}/${file}`,
        { mode, source },
      ]),
    );
    for (const setting of ['ssl_cert_file', 'ssl_key_file', 'ssl_ca_file', 'hba_file']) {
      const copy = copies[settings[setting] ?? ''];
      expect({ setting, copied: copy !== undefined, from: fileIn('postgres', copy?.source).exists }).toEqual({
        setting,
        copied: true,
        from: true,
      });
    }
    expect(copies[settings.ssl_key_file ?? '']?.mode).toBe('600');
    expect(start).toMatch(/exec docker-entrypoint\.sh "\$@"$/m);
    // pg_hba.conf: the socket and TLS with scram-sha-256; plain TCP only to be rejected.
    const hba = readFileSync(fileIn('postgres', copies[settings.hba_file ?? '']?.source).local ?? '', 'utf8')
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[0] !== '' && !fields[0]?.startsWith('#'));
    expect(hba.filter((fields) => fields[0] === 'hostssl').length).toBeGreaterThan(0);
    for (const fields of hba) {
      const [type = '', , , method] = fields;
      const allowed =
        (type === 'local' && method === 'scram-sha-256') ||
        (type === 'hostssl' && fields[4] === 'scram-sha-256') ||
        (type === 'host' && fields[4] === 'reject');
      expect({ line: fields.join(' '), allowed }).toEqual({ line: fields.join(' '), allowed: true });
    }
  });

  describe('infra/compose/postgres-start.sh: the auditor role and database', () => {
    const script = join(COMPOSE_DIR, 'postgres-start.sh');
    let dir: string;
    let stubs: string;

    /**
     * The script as the container runs it, with `install`, `chown`, `gosu` and the image's
     * docker-entrypoint.sh replaced by stubs: gosu records what single-user mode is given (and
     * answers the existence query when `exists`), the entry point its arguments.
     */
    function start(initialised: boolean, exists = false) {
      const pgdata = mkdtempSync(join(dir, 'pgdata-'));
      if (initialised) writeFileSync(join(pgdata, 'PG_VERSION'), '15\n');
      const initdb = mkdtempSync(join(dir, 'initdb-'));
      const log = join(dir, `single-${sha256(pgdata).slice(0, 8)}.log`);
      const e = env('postgres');
      const run = spawnSync('sh', [script, 'postgres', '-c', 'ssl=on'], {
        env: {
          PATH: `${stubs}:${process.env.PATH ?? ''}`,
          PGDATA: pgdata,
          INITDB_DIR: initdb,
          STUB_LOG: log,
          STUB_EXISTS: exists ? '1' : '0',
          POSTGRES_USER: e.POSTGRES_USER,
          POSTGRES_PASSWORD_FILE: fileIn('postgres', e.POSTGRES_PASSWORD_FILE).local,
          ROTOR_AUDITOR_PASSWORD_FILE: fileIn('postgres', e.ROTOR_AUDITOR_PASSWORD_FILE).local,
        },
        encoding: 'utf8',
      });
      const initFile = join(initdb, 'rotor-auditor.sql');
      return {
        status: run.status,
        stdout: run.stdout,
        single: existsSync(log) ? readFileSync(log, 'utf8') : '',
        initSql: existsSync(initFile) ? readFileSync(initFile, 'utf8') : undefined,
        initMode: existsSync(initFile) ? (statSync(initFile).mode & 0o777).toString(8) : undefined,
      };
    }

    const auditorPassword = () => read('postgres', env('postgres').ROTOR_AUDITOR_PASSWORD_FILE ?? '').trim();
    /** Every statement that creates or alters the auditor's role. */
    const roleStatements = (sql: string) =>
      sql.split('\n').filter((line) => new RegExp(`(CREATE|ALTER) ROLE ${AUDITOR_ROLE}\\b`).test(line));

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'rotor-pg-start-'));
      stubs = join(dir, 'bin');
      execFileSync('mkdir', [stubs]);
      const stub = (name: string, body: string) => {
        writeFileSync(join(stubs, name), `#!/bin/sh\n${body}\n`);
        execFileSync('chmod', ['755', join(stubs, name)]);
      };
      stub('install', 'exit 0');
      stub('chown', 'exit 0');
      stub(
        'gosu',
        [
          'input="$(cat)"',
          'printf "%s\\n" "$input" >>"$STUB_LOG"',
          // What PostgreSQL 15's single-user mode prints for a row (checked against a real server).
          'case "$input" in *"FROM pg_database"*) [ "$STUB_EXISTS" = 1 ] && printf \'\\t 1: ?column? = "rotor_audit exists"\\t(typeid = 25, len = -1, typmod = -1, byval = f)\\n\' ;; esac',
          'exit 0',
        ].join('\n'),
      );
      stub('docker-entrypoint.sh', 'echo "entrypoint: $*"');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('creates rotor_auditor as a login role without SUPERUSER, CREATEDB or CREATEROLE, with the password of its URL, on an initialised data directory', () => {
      const run = start(true);
      expect({ status: run.status, stdout: run.stdout, initSql: run.initSql }).toEqual({
        status: 0,
        stdout: 'entrypoint: postgres -c ssl=on\n',
        initSql: undefined,
      });
      const statements = roleStatements(run.single);
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        expect({
          statement,
          attributes: [...statement.matchAll(/\b(NO)?(SUPERUSER|CREATEDB|CREATEROLE|LOGIN)\b/g)].map((match) => match[0]),
        }).toEqual({
          statement,
          attributes: ['LOGIN', 'NOSUPERUSER', 'NOCREATEDB', 'NOCREATEROLE'],
        });
      }
      expect(run.single).toMatch(
        /^DO \$\$ BEGIN IF NOT EXISTS \(SELECT FROM pg_roles WHERE rolname = 'rotor_auditor'\) THEN CREATE ROLE rotor_auditor /m,
      );
      // The password is set on every start, kept in step with pki's (and the URL the auditor reads).
      expect(statements.filter((statement) => statement.startsWith('ALTER ROLE'))).toEqual([
        `ALTER ROLE ${AUDITOR_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${auditorPassword()}';`,
      ]);
      expect(read('auditor', env('auditor').ROTOR_AUDIT_DATABASE_URL_FILE ?? '')).toContain(`://${AUDITOR_ROLE}:${auditorPassword()}@`);
      expect(run.single).toContain(`CREATE DATABASE ${AUDITOR_DATABASE} OWNER ${AUDITOR_ROLE};`);
      expect(run.single).toContain(`ALTER DATABASE ${AUDITOR_DATABASE} OWNER TO ${AUDITOR_ROLE};`);
      // The rotor role's password is still kept in step too.
      expect(run.single).toContain(
        `ALTER ROLE "rotor" PASSWORD '${read('postgres', env('postgres').POSTGRES_PASSWORD_FILE ?? '').trim()}';`,
      );
      expect(run.single).not.toMatch(/(^|[^O])SUPERUSER/m);
    });

    it('is idempotent: an existing rotor_audit is not created again, the role is altered back to its attributes and password', () => {
      const run = start(true, true);
      expect(run.status).toBe(0);
      expect(run.single).not.toContain('CREATE DATABASE');
      expect(run.single).toContain(`ALTER DATABASE ${AUDITOR_DATABASE} OWNER TO ${AUDITOR_ROLE};`);
      expect(roleStatements(run.single).filter((statement) => statement.startsWith('ALTER ROLE'))).toHaveLength(1);
    });

    it("creates them in the image's first-start scripts on an empty data directory, the file private to postgres", () => {
      const run = start(false);
      expect({ status: run.status, single: run.single, initMode: run.initMode }).toEqual({ status: 0, single: '', initMode: '600' });
      const sql = run.initSql ?? '';
      expect(roleStatements(sql)).toEqual([
        expect.stringContaining(`CREATE ROLE ${AUDITOR_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;`),
        `ALTER ROLE ${AUDITOR_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${auditorPassword()}';`,
      ]);
      expect(sql).toContain(`CREATE DATABASE ${AUDITOR_DATABASE} OWNER ${AUDITOR_ROLE};`);
      expect(sql).not.toMatch(/(^|[^O])SUPERUSER/m);
    });
  });

  it('checks the health of every rotor service over HTTPS, trusting the pki CA', () => {
    for (const name of SERVICES) {
      const test = asList(service(name).healthcheck?.test).join(' ');
      expect({
        name,
        https: test.includes("require('https')"),
        plainHttp: /http:\/\/|require\('http'\)/.test(test),
        ca: test.includes('process.env.ROTOR_CA_FILE'),
      }).toEqual({
        name,
        https: true,
        plainHttp: false,
        ca: true,
      });
      expect(fileIn(name, env(name).ROTOR_CA_FILE).exists).toBe(true);
    }
  });

  it('publishes ports on 127.0.0.1 only', () => {
    const published = Object.entries(compose.services).flatMap(([name, svc]) =>
      (svc.ports ?? []).map((port) => ({
        name,
        host: typeof port === 'string' ? port.split(':').slice(0, -2).join(':') : (port.host_ip ?? ''),
      })),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const port of published) expect(port).toEqual({ name: port.name, host: '127.0.0.1' });
  });

  it('keeps the GSM emulator the one plaintext link, and says why', () => {
    expect(SERVICES.map((name) => env(name).SECRET_MANAGER_EMULATOR_HOST)).toEqual(SERVICES.map(() => 'gsm-emulator:9090'));
    expect(composeText).toMatch(/one documented exception/);
  });

  describe('infra/compose/rotor-entrypoint.sh', () => {
    const script = join(COMPOSE_DIR, 'rotor-entrypoint.sh');

    it('exports DATABASE_URL from DATABASE_URL_FILE, then runs the command', () => {
      const dir = mkdtempSync(join(tmpdir(), 'rotor-entry-'));
      try {
        writeFileSync(join(dir, 'database-url'), 'postgres://rotor:secret@postgres:5432/rotor?sslmode=verify-full\n');
        const out = execFileSync('sh', [script, 'sh', '-c', 'printf "%s|%s" "$DATABASE_URL" "${DATABASE_URL_FILE:-unset}"'], {
          env: { PATH: process.env.PATH, DATABASE_URL_FILE: join(dir, 'database-url') },
          encoding: 'utf8',
        });
        expect(out).toBe('postgres://rotor:secret@postgres:5432/rotor?sslmode=verify-full|unset');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('stops when the file is missing instead of starting without DATABASE_URL', () => {
      const run = spawnSync('sh', [script, 'true'], {
        env: { PATH: process.env.PATH, DATABASE_URL_FILE: '/nonexistent/database-url' },
        encoding: 'utf8',
      });
      expect(run.status).not.toBe(0);
    });
  });
});
