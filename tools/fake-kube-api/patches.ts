/** The patch bodies the API server accepts for Secrets and ConfigMaps (server-side apply aside). */

export class PatchError extends Error {}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (value: unknown): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else replaces. Also used for
 * strategic merge patches, which differ only for lists with merge keys (Secrets and ConfigMaps have none).
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

/** RFC 6902 JSON patch (the client's default patch type when no Content-Type is chosen). */
export function applyJsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new PatchError('a JSON patch must be an array of operations');
  let document = structuredClone(target);
  for (const operation of operations as Operation[]) {
    if (!isObject(operation) || typeof operation.path !== 'string') throw new PatchError('each operation needs an op and a path');
    switch (operation.op) {
      case 'add':
        document = put(document, operation.path, structuredClone(operation.value), 'add');
        break;
      case 'replace':
        get(document, operation.path);
        document = put(document, operation.path, structuredClone(operation.value), 'replace');
        break;
      case 'remove':
        document = remove(document, operation.path);
        break;
      case 'move': {
        const value = get(document, operation.from ?? '');
        document = put(remove(document, operation.from ?? ''), operation.path, value, 'add');
        break;
      }
      case 'copy':
        document = put(document, operation.path, structuredClone(get(document, operation.from ?? '')), 'add');
        break;
      case 'test':
        if (JSON.stringify(get(document, operation.path)) !== JSON.stringify(operation.value)) {
          throw new PatchError(`test operation failed at ${operation.path}`);
        }
        break;
      default:
        throw new PatchError(`unknown JSON patch operation ${String((operation as { op: unknown }).op)}`);
    }
  }
  return document;
}

function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function get(document: unknown, pointer: string): unknown {
  let current = document;
  for (const token of tokens(pointer)) {
    if (Array.isArray(current) && /^\d+$/.test(token) && Number(token) < current.length) current = current[Number(token)];
    else if (isObject(current) && Object.hasOwn(current, token)) current = current[token];
    else throw new PatchError(`no value at ${pointer}`);
  }
  return current;
}

function parentOf(document: unknown, pointer: string): { parent: unknown; last: string } {
  const path = tokens(pointer);
  if (path.length === 0) throw new PatchError('the root cannot be patched');
  const last = path.pop()!;
  const parentPointer = path.map((token) => '/' + token.replace(/~/g, '~0').replace(/\//g, '~1')).join('');
  return { parent: get(document, parentPointer), last };
}

function put(document: unknown, pointer: string, value: unknown, mode: 'add' | 'replace'): unknown {
  if (pointer === '') return value;
  const { parent, last } = parentOf(document, pointer);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new PatchError(`index out of range at ${pointer}`);
    parent.splice(index, mode === 'add' ? 0 : 1, value);
  } else if (isObject(parent)) {
    (parent as Record<string, unknown>)[last] = value;
  } else {
    throw new PatchError(`no object at the parent of ${pointer}`);
  }
  return document;
}

function remove(document: unknown, pointer: string): unknown {
  get(document, pointer);
  const { parent, last } = parentOf(document, pointer);
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete (parent as Record<string, unknown>)[last];
  return document;
}
