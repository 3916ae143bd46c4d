import { randomUUID } from 'node:crypto';

import { alreadyExists, badRequest, conflict, invalid, KubeStatusError, notFound } from './kube-status';
import { matchesLabelSelector, type Requirement } from './label-selector';
import { applyJsonPatch, applyMergePatch, PatchError } from './patches';

export type Resource = 'secrets' | 'configmaps' | 'pods' | 'deployments' | 'statefulsets';
export type Kind = 'Secret' | 'ConfigMap' | 'Pod' | 'Deployment' | 'StatefulSet';
export const KIND: Record<Resource, Kind> = {
  secrets: 'Secret',
  configmaps: 'ConfigMap',
  pods: 'Pod',
  deployments: 'Deployment',
  statefulsets: 'StatefulSet',
};
/** The group/version each resource is served under: core `v1` or `apps/v1`. */
export const API_VERSION: Record<Resource, 'v1' | 'apps/v1'> = {
  secrets: 'v1',
  configmaps: 'v1',
  pods: 'v1',
  deployments: 'apps/v1',
  statefulsets: 'apps/v1',
};
export const RESOURCES = Object.keys(KIND) as Resource[];

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generation: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** A stored Secret, ConfigMap, Pod, Deployment or StatefulSet, as the API server returns it. */
export interface KubeObject {
  apiVersion: 'v1' | 'apps/v1';
  kind: Kind;
  metadata: ObjectMeta;
  data?: Record<string, string>;
  [field: string]: unknown;
}

export type PatchType = 'merge' | 'json';

export interface ListQuery {
  namespace?: string;
  selector: readonly Requirement[];
  limit?: number;
  continueToken?: string;
}

export interface ListPage {
  items: KubeObject[];
  resourceVersion: string;
  continueToken?: string;
  remainingItemCount?: number;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SERVER_FIELDS = ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'selfLink'];

/**
 * Secrets and ConfigMaps with the API server's semantics: one global, increasing resourceVersion,
 * optimistic concurrency, uid and creationTimestamp kept across updates, Secret `stringData` folded
 * into base64 `data`, and paged lists in key order (namespace/name) with opaque continue tokens.
 * Objects returned are the stored ones: callers serialise them or clone them.
 */
export class ObjectStore {
  private revision = 0;
  private readonly objects = Object.fromEntries(RESOURCES.map((resource) => [resource, new Map()])) as Record<
    Resource,
    Map<string, KubeObject>
  >;
  /** Keys `<namespace>/<name>` in order, so a page or a namespace is a binary search away. */
  private readonly sortedKeys = Object.fromEntries(RESOURCES.map((resource) => [resource, []])) as unknown as Record<Resource, string[]>;
  /** When set, only these namespaces exist (creating elsewhere is a 404, as in a real cluster). */
  namespaces?: Set<string>;

  get resourceVersion(): string {
    return String(this.revision);
  }

  count(resource: Resource): number {
    return this.objects[resource].size;
  }

  get(resource: Resource, namespace: string, name: string): KubeObject {
    const object = this.objects[resource].get(key(namespace, name));
    if (!object) throw notFound(resource, name);
    return object;
  }

  find(resource: Resource, namespace: string, name: string): KubeObject | undefined {
    return this.objects[resource].get(key(namespace, name));
  }

  create(resource: Resource, namespace: string, body: unknown): KubeObject {
    const input = asObject(body, resource);
    const meta = asObject(input.metadata ?? {}, resource);
    if (meta.namespace !== undefined && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (this.namespaces && !this.namespaces.has(namespace)) throw notFound('namespaces', namespace);
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (!name && typeof meta.generateName === 'string') name = meta.generateName + randomUUID().replace(/-/g, '').slice(0, 5);
    if (!name) throw invalid(KIND[resource], '', 'metadata.name: Required value: name or generateName is required');
    if (!validName(name)) {
      throw invalid(
        KIND[resource],
        name,
        `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      );
    }
    if (this.objects[resource].has(key(namespace, name))) throw alreadyExists(resource, name);

    const object = this.normalise(resource, input, name);
    object.metadata = {
      ...withoutServerFields(meta),
      name,
      namespace,
      uid: randomUUID(),
      resourceVersion: this.nextRevision(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      generation: 1,
    };
    this.insert(resource, object);
    return object;
  }

  replace(resource: Resource, namespace: string, name: string, body: unknown): KubeObject {
    const current = this.get(resource, namespace, name);
    const input = asObject(body, resource);
    const meta = asObject(input.metadata ?? {}, resource);
    if (meta.name !== undefined && meta.name !== name)
      throw badRequest(`the name of the object (${JSON.stringify(meta.name)}) does not match the name on the URL (${name})`);
    if (meta.namespace !== undefined && meta.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return this.update(resource, current, input, meta);
  }

  patch(resource: Resource, namespace: string, name: string, type: PatchType, patch: unknown): KubeObject {
    const current = this.get(resource, namespace, name);
    let patched: unknown;
    try {
      patched = type === 'merge' ? applyMergePatch(current, patch) : applyJsonPatch(current, patch);
    } catch (error) {
      if (error instanceof PatchError) throw new KubeStatusError(422, 'Invalid', error.message, { name, kind: resource });
      throw error;
    }
    const input = asObject(patched, resource);
    const meta = asObject(input.metadata ?? {}, resource);
    if (meta.name !== name || meta.namespace !== namespace) throw badRequest('a patch cannot change metadata.name or metadata.namespace');
    return this.update(resource, current, input, meta);
  }

  /**
   * Deletes, honouring DeleteOptions preconditions as the API server does: a precondition that
   * is present is compared, even an empty string (it never matches, so nothing is deleted);
   * only an absent (or null) one is skipped.
   */
  delete(
    resource: Resource,
    namespace: string,
    name: string,
    preconditions: { resourceVersion?: string | null; uid?: string | null } = {},
  ): KubeObject {
    const current = this.get(resource, namespace, name);
    if (preconditions.uid != null && preconditions.uid !== current.metadata.uid) {
      throw conflict(
        resource,
        name,
        `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${current.metadata.uid}`,
      );
    }
    if (preconditions.resourceVersion != null && preconditions.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        resource,
        name,
        `the ResourceVersion in the precondition (${preconditions.resourceVersion}) does not match the ResourceVersion in record (${current.metadata.resourceVersion}). The object might have been modified`,
      );
    }
    this.nextRevision();
    this.remove(resource, namespace, name);
    return current;
  }

  /** Creates or overwrites without any precondition, as a hand edit or another tool would. */
  put(resource: Resource, body: unknown): KubeObject {
    const meta = asObject(asObject(body, resource).metadata ?? {}, resource);
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : 'default';
    const current = typeof meta.name === 'string' ? this.find(resource, namespace, meta.name) : undefined;
    if (!current) return this.create(resource, namespace, body);
    const { resourceVersion: _ignored, uid: _uid, ...rest } = meta;
    return this.update(resource, current, { ...asObject(body, resource), metadata: rest }, rest);
  }

  list(resource: Resource, query: ListQuery): ListPage {
    const keys = this.sortedKeys[resource];
    const objects = this.objects[resource];
    const [rangeStart, rangeEnd] =
      query.namespace === undefined ? [0, keys.length] : [lowerBound(keys, `${query.namespace}/`), lowerBound(keys, `${query.namespace}0`)];
    let start = rangeStart;
    if (query.continueToken) start = Math.max(start, lowerBound(keys, decodeContinue(query.continueToken) + '\0'));

    const limit = query.limit && query.limit > 0 ? query.limit : Infinity;
    const items: KubeObject[] = [];
    let index = start;
    for (; index < rangeEnd && items.length < limit; index++) {
      const object = objects.get(keys[index]!)!;
      if (matchesLabelSelector(query.selector, object.metadata.labels)) items.push(object);
    }
    // Another page only if another object would match: no empty last page.
    let more = false;
    for (let ahead = index; ahead < rangeEnd && !more; ahead++)
      more = matchesLabelSelector(query.selector, objects.get(keys[ahead]!)!.metadata.labels);

    const page: ListPage = { items, resourceVersion: this.resourceVersion };
    if (more) {
      page.continueToken = encodeContinue(keys[index - 1]!, this.revision);
      // As the API server does, the count is given only when it is exact (no selector).
      if (query.selector.length === 0) page.remainingItemCount = rangeEnd - index;
    }
    return page;
  }

  private update(resource: Resource, current: KubeObject, input: Record<string, unknown>, meta: Record<string, unknown>): KubeObject {
    const name = current.metadata.name;
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '' && meta.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(resource, name);
    }
    if (meta.uid !== undefined && meta.uid !== current.metadata.uid) {
      throw conflict(
        resource,
        name,
        `Precondition failed: UID in precondition: ${JSON.stringify(meta.uid)}, UID in object meta: ${current.metadata.uid}`,
      );
    }
    const next = this.normalise(resource, input, name);
    if (current.immutable === true) {
      for (const field of ['data', 'binaryData']) {
        if (canonical(next[field] ?? {}) !== canonical(current[field] ?? {}))
          throw invalid(KIND[resource], name, `${field}: Forbidden: field is immutable when \`immutable\` is set`);
      }
    }
    next.metadata = {
      ...withoutServerFields(meta),
      name,
      namespace: current.metadata.namespace,
      uid: current.metadata.uid,
      resourceVersion: current.metadata.resourceVersion,
      creationTimestamp: current.metadata.creationTimestamp,
      generation: current.metadata.generation,
    };
    // An update that changes nothing is not written, and keeps its resourceVersion.
    if (canonical(next) === canonical(current)) return current;
    const { metadata: _a, ...nextContent } = next;
    const { metadata: _b, ...currentContent } = current;
    if (canonical(nextContent) !== canonical(currentContent)) next.metadata.generation += 1;
    next.metadata.resourceVersion = this.nextRevision();
    this.objects[resource].set(key(current.metadata.namespace, name), next);
    return next;
  }

  /** The stored shape of a body: kind and apiVersion set, Secret stringData folded into data, fields checked. */
  private normalise(resource: Resource, input: Record<string, unknown>, name: string): KubeObject {
    const kind = KIND[resource];
    if (input.kind !== undefined && input.kind !== kind) throw badRequest(`expected kind ${kind}, got ${JSON.stringify(input.kind)}`);
    const { stringData, kind: _kind, apiVersion: _apiVersion, metadata: _metadata, ...fields } = input;
    const object = { apiVersion: API_VERSION[resource], kind, metadata: {} as ObjectMeta, ...fields } as KubeObject;
    if (resource === 'deployments' || resource === 'statefulsets') {
      if (stringData !== undefined) throw badRequest(`${kind} has no field stringData`);
      validateWorkload(kind, name, object);
      return object;
    }

    const data = stringMap(object.data, kind, name, 'data');
    if (resource === 'secrets') {
      for (const [field, value] of Object.entries(data ?? {})) {
        if (!BASE64.test(value))
          throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[${field}]`);
      }
      const plain = stringMap(stringData, kind, name, 'stringData');
      const merged = {
        ...data,
        ...Object.fromEntries(Object.entries(plain ?? {}).map(([field, value]) => [field, Buffer.from(value, 'utf8').toString('base64')])),
      };
      if (Object.keys(merged).length > 0) object.data = merged;
      else delete object.data;
      object.type ??= 'Opaque';
    } else if (resource === 'pods') {
      // Only what a pod's existence needs: no scheduling, no kubelet. A pod is Running once created.
      if (stringData !== undefined) throw badRequest('Pod has no field stringData');
      object.spec ??= { containers: [] };
      object.status ??= { phase: 'Running' };
    } else if (stringData !== undefined) {
      throw badRequest('ConfigMap has no field stringData');
    } else {
      for (const [field, value] of Object.entries(stringMap(object.binaryData, kind, name, 'binaryData') ?? {})) {
        if (!BASE64.test(value)) throw badRequest(`illegal base64 data in binaryData[${field}]`);
      }
    }
    return object;
  }

  private nextRevision(): string {
    this.revision += 1;
    return String(this.revision);
  }

  private insert(resource: Resource, object: KubeObject): void {
    const k = key(object.metadata.namespace, object.metadata.name);
    this.objects[resource].set(k, object);
    const keys = this.sortedKeys[resource];
    keys.splice(lowerBound(keys, k), 0, k);
  }

  private remove(resource: Resource, namespace: string, name: string): void {
    const k = key(namespace, name);
    this.objects[resource].delete(k);
    const keys = this.sortedKeys[resource];
    keys.splice(lowerBound(keys, k), 1);
  }
}

/**
 * The few rules of apps/v1 validation a rollout depends on: a pod template with containers and
 * a selector that matches the template's labels (the API server refuses the rest with 422 too).
 */
function validateWorkload(kind: string, name: string, object: KubeObject): void {
  const spec = object.spec as { selector?: { matchLabels?: Record<string, string> }; template?: unknown } | undefined;
  if (typeof spec !== 'object' || spec === null) throw invalid(kind, name, 'spec: Required value');
  const template = spec.template as {
    metadata?: { labels?: Record<string, string>; annotations?: unknown };
    spec?: { containers?: unknown };
  };
  if (typeof template !== 'object' || template === null) throw invalid(kind, name, 'spec.template: Required value');
  if (!Array.isArray(template.spec?.containers) || template.spec.containers.length === 0)
    throw invalid(kind, name, 'spec.template.spec.containers: Required value');
  const selector = spec.selector?.matchLabels;
  if (!selector || Object.keys(selector).length === 0) throw invalid(kind, name, 'spec.selector: Required value');
  const labels = template.metadata?.labels ?? {};
  if (Object.entries(selector).some(([label, value]) => labels[label] !== value))
    throw invalid(kind, name, 'spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`');
  const annotations = template.metadata?.annotations;
  if (annotations !== undefined && (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations)))
    throw badRequest(`${kind}.spec.template.metadata.annotations must be a map of strings`);
  for (const [annotation, value] of Object.entries((annotations ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string') throw badRequest(`${kind}.spec.template.metadata.annotations[${annotation}] must be a string`);
  }
}

export function validName(name: string): boolean {
  return name.length <= 253 && NAME.test(name);
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

function lowerBound(keys: readonly string[], target: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

function asObject(value: unknown, resource: Resource): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`the body is not a ${KIND[resource]} object`);
  return value as Record<string, unknown>;
}

function stringMap(value: unknown, kind: string, name: string, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${kind}.${field} must be a map of strings`);
  for (const [entry, text] of Object.entries(value)) {
    if (typeof text !== 'string') throw badRequest(`${kind}.${field}[${entry}] must be a string`);
    if (!DATA_KEY.test(entry) || entry.length > 253) {
      throw invalid(
        kind,
        name,
        `${field}[${entry}]: Invalid value: "${entry}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
      );
    }
  }
  return value as Record<string, string>;
}

function withoutServerFields(meta: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...meta };
  for (const field of SERVER_FIELDS) delete rest[field];
  return rest;
}

/** JSON with sorted keys, to tell whether an update changes anything. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

function encodeContinue(lastKey: string, revision: number): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: revision, start: lastKey })).toString('base64url');
}

function decodeContinue(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { start?: unknown };
    if (typeof parsed.start === 'string') return parsed.start;
  } catch {
    // falls through to the error below
  }
  throw badRequest('continue key is not valid: malformed token');
}
