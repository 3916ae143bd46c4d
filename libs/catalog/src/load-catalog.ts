import { readFileSync } from 'node:fs';

import { LineCounter, parseDocument, isNode } from 'yaml';

import { CatalogSchema, type Catalog } from './catalog.schema';

export class CatalogError extends Error {
  readonly code = 'invalid-catalog';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid catalog ${file}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

/** Parses and validates catalog YAML. Every problem names its line and field: `line 12: roles[0].ttl: …`. */
export function parseCatalog(text: string, file = 'catalog'): Catalog {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length) {
    throw new CatalogError(
      file,
      document.errors.map((error) => `line ${lineCounter.linePos(error.pos[0]).line}: ${error.message.split('\n')[0]}`),
    );
  }
  const result = CatalogSchema.safeParse(document.toJS() ?? {});
  if (result.success) return result.data;
  throw new CatalogError(
    file,
    result.error.issues.map((issue) => {
      const path = issue.path as (string | number)[];
      const field = path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index ? '.' : ''}${part}`)).join('') || '(root)';
      return `line ${lineOf(document, lineCounter, path)}: ${field}: ${issue.message}`;
    }),
  );
}

export function loadCatalog(file: string): Catalog {
  return parseCatalog(readFileSync(file, 'utf8'), file);
}

/** The line of the deepest node on `path` that exists in the document (the parent when a field is missing). */
function lineOf(document: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: (string | number)[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}
