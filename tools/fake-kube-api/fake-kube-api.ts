import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { badRequest, KubeStatusError } from './kube-status';
import { LabelSelectorError, parseLabelSelector } from './label-selector';
import { API_VERSION, KIND, ObjectStore, type KubeObject, type PatchType, type Resource } from './object-store';

export type { KubeObject, ObjectMeta, Resource } from './object-store';

export interface FakeKubeApiOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** When set, requests without `Authorization: Bearer <token>` get 401, as with a real API server. */
  requiredToken?: string;
}

/** What happens to requests on one namespace (or every request, for `'*'`). */
export type NamespaceFault =
  | { kind: 'unreachable' } // the connection is dropped: the client sees a network error
  | { kind: 'hang' } // no answer until the server stops: the client's timeout fires
  | { kind: 'slow'; delayMs: number }; // answered, late

/** One request as the fake saw it; bodies are never recorded (they hold Secret data). */
export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  /** The query string without `?`, when there is one. */
  query?: string;
}

interface FailureRule {
  method: string;
  path: RegExp;
  status: number;
  remaining: number;
  reason?: string;
  message?: string;
}

const COLLECTION =
  /^(?:\/api\/v1\/namespaces\/([^/]+)\/(secrets|configmaps|pods)|\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets))(?:\/([^/]+))?$/;
const ALL_NAMESPACES = /^(?:\/api\/v1\/(secrets|configmaps|pods)|\/apis\/apps\/v1\/(deployments|statefulsets))$/;

/** namespace, resource and name of a namespaced path, core or apps/v1. */
function namespacedPath(path: string): { namespace: string; resource: Resource; name?: string } | undefined {
  const match = COLLECTION.exec(path);
  if (!match) return undefined;
  return {
    namespace: decodeURIComponent((match[1] ?? match[3])!),
    resource: (match[2] ?? match[4]) as Resource,
    ...(match[5] === undefined ? {} : { name: decodeURIComponent(match[5]) }),
  };
}
const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/**
 * A stand-in for a kube-apiserver (none can run on these machines), serving the real REST paths
 * to the real @kubernetes/client-node over plain HTTP: Secrets, ConfigMaps and Pods (get, list
 * with label selectors and pages, create, replace, merge/strategic/JSON patch, delete with
 * preconditions; a deleted Pod is gone at once, as after a forced deletion), apps/v1 Deployments
 * and StatefulSets (the same verbs; strategic merge is treated as JSON merge, which differs only
 * for lists), TokenReview, and hooks for tests: seed and inspect objects, edit them "by
 * hand", inject failures, make a namespace unreachable or slow, and read the request log.
 */
export class FakeKubeApi {
  /** Tokens the "cluster" has revoked; TokenReview says unauthenticated for them. */
  readonly revokedTokens = new Set<string>();
  /** Tokens the "cluster" knows as another user than their `sub` (a test hook); others are reviewed as their `sub`. */
  readonly tokenUsers = new Map<string, string>();
  readonly requests: RecordedRequest[] = [];
  readonly store = new ObjectStore();
  private readonly failures: FailureRule[] = [];
  private readonly faults = new Map<string, NamespaceFault>();
  private server?: Server;

  constructor(private readonly options: FakeKubeApiOptions = {}) {}

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    // Keep-alive connections of a hung request must not hold stop() forever.
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve);
    });
    return this;
  }

  get url(): string {
    const address = this.server!.address() as AddressInfo;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** A kubeconfig for this server with a bearer token for rotor. */
  kubeconfigYaml(token = this.options.requiredToken ?? 'rotor-service-account-token'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      // Plain HTTP: the client allows it only with insecure-skip-tls-verify, as for any non-TLS server.
      'clusters: [{ name: fake, cluster: { server: "' + this.url + '", insecure-skip-tls-verify: true } }]',
      `users: [{ name: rotor, user: { token: ${JSON.stringify(token)} } }]`,
      'contexts: [{ name: fake, context: { cluster: fake, user: rotor, namespace: default } }]',
      'current-context: fake',
      '',
    ].join('\n');
  }

  /** Writes the kubeconfig to `path` (default: a new temporary file) and returns the path. */
  writeKubeconfig(path?: string): string {
    const file = path ?? join(mkdtempSync(join(tmpdir(), 'rotor-kube-')), 'kubeconfig');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, this.kubeconfigYaml(), { mode: 0o600 });
    return file;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- Objects: seed, inspect, edit by hand ------------------------------------------------

  get resourceVersion(): string {
    return this.store.resourceVersion;
  }

  /** Copies of the stored Secrets, of one namespace or all, in namespace/name order. */
  secrets(namespace?: string): KubeObject[] {
    return this.all('secrets', namespace);
  }

  configMaps(namespace?: string): KubeObject[] {
    return this.all('configmaps', namespace);
  }

  secret(namespace: string, name: string): KubeObject | undefined {
    return cloneOrUndefined(this.store.find('secrets', namespace, name));
  }

  configMap(namespace: string, name: string): KubeObject | undefined {
    return cloneOrUndefined(this.store.find('configmaps', namespace, name));
  }

  /** Creates or overwrites a Secret without preconditions (`stringData` is folded into `data`). */
  putSecret(secret: { metadata: { name: string; namespace?: string; [field: string]: unknown }; [field: string]: unknown }): KubeObject {
    return structuredClone(this.store.put('secrets', structuredClone(secret)));
  }

  putConfigMap(configMap: {
    metadata: { name: string; namespace?: string; [field: string]: unknown };
    [field: string]: unknown;
  }): KubeObject {
    return structuredClone(this.store.put('configmaps', structuredClone(configMap)));
  }

  /**
   * A hand edit (`kubectl edit`): sets keys of a Secret's `data` to these base64 values (`null`
   * removes a key); the resourceVersion moves on, so a writer holding the old one conflicts.
   */
  editSecretData(namespace: string, name: string, data: Record<string, string | null>): KubeObject {
    return structuredClone(this.store.patch('secrets', namespace, name, 'merge', { data }));
  }

  editConfigMapData(namespace: string, name: string, data: Record<string, string | null>): KubeObject {
    return structuredClone(this.store.patch('configmaps', namespace, name, 'merge', { data }));
  }

  /** Any other hand edit, as a JSON merge patch (e.g. `{ metadata: { labels: { x: null } } }`). */
  editObject(resource: Resource, namespace: string, name: string, mergePatch: unknown): KubeObject {
    return structuredClone(this.store.patch(resource, namespace, name, 'merge', mergePatch));
  }

  /** Copies of the stored Deployments (apps/v1), of one namespace or all. */
  deployments(namespace?: string): KubeObject[] {
    return this.all('deployments', namespace);
  }

  statefulSets(namespace?: string): KubeObject[] {
    return this.all('statefulsets', namespace);
  }

  deployment(namespace: string, name: string): KubeObject | undefined {
    return cloneOrUndefined(this.store.find('deployments', namespace, name));
  }

  statefulSet(namespace: string, name: string): KubeObject | undefined {
    return cloneOrUndefined(this.store.find('statefulsets', namespace, name));
  }

  /** Creates or overwrites a Deployment or StatefulSet without preconditions (as `kubectl apply` would). */
  putWorkload(
    resource: 'deployments' | 'statefulsets',
    workload: { metadata: { name: string; namespace?: string; [field: string]: unknown }; [field: string]: unknown },
  ): KubeObject {
    return structuredClone(this.store.put(resource, structuredClone(workload)));
  }

  /** A hand delete; false if there was nothing to delete. */
  deleteSecret(namespace: string, name: string): boolean {
    return this.deleteObject('secrets', namespace, name);
  }

  deleteConfigMap(namespace: string, name: string): boolean {
    return this.deleteObject('configmaps', namespace, name);
  }

  deleteObject(resource: Resource, namespace: string, name: string): boolean {
    if (!this.store.find(resource, namespace, name)) return false;
    this.store.delete(resource, namespace, name);
    return true;
  }

  /** Copies of the stored Pods, of one namespace or all, in namespace/name order. */
  pods(namespace?: string): KubeObject[] {
    return this.all('pods', namespace);
  }

  pod(namespace: string, name: string): KubeObject | undefined {
    return cloneOrUndefined(this.store.find('pods', namespace, name));
  }

  /**
   * Creates or overwrites a Pod "by hand" (what a controller and the scheduler would do); it gets
   * a new uid when created, so a pod deleted and created again under its name is another pod.
   */
  putPod(pod: { metadata: { name: string; namespace?: string; [field: string]: unknown }; [field: string]: unknown }): KubeObject {
    return structuredClone(this.store.put('pods', structuredClone(pod)));
  }

  /**
   * Removes a Pod at once, as `kubectl delete pod --force --grace-period=0` does, or the pod
   * garbage collector after its node was lost; false if there was none.
   */
  deletePod(namespace: string, name: string): boolean {
    return this.deleteObject('pods', namespace, name);
  }

  /** Only these namespaces exist (creating elsewhere answers 404); undefined: every namespace exists. */
  setNamespaces(names: readonly string[] | undefined): void {
    this.store.namespaces = names ? new Set(names) : undefined;
  }

  // --- Failures ------------------------------------------------------------------------------

  /**
   * The next `times` (default 1) requests whose method (or `'*'`) and path match answer `status`
   * with a Status body; status 0 drops the connection instead.
   */
  failNext(method: string, path: RegExp, status: number, options: { times?: number; reason?: string; message?: string } = {}): void {
    this.failures.push({
      method: method.toUpperCase(),
      path,
      status,
      remaining: options.times ?? 1,
      reason: options.reason,
      message: options.message,
    });
  }

  /** Sets (or, with undefined, clears) the fault of one namespace, or of every request with `'*'`. */
  setNamespaceFault(namespace: string, fault: NamespaceFault | undefined): void {
    if (fault) this.faults.set(namespace, fault);
    else this.faults.delete(namespace);
  }

  clearFaults(): void {
    this.failures.length = 0;
    this.faults.clear();
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  // --- HTTP ----------------------------------------------------------------------------------

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const path = url.pathname;
    const method = request.method ?? 'GET';
    const record: RecordedRequest = { method, path, authorization: request.headers.authorization };
    if (url.search) record.query = url.search.slice(1);
    this.requests.push(record);

    try {
      const body = await readBody(request);
      if (this.options.requiredToken !== undefined && request.headers.authorization !== `Bearer ${this.options.requiredToken}`) {
        throw new KubeStatusError(401, 'Unauthorized', 'Unauthorized');
      }
      const rule = this.failures.find(
        (candidate) => (candidate.method === '*' || candidate.method === method) && candidate.path.test(path),
      );
      if (rule) {
        if (--rule.remaining <= 0) this.failures.splice(this.failures.indexOf(rule), 1);
        if (rule.status === 0) return void request.socket.destroy();
        const reason = rule.reason ?? REASONS[rule.status] ?? 'Unknown';
        throw new KubeStatusError(rule.status, reason, rule.message ?? `injected failure: ${reason}`);
      }
      const namespace = namespacedPath(path)?.namespace;
      const fault = (namespace !== undefined ? this.faults.get(namespace) : undefined) ?? this.faults.get('*');
      if (fault?.kind === 'unreachable') return void request.socket.destroy();
      if (fault?.kind === 'hang') return;
      if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));

      const [status, payload] = this.route(method, path, url.searchParams, request.headers['content-type'], body);
      json(response, status, payload);
    } catch (error) {
      const failure =
        error instanceof KubeStatusError
          ? error
          : new KubeStatusError(500, 'InternalError', `fake kube-apiserver: ${(error as Error).message}`);
      if (!response.headersSent && !request.socket.destroyed) json(response, failure.code, failure.toStatus());
    }
  }

  private route(method: string, path: string, query: URLSearchParams, contentType: string | undefined, body: string): [number, unknown] {
    if (method === 'POST' && path === TOKEN_REVIEWS) return [201, this.tokenReview(parseJson(body))];
    if (method === 'GET' && path === '/version')
      return [200, { major: '1', minor: '33', gitVersion: 'v1.33.0-rotor-fake', platform: 'linux/amd64' }];
    if (method === 'GET' && ['/healthz', '/readyz', '/livez'].includes(path)) return [200, 'ok'];

    const all = ALL_NAMESPACES.exec(path);
    if (all) {
      if (method !== 'GET') throw new KubeStatusError(405, 'MethodNotAllowed', `${method} is not supported on ${path}`);
      return [200, this.list((all[1] ?? all[2]) as Resource, undefined, query)];
    }
    const match = namespacedPath(path);
    if (!match)
      throw new KubeStatusError(404, 'NotFound', `the server could not find the requested resource (${path} is not served by the fake)`);
    const { namespace, resource, name } = match;
    if (query.get('dryRun')) throw badRequest('dryRun is not served by the fake');

    if (name === undefined) {
      if (method === 'GET') return [200, this.list(resource, namespace, query)];
      if (method === 'POST') return [201, this.store.create(resource, namespace, parseJson(body))];
      throw new KubeStatusError(405, 'MethodNotAllowed', `${method} is not served by the fake on ${path}`);
    }
    switch (method) {
      case 'GET':
        return [200, this.store.get(resource, namespace, name)];
      case 'PUT':
        return [200, this.store.replace(resource, namespace, name, parseJson(body))];
      case 'PATCH':
        return [200, this.store.patch(resource, namespace, name, patchType(contentType), parseJson(body))];
      case 'DELETE': {
        const options = (body.trim() ? parseJson(body) : {}) as { preconditions?: { resourceVersion?: string; uid?: string } };
        const deleted = this.store.delete(resource, namespace, name, options.preconditions ?? {});
        return [
          200,
          {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name, kind: resource, uid: deleted.metadata.uid },
          },
        ];
      }
      default:
        throw new KubeStatusError(405, 'MethodNotAllowed', `${method} is not served on ${path}`);
    }
  }

  private list(resource: Resource, namespace: string | undefined, query: URLSearchParams) {
    if (query.get('watch') === 'true' || query.get('watch') === '1') throw badRequest('watch is not served by the fake');
    if (query.get('fieldSelector')) throw badRequest('fieldSelector is not served by the fake');
    let selector;
    try {
      selector = parseLabelSelector(query.get('labelSelector') ?? undefined);
    } catch (error) {
      if (error instanceof LabelSelectorError) throw badRequest(`unable to parse requirement: ${error.message}`);
      throw error;
    }
    const limit = Number(query.get('limit') ?? '');
    const page = this.store.list(resource, {
      namespace,
      selector,
      limit: Number.isInteger(limit) && limit > 0 ? limit : undefined,
      continueToken: query.get('continue') || undefined,
    });
    return {
      kind: `${KIND[resource]}List`,
      apiVersion: API_VERSION[resource],
      metadata: { resourceVersion: page.resourceVersion, continue: page.continueToken, remainingItemCount: page.remainingItemCount },
      // As from the API server, list items carry no kind or apiVersion of their own.
      items: page.items.map(({ kind: _kind, apiVersion: _apiVersion, ...item }) => item),
    };
  }

  private tokenReview(body: unknown) {
    const review = body as { spec: { token: string; audiences?: string[] } };
    const authenticated = !this.revokedTokens.has(review.spec.token);
    // As the API server does, it names the user it authenticated: a service account's token as that service account.
    const username = this.tokenUsers.get(review.spec.token) ?? unverifiedSubject(review.spec.token);
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: review.spec,
      status: authenticated
        ? { authenticated: true, audiences: review.spec.audiences ?? [], ...(username ? { user: { username } } : {}) }
        : { authenticated: false, error: 'token has been invalidated' },
    };
  }

  private all(resource: Resource, namespace: string | undefined): KubeObject[] {
    return structuredClone(this.store.list(resource, { namespace, selector: [] }).items);
  }
}

function patchType(contentType: string | undefined): PatchType {
  const type = (contentType ?? '').split(';')[0]!.trim();
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') return 'merge';
  if (type === 'application/json-patch+json') return 'json';
  throw new KubeStatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${type || 'none'}; server-side apply is not served by the fake)`,
  );
}

const cloneOrUndefined = (object: KubeObject | undefined) => (object ? structuredClone(object) : undefined);

/** The `sub` of a JWT, read without checking the signature (the fake trusts every token it has not revoked). */
function unverifiedSubject(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};
