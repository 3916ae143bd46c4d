/** Writes docs/configuration.md from the services' env schemas (`--check`: exit 1 if it differs). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { REGENERATE, renderConfigurationReference } from './config-reference';

const path = join(__dirname, '..', '..', 'docs', 'configuration.md');
const rendered = renderConfigurationReference();
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== rendered) {
    console.error(`docs/configuration.md is out of date: ${REGENERATE}`);
    process.exit(1);
  }
} else {
  writeFileSync(path, rendered);
}
