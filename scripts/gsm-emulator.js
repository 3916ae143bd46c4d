#!/usr/bin/env node
'use strict';
/*
 * Local, in-memory emulator of the Google Cloud Secret Manager v1 gRPC API.
 *
 *   node scripts/gsm-emulator.js [--host 127.0.0.1] [--port 9090] [--verbose]
 *     [--writes-per-minute N] [--accesses-per-minute N] [--reads-per-minute N]
 *     [--version-writes-per-second-per-secret N]
 *   (or GSM_EMULATOR_HOST / GSM_EMULATOR_PORT / GSM_EMULATOR_WRITES_PER_MINUTE /
 *    GSM_EMULATOR_ACCESSES_PER_MINUTE / GSM_EMULATOR_READS_PER_MINUTE /
 *    GSM_EMULATOR_VERSION_WRITES_PER_SECOND_PER_SECRET; a flag wins over its variable)
 *
 * Why it exists: the Go emulator INFRA.md suggested
 * (github.com/blackwell-systems/gcp-secret-manager-emulator) is refused by the Go module
 * proxy this project can reach (403 "This module version is not available" for every
 * version), and no other GSM emulator is published on the registries we reach. See
 * docs/infra.md.
 *
 * It serves the official google.cloud.secretmanager.v1.SecretManagerService proto, loaded
 * from the .proto files shipped inside @google-cloud/secret-manager (so the wire format is
 * exactly what the real client speaks), over plaintext gRPC. State lives in memory: every
 * start is empty. Connect the Node client with
 *   new SecretManagerServiceClient({ apiEndpoint: '127.0.0.1', port: 9090,
 *     sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' })
 * and METADATA_SERVER_DETECTION=none.
 *
 * Implemented (semantics follow the proto's documentation):
 *   CreateSecret, GetSecret, ListSecrets, UpdateSecret, DeleteSecret,
 *   AddSecretVersion, GetSecretVersion, AccessSecretVersion, ListSecretVersions,
 *   EnableSecretVersion, DisableSecretVersion, DestroySecretVersion.
 *   - global (projects/P/secrets/S) and regional (projects/P/locations/L/secrets/S) names;
 *   - `latest` = the most recently created version, whatever its state (as the proto
 *     documents), plus version aliases (Secret.version_aliases);
 *   - etags on secrets and versions (checked when the request carries one: mismatch is
 *     FAILED_PRECONDITION);
 *   - payload.data_crc32c checked when given (INVALID_ARGUMENT on mismatch), and returned
 *     on access; payload limit 64 KiB;
 *   - a DISABLED or DESTROYED version cannot be accessed (FAILED_PRECONDITION);
 *   - UpdateSecret needs update_mask; replication and secret_type are immutable;
 *   - ttl / expire_time: an expired secret disappears (checked lazily);
 *   - ListSecrets / ListSecretVersions: page_size, page_token, total_size, and a small
 *     filter subset: space/AND separated terms `labels.K=V`, `labels.K:*`, `labels.K:V`,
 *     `name:TEXT`, `state:ENABLED|DISABLED|DESTROYED` (other filters: INVALID_ARGUMENT).
 * Not implemented (UNIMPLEMENTED): IAM RPCs, EnableManagedRotation, RotateSecret.
 *
 * Quota simulation (off by default: every limit is unlimited unless set; 0 also means
 * unlimited). Like real GSM's per-project-per-minute quotas, each limit is a sliding
 * one-minute window per project (the `projects/P` of the request's resource name; real GSM
 * charges the caller's quota project, which the emulator cannot know):
 *   writes   (--writes-per-minute; real default 600): CreateSecret, UpdateSecret,
 *            DeleteSecret, AddSecretVersion, Enable/Disable/DestroySecretVersion;
 *   accesses (--accesses-per-minute; real default 90,000): AccessSecretVersion;
 *   reads    (--reads-per-minute; real default 600): GetSecret, ListSecrets,
 *            GetSecretVersion, ListSecretVersions.
 * --version-writes-per-second-per-secret limits AddSecretVersion per secret over a sliding
 * one-second window (real GSM: about 2/s per global secret, soft-enforced, and it also
 * counts UpdateSecret there; the emulator counts AddSecretVersion only).
 * A request over a limit is answered RESOURCE_EXHAUSTED (8) with a message shaped like
 * Google's ("Quota exceeded for quota metric 'Write requests' and limit ...") and a
 * google.rpc.ErrorInfo detail (reason RATE_LIMIT_EXCEEDED); a refused request is not
 * counted. The project quota is checked before anything else, so requests that then fail
 * (NOT_FOUND, INVALID_ARGUMENT, the per-secret limit) still count, as at Google's front
 * door. Note: @google-cloud/secret-manager itself retries AccessSecretVersion on
 * RESOURCE_EXHAUSTED (random delays up to 2 s, doubling) until its 60 s timeout, and then
 * fails with DEADLINE_EXCEEDED (4), not 8; it does not retry the other RPCs. See
 * docs/fakes.md.
 */
const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// ---------------------------------------------------------------------------------------
// Configuration

function parseArgs(argv) {
  const opts = {
    host: process.env.GSM_EMULATOR_HOST || '127.0.0.1',
    port: Number(process.env.GSM_EMULATOR_PORT || 9090),
    verbose: false,
  };
  for (const [key, , env] of LIMIT_OPTIONS) {
    opts[key] = parseLimit(process.env[env], env);
  }
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      i += 1;
      return argv[i];
    };
    if (a === '--host') opts.host = next();
    else if (a.startsWith('--host=')) opts.host = a.slice(7);
    else if (a === '--port') opts.port = Number(next());
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: gsm-emulator.js [--host 127.0.0.1] [--port 9090] [--verbose]\n' +
          '         [--writes-per-minute N] [--accesses-per-minute N] [--reads-per-minute N]\n' +
          '         [--version-writes-per-second-per-secret N]   (limits: unset or 0 = unlimited)',
      );
      process.exit(0);
    } else {
      const limit = LIMIT_OPTIONS.find(([, flag]) => a === flag || a.startsWith(`${flag}=`));
      if (!limit) throw new Error(`unknown argument ${a}`);
      const [key, flag] = limit;
      opts[key] = parseLimit(a === flag ? next() : a.slice(flag.length + 1), flag);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`invalid port ${opts.port}`);
  }
  return opts;
}

/** [option key, flag, environment variable] of every quota limit. */
const LIMIT_OPTIONS = [
  ['writesPerMinute', '--writes-per-minute', 'GSM_EMULATOR_WRITES_PER_MINUTE'],
  ['accessesPerMinute', '--accesses-per-minute', 'GSM_EMULATOR_ACCESSES_PER_MINUTE'],
  ['readsPerMinute', '--reads-per-minute', 'GSM_EMULATOR_READS_PER_MINUTE'],
  ['versionWritesPerSecondPerSecret', '--version-writes-per-second-per-secret', 'GSM_EMULATOR_VERSION_WRITES_PER_SECOND_PER_SECRET'],
];

/** Unset, empty or 0: unlimited (0 is returned as 0 and means "no limit"). */
function parseLimit(value, what) {
  if (value === undefined || value === '') return 0;
  if (!/^[0-9]+$/.test(value)) throw new Error(`${what}: expected a whole number >= 0, got "${value}"`);
  return Number(value);
}

function loadService() {
  const smDir = path.resolve(path.dirname(require.resolve('@google-cloud/secret-manager')), '../../build/protos');
  const gaxDir = path.resolve(path.dirname(require.resolve('google-gax', { paths: [smDir] })), '../../build/protos');
  const def = protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    includeDirs: [smDir, gaxDir],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def);
  return pkg.google.cloud.secretmanager.v1.SecretManagerService.service;
}

// ---------------------------------------------------------------------------------------
// Helpers

class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}
const S = grpc.status;
const fail = (code, message) => {
  throw new RpcError(code, message);
};

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32c(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i += 1) c = CRC32C_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function nowTs() {
  const ms = Date.now();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}
function tsToMs(ts) {
  return Number(ts.seconds || 0) * 1000 + Math.floor((ts.nanos || 0) / 1e6);
}
function msToTs(ms) {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}
function durationMs(d) {
  return Number(d.seconds || 0) * 1000 + Math.floor((d.nanos || 0) / 1e6);
}
function newEtag() {
  return `"${crypto.randomBytes(8).toString('hex')}"`;
}
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

const SECRET_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;
const PARENT_RE = /^projects\/([^/]+)(?:\/locations\/([^/]+))?$/;
const SECRET_RE = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)$/;
const VERSION_RE = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)\/versions\/([^/]+)$/;

function parseParent(parent) {
  const m = PARENT_RE.exec(parent || '');
  if (!m) fail(S.INVALID_ARGUMENT, `Invalid resource field value in the request: parent "${parent || ''}".`);
  return { project: m[1], location: m[2] };
}
function parseSecretName(name) {
  const m = SECRET_RE.exec(name || '');
  if (!m) fail(S.INVALID_ARGUMENT, `Invalid resource field value in the request: name "${name || ''}".`);
  return name;
}
function parseVersionName(name) {
  const m = VERSION_RE.exec(name || '');
  if (!m) fail(S.INVALID_ARGUMENT, `Invalid resource field value in the request: name "${name || ''}".`);
  const secretName = name.slice(0, name.lastIndexOf('/versions/'));
  return { secretName, version: m[4] };
}

function encodePageToken(offset) {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
}
function decodePageToken(token) {
  if (!token) return 0;
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')).o;
    if (Number.isInteger(o) && o >= 0) return o;
  } catch {
    /* fall through */
  }
  return fail(S.INVALID_ARGUMENT, `Invalid page_token "${token}".`);
}
function paginate(items, pageSize, pageToken) {
  const size = pageSize && pageSize > 0 ? Math.min(pageSize, 25000) : 25000;
  if (pageSize < 0) fail(S.INVALID_ARGUMENT, 'page_size must not be negative.');
  const offset = decodePageToken(pageToken);
  const page = items.slice(offset, offset + size);
  const next = offset + size < items.length ? encodePageToken(offset + size) : '';
  return { page, next, total: items.length };
}

// Filter subset: terms separated by whitespace or AND.
function compileFilter(filter, kind) {
  const text = (filter || '').trim();
  if (!text) return () => true;
  const terms = text.split(/\s+(?:AND\s+)?/).filter((t) => t && t !== 'AND');
  const preds = terms.map((term) => {
    let m = /^labels\.([A-Za-z0-9_-]+)(=|:)(.+)$/.exec(term);
    if (m) {
      const [, key, op, rawVal] = m;
      const val = rawVal.replace(/^"(.*)"$/, '$1');
      return (obj) => {
        const labels = obj.labels || {};
        if (!(key in labels)) return false;
        if (op === ':' && val === '*') return true;
        return op === '=' ? labels[key] === val : labels[key].includes(val);
      };
    }
    m = /^name:(.+)$/.exec(term);
    if (m) {
      const val = m[1].replace(/^"(.*)"$/, '$1');
      return (obj) => obj.name.includes(val);
    }
    m = /^state[:=](ENABLED|DISABLED|DESTROYED)$/.exec(term);
    if (m && kind === 'version') return (obj) => obj.state === m[1];
    return fail(S.INVALID_ARGUMENT, `Unsupported filter term "${term}" (emulator supports labels.K=V, labels.K:*, name:X, state:S).`);
  });
  return (obj) => preds.every((p) => p(obj));
}

// ---------------------------------------------------------------------------------------
// Quotas

/** Sliding-window counter: at most `limit` admissions per `windowMs` for each key. */
class SlidingWindow {
  constructor(limit, windowMs) {
    this.limit = limit;
    this.windowMs = windowMs;
    /** key -> { times: number[], head: number } (admission times, oldest at head) */
    this.keys = new Map();
  }

  /** Admits and counts the request, or returns false (and counts nothing). */
  tryAdmit(key, now = Date.now()) {
    let w = this.keys.get(key);
    if (!w) {
      w = { times: [], head: 0 };
      this.keys.set(key, w);
    }
    while (w.head < w.times.length && w.times[w.head] <= now - this.windowMs) w.head += 1;
    if (w.head > 1024 && w.head * 2 > w.times.length) {
      w.times = w.times.slice(w.head);
      w.head = 0;
    }
    if (w.times.length - w.head >= this.limit) return false;
    w.times.push(now);
    return true;
  }
}

/** Which project quota each RPC is charged to (IAM and rotation RPCs are UNIMPLEMENTED). */
const QUOTA_KIND = {
  CreateSecret: 'write',
  UpdateSecret: 'write',
  DeleteSecret: 'write',
  AddSecretVersion: 'write',
  EnableSecretVersion: 'write',
  DisableSecretVersion: 'write',
  DestroySecretVersion: 'write',
  AccessSecretVersion: 'access',
  GetSecret: 'read',
  ListSecrets: 'read',
  GetSecretVersion: 'read',
  ListSecretVersions: 'read',
};
const QUOTA_METRIC = {
  write: { metric: 'Write requests', id: 'write_requests', limitId: 'WriteRequestsPerMinutePerProject' },
  access: { metric: 'Access requests', id: 'access_requests', limitId: 'AccessRequestsPerMinutePerProject' },
  read: { metric: 'Read requests', id: 'read_requests', limitId: 'ReadRequestsPerMinutePerProject' },
};
const SERVICE_NAME = 'secretmanager.googleapis.com';

/** The resource name a request is about (its project decides the quota bucket). */
function requestResource(req) {
  return req.name || req.parent || (req.secret && req.secret.name) || '';
}

// Minimal protobuf writer for the google.rpc.Status that gRPC carries in the
// `grpc-status-details-bin` trailer (what the Google client decodes into err.reason /
// err.errorInfoMetadata).
function pbVarint(n) {
  const out = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
function pbBytes(field, buf) {
  return Buffer.concat([pbVarint((field << 3) | 2), pbVarint(buf.length), buf]);
}
const pbString = (field, str) => pbBytes(field, Buffer.from(str, 'utf8'));
function statusDetails(code, message, reason, metadata) {
  const errorInfo = Buffer.concat([
    pbString(1, reason),
    pbString(2, 'googleapis.com'),
    ...Object.entries(metadata).map(([k, v]) => pbBytes(3, Buffer.concat([pbString(1, k), pbString(2, v)]))),
  ]);
  const any = Buffer.concat([pbString(1, 'type.googleapis.com/google.rpc.ErrorInfo'), pbBytes(2, errorInfo)]);
  return Buffer.concat([pbVarint(1 << 3), pbVarint(code), pbString(2, message), pbBytes(3, any)]);
}

class QuotaError extends RpcError {
  constructor(message, metadata) {
    super(S.RESOURCE_EXHAUSTED, message);
    this.metadata = new grpc.Metadata();
    this.metadata.set('grpc-status-details-bin', statusDetails(S.RESOURCE_EXHAUSTED, message, 'RATE_LIMIT_EXCEEDED', metadata));
  }
}

function makeQuotas(opts) {
  const windows = {
    write: opts.writesPerMinute > 0 ? new SlidingWindow(opts.writesPerMinute, 60_000) : undefined,
    access: opts.accessesPerMinute > 0 ? new SlidingWindow(opts.accessesPerMinute, 60_000) : undefined,
    read: opts.readsPerMinute > 0 ? new SlidingWindow(opts.readsPerMinute, 60_000) : undefined,
  };
  const perSecret = opts.versionWritesPerSecondPerSecret > 0 ? new SlidingWindow(opts.versionWritesPerSecondPerSecret, 1000) : undefined;

  /** Throws QuotaError when the request is over a limit; otherwise counts it. */
  function admit(method, req) {
    const kind = QUOTA_KIND[method];
    const window = kind && windows[kind];
    const m = /^projects\/([^/]+)/.exec(requestResource(req));
    if (window && m) {
      const project = m[1];
      if (!window.tryAdmit(project)) {
        const q = QUOTA_METRIC[kind];
        throw new QuotaError(
          `Quota exceeded for quota metric '${q.metric}' and limit '${q.metric} per minute per project' ` +
            `of service '${SERVICE_NAME}' for consumer 'project:${project}'.`,
          {
            consumer: `projects/${project}`,
            quota_limit: q.limitId,
            quota_limit_value: String(window.limit),
            quota_location: 'global',
            quota_metric: `${SERVICE_NAME}/${q.id}`,
            service: SERVICE_NAME,
          },
        );
      }
    }
    if (perSecret && method === 'AddSecretVersion' && req.parent) {
      if (!perSecret.tryAdmit(req.parent)) {
        throw new QuotaError(
          `Quota exceeded for quota metric 'Secret version additions' and limit 'Secret version additions ` +
            `per second per secret' of service '${SERVICE_NAME}' for secret '${req.parent}'.`,
          {
            consumer: m ? `projects/${m[1]}` : '',
            quota_limit: 'VersionAdditionsPerSecondPerSecret',
            quota_limit_value: String(perSecret.limit),
            quota_metric: `${SERVICE_NAME}/secret_version_additions`,
            secret: req.parent,
            service: SERVICE_NAME,
          },
        );
      }
    }
  }

  const perProject = [
    ['writes', opts.writesPerMinute],
    ['accesses', opts.accessesPerMinute],
    ['reads', opts.readsPerMinute],
  ]
    .filter(([, n]) => n > 0)
    .map(([what, n]) => `${n} ${what}/min`);
  const parts = [
    ...(perProject.length ? [`per project ${perProject.join(', ')}`] : []),
    ...(perSecret ? [`per secret ${perSecret.limit} version additions/s`] : []),
  ];
  return { admit, summary: parts.length ? `quotas: ${parts.join('; ')}` : 'no quotas' };
}

// ---------------------------------------------------------------------------------------
// State

/** name -> { secret, versions: Map<number, {version, data}>, nextVersion } */
const secrets = new Map();

function liveSecret(name) {
  const entry = secrets.get(name);
  if (!entry) return undefined;
  const exp = entry.secret.expireTime;
  if (exp && tsToMs(exp) <= Date.now()) {
    secrets.delete(name);
    return undefined;
  }
  return entry;
}
function requireSecret(name) {
  const entry = liveSecret(name);
  if (!entry) fail(S.NOT_FOUND, `Secret [${name}] not found.`);
  return entry;
}
function resolveVersion(fullName, { forAccess = false } = {}) {
  const { secretName, version } = parseVersionName(fullName);
  const entry = liveSecret(secretName);
  if (!entry) {
    fail(S.NOT_FOUND, forAccess ? `Secret [${secretName}] not found or has no versions.` : `Secret [${secretName}] not found.`);
  }
  let num;
  if (version === 'latest') {
    num = entry.nextVersion - 1;
    if (num < 1) fail(S.NOT_FOUND, `Secret [${secretName}] not found or has no versions.`);
  } else if (/^[0-9]+$/.test(version)) {
    num = Number(version);
  } else if (entry.secret.versionAliases && version in entry.secret.versionAliases) {
    num = Number(entry.secret.versionAliases[version]);
  } else {
    fail(S.NOT_FOUND, `Secret Version [${fullName}] not found.`);
  }
  const v = entry.versions.get(num);
  if (!v) fail(S.NOT_FOUND, `Secret Version [${secretName}/versions/${version}] not found.`);
  return { entry, v, num };
}
function checkEtag(given, current, what) {
  if (given && given !== current) {
    fail(S.FAILED_PRECONDITION, `The etag provided in the request does not match the current etag of ${what}.`);
  }
}

function replicationStatusFor(secret) {
  const r = secret.replication;
  if (r && r.userManaged) {
    return { userManaged: { replicas: (r.userManaged.replicas || []).map((x) => ({ location: x.location })) } };
  }
  if (r && r.automatic) return { automatic: {} };
  return undefined;
}

// ---------------------------------------------------------------------------------------
// RPC handlers (each takes the request and returns the response object, or throws RpcError)

const handlers = {
  CreateSecret(req) {
    const { location } = parseParent(req.parent);
    if (!req.secretId) fail(S.INVALID_ARGUMENT, 'secret_id is required.');
    if (!SECRET_ID_RE.test(req.secretId)) {
      fail(S.INVALID_ARGUMENT, `Invalid secret_id "${req.secretId}": must be 1-255 characters of [a-zA-Z0-9_-].`);
    }
    const input = req.secret || fail(S.INVALID_ARGUMENT, 'secret is required.');
    if (!location && !(input.replication && (input.replication.automatic || input.replication.userManaged))) {
      fail(S.INVALID_ARGUMENT, 'Secret.replication is required for global secrets.');
    }
    if (location && input.replication) {
      fail(S.INVALID_ARGUMENT, 'Secret.replication must not be set for regional secrets.');
    }
    const name = `${req.parent}/secrets/${req.secretId}`;
    if (liveSecret(name)) fail(S.ALREADY_EXISTS, `Secret [${name}] already exists.`);
    const secret = {
      name,
      replication: clone(input.replication),
      createTime: nowTs(),
      labels: clone(input.labels) || {},
      topics: clone(input.topics) || [],
      etag: newEtag(),
      annotations: clone(input.annotations) || {},
      versionAliases: clone(input.versionAliases) || {},
    };
    if (input.rotation) secret.rotation = clone(input.rotation);
    if (input.versionDestroyTtl) secret.versionDestroyTtl = clone(input.versionDestroyTtl);
    if (input.secretType) secret.secretType = input.secretType;
    if (input.ttl) secret.expireTime = msToTs(Date.now() + durationMs(input.ttl));
    else if (input.expireTime) secret.expireTime = clone(input.expireTime);
    secrets.set(name, { secret, versions: new Map(), nextVersion: 1 });
    return secret;
  },

  GetSecret(req) {
    return requireSecret(parseSecretName(req.name)).secret;
  },

  ListSecrets(req) {
    parseParent(req.parent);
    const prefix = `${req.parent}/secrets/`;
    const match = compileFilter(req.filter, 'secret');
    const items = [...secrets.keys()]
      .filter((n) => n.startsWith(prefix))
      .map((n) => liveSecret(n))
      .filter(Boolean)
      .map((e) => e.secret)
      .filter(match)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const { page, next, total } = paginate(items, req.pageSize, req.pageToken);
    return { secrets: page, nextPageToken: next, totalSize: total };
  },

  UpdateSecret(req) {
    const input = req.secret || fail(S.INVALID_ARGUMENT, 'secret is required.');
    const entry = requireSecret(parseSecretName(input.name));
    const paths = (req.updateMask && req.updateMask.paths) || [];
    if (paths.length === 0) fail(S.INVALID_ARGUMENT, 'update_mask is required.');
    checkEtag(input.etag, entry.secret.etag, `Secret [${input.name}]`);
    const next = clone(entry.secret);
    for (const p of paths) {
      switch (p) {
        case 'labels':
          next.labels = clone(input.labels) || {};
          break;
        case 'annotations':
          next.annotations = clone(input.annotations) || {};
          break;
        case 'version_aliases':
        case 'versionAliases':
          next.versionAliases = clone(input.versionAliases) || {};
          break;
        case 'topics':
          next.topics = clone(input.topics) || [];
          break;
        case 'rotation':
          next.rotation = clone(input.rotation);
          break;
        case 'version_destroy_ttl':
        case 'versionDestroyTtl':
          next.versionDestroyTtl = clone(input.versionDestroyTtl);
          break;
        case 'ttl':
          next.expireTime = input.ttl ? msToTs(Date.now() + durationMs(input.ttl)) : undefined;
          break;
        case 'expire_time':
        case 'expireTime':
          next.expireTime = clone(input.expireTime);
          break;
        case 'replication':
        case 'secret_type':
        case 'secretType':
          fail(S.INVALID_ARGUMENT, `Field "${p}" is immutable.`);
          break;
        default:
          fail(S.INVALID_ARGUMENT, `Invalid update_mask path "${p}".`);
      }
    }
    next.etag = newEtag();
    entry.secret = next;
    return next;
  },

  DeleteSecret(req) {
    const name = parseSecretName(req.name);
    const entry = requireSecret(name);
    checkEtag(req.etag, entry.secret.etag, `Secret [${name}]`);
    secrets.delete(name);
    return {};
  },

  AddSecretVersion(req) {
    const entry = requireSecret(parseSecretName(req.parent));
    const payload = req.payload || fail(S.INVALID_ARGUMENT, 'payload is required.');
    const data = Buffer.from(payload.data || Buffer.alloc(0));
    if (data.length > 65536) fail(S.INVALID_ARGUMENT, 'Secret payload data must not exceed 65536 bytes.');
    const given = payload.dataCrc32c;
    const hasCrc = given !== undefined && given !== null;
    if (hasCrc && Number(given) !== crc32c(data)) {
      fail(S.INVALID_ARGUMENT, 'Checksum mismatch: data_crc32c does not match the CRC32C of payload.data.');
    }
    const num = entry.nextVersion;
    entry.nextVersion += 1;
    const version = {
      name: `${req.parent}/versions/${num}`,
      createTime: nowTs(),
      state: 'ENABLED',
      etag: newEtag(),
      clientSpecifiedPayloadChecksum: hasCrc,
    };
    const rs = replicationStatusFor(entry.secret);
    if (rs) version.replicationStatus = rs;
    entry.versions.set(num, { version, data });
    return version;
  },

  GetSecretVersion(req) {
    return resolveVersion(req.name).v.version;
  },

  AccessSecretVersion(req) {
    const { v } = resolveVersion(req.name, { forAccess: true });
    if (v.version.state !== 'ENABLED') {
      fail(S.FAILED_PRECONDITION, `Secret Version [${v.version.name}] is in ${v.version.state} state.`);
    }
    return {
      name: v.version.name,
      payload: { data: v.data, dataCrc32c: String(crc32c(v.data)) },
    };
  },

  ListSecretVersions(req) {
    const entry = requireSecret(parseSecretName(req.parent));
    const match = compileFilter(req.filter, 'version');
    const items = [...entry.versions.keys()]
      .sort((a, b) => b - a) // newest first
      .map((n) => entry.versions.get(n).version)
      .filter(match);
    const { page, next, total } = paginate(items, req.pageSize, req.pageToken);
    return { versions: page, nextPageToken: next, totalSize: total };
  },

  EnableSecretVersion(req) {
    return setState(req, 'ENABLED');
  },
  DisableSecretVersion(req) {
    return setState(req, 'DISABLED');
  },
  DestroySecretVersion(req) {
    return setState(req, 'DESTROYED');
  },
};

function setState(req, state) {
  const { v } = resolveVersion(req.name);
  checkEtag(req.etag, v.version.etag, `Secret Version [${v.version.name}]`);
  if (v.version.state === 'DESTROYED') {
    fail(S.FAILED_PRECONDITION, `Secret Version [${v.version.name}] is in DESTROYED state.`);
  }
  v.version.state = state;
  if (state === 'DESTROYED') {
    v.data = Buffer.alloc(0);
    v.version.destroyTime = nowTs();
  }
  v.version.etag = newEtag();
  return v.version;
}

// ---------------------------------------------------------------------------------------
// Server

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const quotas = makeQuotas(opts);
  const serviceDef = loadService();
  const impl = {};
  for (const method of Object.keys(serviceDef)) {
    const fn = handlers[method];
    impl[method] = (call, callback) => {
      const started = Date.now();
      if (!fn) {
        console.log(`${new Date().toISOString()} ${method} -> UNIMPLEMENTED`);
        callback({ code: S.UNIMPLEMENTED, details: `${method} is not implemented by the rotor GSM emulator.` });
        return;
      }
      try {
        quotas.admit(method, call.request);
        const res = fn(call.request);
        if (opts.verbose) console.log(`${new Date().toISOString()} ${method} OK ${Date.now() - started}ms`);
        callback(null, res);
      } catch (err) {
        if (err instanceof RpcError) {
          if (opts.verbose || err.code !== S.NOT_FOUND) {
            console.log(`${new Date().toISOString()} ${method} -> ${S[err.code]}: ${err.message}`);
          }
          callback({ code: err.code, details: err.message, ...(err.metadata ? { metadata: err.metadata } : {}) });
        } else {
          console.error(`${new Date().toISOString()} ${method} -> INTERNAL`, err);
          callback({ code: S.INTERNAL, details: String(err && err.message) });
        }
      }
    };
  }

  const server = new grpc.Server();
  server.addService(serviceDef, impl);
  server.bindAsync(`${opts.host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      console.error(`gsm-emulator: cannot listen on ${opts.host}:${opts.port}: ${err.message}`);
      process.exit(1);
    }
    console.log(
      `gsm-emulator: google.cloud.secretmanager.v1 listening on ${opts.host}:${port} ` +
        `(pid ${process.pid}, in-memory, ${quotas.summary})`,
    );
  });

  const stop = (sig) => {
    console.log(`gsm-emulator: ${sig}, shutting down`);
    // State is in memory and dies with the process anyway: no graceful drain needed.
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
