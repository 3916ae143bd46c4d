// Writes libs/contracts/json-schema/<topic>.json; the contracts spec fails when they are stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { jsonSchemas } from '@rotor/contracts';

const outDir = join(__dirname, '..', 'libs', 'contracts', 'json-schema');
mkdirSync(outDir, { recursive: true });
for (const [topic, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(join(outDir, `${topic}.json`), `${JSON.stringify(schema, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(jsonSchemas()).length} schemas to ${outDir}`);
