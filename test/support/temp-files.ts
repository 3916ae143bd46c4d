import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes a catalog to a fresh temporary directory and returns its path, for ROTOR_CATALOG. */
export function writeTempCatalog(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rotor-catalog-')), 'catalog.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Fails fast when a port is taken: ServiceProcess.ready() would otherwise accept whatever answers there. */
export const ensurePortFree = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) =>
      reject(new Error(`port ${port} is already in use (${error.message}): is another suite or a benchmark running?`)),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
