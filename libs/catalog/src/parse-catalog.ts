import { LineCounter, parseDocument, isNode } from 'yaml';

import { CatalogSchema, type Catalog } from './catalog.schema';
import { isInsideRoots } from './target-rules';

export class CatalogError extends Error {
  readonly code = 'invalid-catalog';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid catalog ${file}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

export interface CatalogOptions {
  /**
   * Directories file targets may be written under (the distributor's ROTOR_FILE_TARGET_ROOTS);
   * when given, a file target outside them is refused. Services that write no files omit it.
   */
  fileTargetRoots?: readonly string[];
}

/** Parses and validates catalog YAML. Every problem names its line and field: `line 12: roles[0].ttl: …`. */
export function parseCatalog(text: string, file = 'catalog', options: CatalogOptions = {}): Catalog {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length) {
    throw new CatalogError(
      file,
      document.errors.map((error) => `line ${lineCounter.linePos(error.pos[0]).line}: ${error.message.split('\n')[0]}`),
    );
  }
  const problem = (path: (string | number)[], message: string) => {
    const field = path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index ? '.' : ''}${part}`)).join('') || '(root)';
    return `line ${lineOf(document, lineCounter, path)}: ${field}: ${message}`;
  };
  const result = CatalogSchema.safeParse(document.toJS() ?? {});
  if (!result.success)
    throw new CatalogError(
      file,
      result.error.issues.map((issue) => problem(issue.path as (string | number)[], issue.message)),
    );
  if (options.fileTargetRoots) {
    const outside = fileTargetsOutside(result.data, options.fileTargetRoots);
    if (outside.length)
      throw new CatalogError(
        file,
        outside.map(({ path, message }) => problem(path, message)),
      );
  }
  return result.data;
}

function fileTargetsOutside(catalog: Catalog, roots: readonly string[]): { path: (string | number)[]; message: string }[] {
  const where = roots.length ? roots.join(', ') : 'none: set ROTOR_FILE_TARGET_ROOTS';
  return catalog.managedSecrets.flatMap((secret, secretIndex) =>
    secret.targets.flatMap((target, targetIndex) =>
      target.kind === 'file' && !isInsideRoots(target.path, roots)
        ? [
            {
              path: ['managedSecrets', secretIndex, 'targets', targetIndex, 'path'],
              message: `is outside the file target roots (${where})`,
            },
          ]
        : [],
    ),
  );
}

/** The line of the deepest node on `path` that exists in the document (the parent when a field is missing). */
function lineOf(document: ReturnType<typeof parseDocument>, lineCounter: LineCounter, path: (string | number)[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = document.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}
