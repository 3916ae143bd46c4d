/**
 * For specs: RFC 6902 JSON Patch applied the way the API server applies an admission
 * webhook's patch (add, remove, replace, test; a missing parent or an index past the end is an
 * error, never created on the way). Returns a new document; the input is not changed.
 */
export interface Operation {
  op: string;
  path: string;
  value?: unknown;
}

type Json = unknown;

function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON Pointer ${pointer} must start with /`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const isObject = (value: Json): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);

function arrayIndex(array: Json[], token: string, { forAdd }: { forAdd: boolean }): number {
  if (forAdd && token === '-') return array.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`array index ${token} is not a number`);
  const index = Number(token);
  if (index > array.length || (!forAdd && index === array.length)) throw new Error(`array index ${token} is out of bounds`);
  return index;
}

export function applyPatch<T>(document: T, operations: readonly Operation[]): T {
  let root = structuredClone(document) as Json;
  for (const operation of operations) {
    const path = tokens(operation.path);
    if (path.length === 0) {
      if (operation.op === 'add' || operation.op === 'replace') root = structuredClone(operation.value);
      else throw new Error(`${operation.op} of the whole document is not supported`);
      continue;
    }
    let parent: Json = root;
    for (const token of path.slice(0, -1)) {
      if (Array.isArray(parent)) parent = parent[arrayIndex(parent, token, { forAdd: false })];
      else if (isObject(parent) && token in parent) parent = parent[token];
      else throw new Error(`${operation.op} ${operation.path}: ${token} does not exist`);
    }
    const last = path[path.length - 1]!;
    const value = structuredClone(operation.value);
    switch (operation.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, { forAdd: true }), 0, value);
        else if (isObject(parent)) parent[last] = value;
        else throw new Error(`add ${operation.path}: the parent is not a container`);
        break;
      case 'replace':
      case 'remove':
      case 'test': {
        let current: Json;
        if (Array.isArray(parent)) current = parent[arrayIndex(parent, last, { forAdd: false })];
        else if (isObject(parent) && last in parent) current = parent[last];
        else throw new Error(`${operation.op} ${operation.path}: the target does not exist`);
        if (operation.op === 'test') {
          if (JSON.stringify(current) !== JSON.stringify(value)) throw new Error(`test ${operation.path} failed`);
        } else if (Array.isArray(parent)) {
          const index = Number(last);
          if (operation.op === 'remove') parent.splice(index, 1);
          else parent[index] = value;
        } else if (isObject(parent)) {
          if (operation.op === 'remove') delete parent[last];
          else parent[last] = value;
        }
        break;
      }
      default:
        throw new Error(`unsupported op ${operation.op}`);
    }
  }
  return root as T;
}
