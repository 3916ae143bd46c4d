import { readFileSync } from 'node:fs';

import { parseCatalog, type Catalog, type CatalogOptions } from '@rotor/catalog';

/** Reads the catalog file (ROTOR_CATALOG) and parses it; a problem names the file, the line and the field. */
export function loadCatalog(file: string, options: CatalogOptions = {}): Catalog {
  return parseCatalog(readFileSync(file, 'utf8'), file, options);
}
