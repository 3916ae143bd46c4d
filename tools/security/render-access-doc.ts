/** Writes docs/access-policy.md from the access table (`--check`: exit 1 if it differs). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { renderAccessPolicyDoc } from './access-policy-doc';

const path = join(__dirname, '..', '..', 'docs', 'access-policy.md');
const rendered = renderAccessPolicyDoc();
if (process.argv.includes('--check')) {
  const current = readFileSync(path, 'utf8');
  if (current !== rendered) {
    console.error('docs/access-policy.md is out of date: npm run -s security:doc');
    process.exit(1);
  }
} else {
  writeFileSync(path, rendered);
}
