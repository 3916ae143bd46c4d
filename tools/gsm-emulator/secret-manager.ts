import { randomBytes } from 'node:crypto';

import { status as S } from '@grpc/grpc-js';

import { fail } from './rpc-error';

// Messages as @grpc/proto-loader hands them over (camelCase fields, int64 as strings, enums as names).
interface Timestamp {
  seconds?: string | number;
  nanos?: number;
}
type Duration = Timestamp;
interface Replication {
  automatic?: object;
  userManaged?: { replicas?: { location?: string }[] };
}
type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

export interface Secret {
  name: string;
  replication?: Replication;
  createTime?: Timestamp;
  labels?: Record<string, string>;
  topics?: unknown[];
  etag?: string;
  annotations?: Record<string, string>;
  versionAliases?: Record<string, string | number>;
  rotation?: unknown;
  versionDestroyTtl?: Duration;
  secretType?: string;
  expireTime?: Timestamp;
  ttl?: Duration;
}

export interface SecretVersion {
  name: string;
  createTime: Timestamp;
  state: VersionState;
  etag: string;
  clientSpecifiedPayloadChecksum: boolean;
  replicationStatus?: unknown;
  destroyTime?: Timestamp;
}

/** Every field any implemented RPC reads from its request. */
export interface SecretManagerRequest {
  name?: string;
  parent?: string;
  secretId?: string;
  secret?: Partial<Secret>;
  updateMask?: { paths?: string[] };
  etag?: string;
  payload?: { data?: Uint8Array; dataCrc32c?: string | number | null };
  filter?: string;
  pageSize?: number;
  pageToken?: string;
}

interface StoredVersion {
  version: SecretVersion;
  data: Buffer;
}
interface SecretEntry {
  secret: Secret;
  versions: Map<number, StoredVersion>;
  nextVersion: number;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i += 1) c = CRC32C_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const msToTs = (ms: number): Timestamp => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
const nowTs = (): Timestamp => msToTs(Date.now());
const tsToMs = (ts: Timestamp): number => Number(ts.seconds || 0) * 1000 + Math.floor((ts.nanos || 0) / 1e6);
const durationMs = tsToMs;
const newEtag = (): string => `"${randomBytes(8).toString('hex')}"`;
/** A deep copy as the wire would give it (undefined fields dropped). */
const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

const SECRET_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;
const PARENT_RE = /^projects\/([^/]+)(?:\/locations\/([^/]+))?$/;
const SECRET_RE = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)$/;
const VERSION_RE = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)\/versions\/([^/]+)$/;

function parseParent(parent: string | undefined): { project: string; location?: string } {
  const m =
    PARENT_RE.exec(parent || '') ?? fail(S.INVALID_ARGUMENT, `Invalid resource field value in the request: parent "${parent || ''}".`);
  return { project: m[1]!, location: m[2] };
}
function parseSecretName(name: string | undefined): string {
  if (!name || !SECRET_RE.test(name)) fail(S.INVALID_ARGUMENT, `Invalid resource field value in the request: name "${name || ''}".`);
  return name!;
}
function parseVersionName(name: string | undefined): { secretName: string; version: string } {
  const m = VERSION_RE.exec(name || '') ?? fail(S.INVALID_ARGUMENT, `Invalid resource field value in the request: name "${name || ''}".`);
  const full = m[0];
  return { secretName: full.slice(0, full.lastIndexOf('/versions/')), version: m[4]! };
}

const encodePageToken = (offset: number): string => Buffer.from(JSON.stringify({ o: offset })).toString('base64url');
function decodePageToken(token: string | undefined): number {
  if (!token) return 0;
  try {
    const o = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown }).o;
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch {
    /* fall through */
  }
  return fail(S.INVALID_ARGUMENT, `Invalid page_token "${token}".`);
}
function paginate<T>(items: T[], pageSize: number | undefined, pageToken: string | undefined): { page: T[]; next: string; total: number } {
  const size = pageSize && pageSize > 0 ? Math.min(pageSize, 25000) : 25000;
  if (pageSize !== undefined && pageSize < 0) fail(S.INVALID_ARGUMENT, 'page_size must not be negative.');
  const offset = decodePageToken(pageToken);
  const page = items.slice(offset, offset + size);
  const next = offset + size < items.length ? encodePageToken(offset + size) : '';
  return { page, next, total: items.length };
}

type Filterable = { name: string; labels?: Record<string, string>; state?: VersionState };

// Filter subset: terms separated by whitespace or AND.
function compileFilter(filter: string | undefined, kind: 'secret' | 'version'): (obj: Filterable) => boolean {
  const text = (filter || '').trim();
  if (!text) return () => true;
  const terms = text.split(/\s+(?:AND\s+)?/).filter((t) => t && t !== 'AND');
  const preds = terms.map((term): ((obj: Filterable) => boolean) => {
    const label = /^labels\.([A-Za-z0-9_-]+)(=|:)(.+)$/.exec(term);
    if (label) {
      const [, key, op, rawVal] = label as unknown as [string, string, string, string];
      const val = rawVal.replace(/^"(.*)"$/, '$1');
      return (obj) => {
        const labels = obj.labels || {};
        if (!(key in labels)) return false;
        if (op === ':' && val === '*') return true;
        return op === '=' ? labels[key] === val : labels[key]!.includes(val);
      };
    }
    const name = /^name:(.+)$/.exec(term);
    if (name) {
      const val = name[1]!.replace(/^"(.*)"$/, '$1');
      return (obj) => obj.name.includes(val);
    }
    const state = /^state[:=](ENABLED|DISABLED|DESTROYED)$/.exec(term);
    if (state && kind === 'version') return (obj) => obj.state === state[1];
    return fail(S.INVALID_ARGUMENT, `Unsupported filter term "${term}" (emulator supports labels.K=V, labels.K:*, name:X, state:S).`);
  });
  return (obj) => preds.every((p) => p(obj));
}

function checkEtag(given: string | undefined, current: string | undefined, what: string): void {
  if (given && given !== current) {
    fail(S.FAILED_PRECONDITION, `The etag provided in the request does not match the current etag of ${what}.`);
  }
}

function replicationStatusFor(secret: Secret): unknown {
  const r = secret.replication;
  if (r?.userManaged) return { userManaged: { replicas: (r.userManaged.replicas || []).map((x) => ({ location: x.location })) } };
  if (r?.automatic) return { automatic: {} };
  return undefined;
}

/**
 * google.cloud.secretmanager.v1 in memory: each handler takes the request and returns the
 * response object, or throws RpcError. Semantics follow the proto's documentation.
 */
export class InMemorySecretManager {
  private readonly secrets = new Map<string, SecretEntry>();

  /** The RPCs implemented, by method name; the others are answered UNIMPLEMENTED. */
  readonly handlers: Readonly<Record<string, (req: SecretManagerRequest) => unknown>> = {
    CreateSecret: (req) => this.createSecret(req),
    GetSecret: (req) => this.requireSecret(parseSecretName(req.name)).secret,
    ListSecrets: (req) => this.listSecrets(req),
    UpdateSecret: (req) => this.updateSecret(req),
    DeleteSecret: (req) => this.deleteSecret(req),
    AddSecretVersion: (req) => this.addSecretVersion(req),
    GetSecretVersion: (req) => this.resolveVersion(req.name).v.version,
    AccessSecretVersion: (req) => this.accessSecretVersion(req),
    ListSecretVersions: (req) => this.listSecretVersions(req),
    EnableSecretVersion: (req) => this.setState(req, 'ENABLED'),
    DisableSecretVersion: (req) => this.setState(req, 'DISABLED'),
    DestroySecretVersion: (req) => this.setState(req, 'DESTROYED'),
  };

  /** ttl / expire_time: an expired secret disappears (checked lazily). */
  private liveSecret(name: string): SecretEntry | undefined {
    const entry = this.secrets.get(name);
    if (!entry) return undefined;
    const exp = entry.secret.expireTime;
    if (exp && tsToMs(exp) <= Date.now()) {
      this.secrets.delete(name);
      return undefined;
    }
    return entry;
  }

  private requireSecret(name: string): SecretEntry {
    return this.liveSecret(name) ?? fail(S.NOT_FOUND, `Secret [${name}] not found.`);
  }

  /** `latest` is the most recently created version, whatever its state; aliases resolve too. */
  private resolveVersion(fullName: string | undefined, { forAccess = false } = {}): { entry: SecretEntry; v: StoredVersion; num: number } {
    const { secretName, version } = parseVersionName(fullName);
    const entry =
      this.liveSecret(secretName) ??
      fail(S.NOT_FOUND, forAccess ? `Secret [${secretName}] not found or has no versions.` : `Secret [${secretName}] not found.`);
    let num: number;
    if (version === 'latest') {
      num = entry.nextVersion - 1;
      if (num < 1) fail(S.NOT_FOUND, `Secret [${secretName}] not found or has no versions.`);
    } else if (/^[0-9]+$/.test(version)) {
      num = Number(version);
    } else if (entry.secret.versionAliases && version in entry.secret.versionAliases) {
      num = Number(entry.secret.versionAliases[version]);
    } else {
      return fail(S.NOT_FOUND, `Secret Version [${fullName}] not found.`);
    }
    const v = entry.versions.get(num) ?? fail(S.NOT_FOUND, `Secret Version [${secretName}/versions/${version}] not found.`);
    return { entry, v, num };
  }

  private createSecret(req: SecretManagerRequest): Secret {
    const { location } = parseParent(req.parent);
    if (!req.secretId) fail(S.INVALID_ARGUMENT, 'secret_id is required.');
    const secretId = req.secretId!;
    if (!SECRET_ID_RE.test(secretId)) {
      fail(S.INVALID_ARGUMENT, `Invalid secret_id "${secretId}": must be 1-255 characters of [a-zA-Z0-9_-].`);
    }
    const input = req.secret || fail(S.INVALID_ARGUMENT, 'secret is required.');
    if (!location && !(input.replication && (input.replication.automatic || input.replication.userManaged))) {
      fail(S.INVALID_ARGUMENT, 'Secret.replication is required for global secrets.');
    }
    if (location && input.replication) {
      fail(S.INVALID_ARGUMENT, 'Secret.replication must not be set for regional secrets.');
    }
    const name = `${req.parent}/secrets/${secretId}`;
    if (this.liveSecret(name)) fail(S.ALREADY_EXISTS, `Secret [${name}] already exists.`);
    const secret: Secret = {
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
    this.secrets.set(name, { secret, versions: new Map(), nextVersion: 1 });
    return secret;
  }

  private listSecrets(req: SecretManagerRequest): unknown {
    parseParent(req.parent);
    const prefix = `${req.parent}/secrets/`;
    const match = compileFilter(req.filter, 'secret');
    const items = [...this.secrets.keys()]
      .filter((n) => n.startsWith(prefix))
      .map((n) => this.liveSecret(n))
      .filter((e): e is SecretEntry => e !== undefined)
      .map((e) => e.secret)
      .filter(match)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const { page, next, total } = paginate(items, req.pageSize, req.pageToken);
    return { secrets: page, nextPageToken: next, totalSize: total };
  }

  /** Needs update_mask; replication and secret_type are immutable. */
  private updateSecret(req: SecretManagerRequest): Secret {
    const input = req.secret || fail(S.INVALID_ARGUMENT, 'secret is required.');
    const entry = this.requireSecret(parseSecretName(input.name));
    const paths = req.updateMask?.paths || [];
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
  }

  private deleteSecret(req: SecretManagerRequest): object {
    const name = parseSecretName(req.name);
    const entry = this.requireSecret(name);
    checkEtag(req.etag, entry.secret.etag, `Secret [${name}]`);
    this.secrets.delete(name);
    return {};
  }

  /** payload.data_crc32c is checked when given; the payload limit is 64 KiB. */
  private addSecretVersion(req: SecretManagerRequest): SecretVersion {
    const entry = this.requireSecret(parseSecretName(req.parent));
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
    const version: SecretVersion = {
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
  }

  /** A DISABLED or DESTROYED version cannot be accessed. */
  private accessSecretVersion(req: SecretManagerRequest): unknown {
    const { v } = this.resolveVersion(req.name, { forAccess: true });
    if (v.version.state !== 'ENABLED') {
      fail(S.FAILED_PRECONDITION, `Secret Version [${v.version.name}] is in ${v.version.state} state.`);
    }
    return { name: v.version.name, payload: { data: v.data, dataCrc32c: String(crc32c(v.data)) } };
  }

  private listSecretVersions(req: SecretManagerRequest): unknown {
    const entry = this.requireSecret(parseSecretName(req.parent));
    const match = compileFilter(req.filter, 'version');
    const items = [...entry.versions.keys()]
      .sort((a, b) => b - a) // newest first
      .map((n) => entry.versions.get(n)!.version)
      .filter(match);
    const { page, next, total } = paginate(items, req.pageSize, req.pageToken);
    return { versions: page, nextPageToken: next, totalSize: total };
  }

  private setState(req: SecretManagerRequest, state: VersionState): SecretVersion {
    const { v } = this.resolveVersion(req.name);
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
}
