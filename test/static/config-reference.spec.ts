import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';

import {
  REGENERATE,
  renderConfigurationReference,
  serviceShapes,
  undescribedVariables,
} from '../../tools/config-reference/config-reference';

const root = join(__dirname, '..', '..');

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
    return /\.ts$/.test(entry.name) && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(entry.name) ? [path] : [];
  });

/** The variables the services and the CLI name: every ROTOR_… word, and every name read from an env by key. */
function variablesNamedInCode(): Set<string> {
  const names = new Set<string>();
  const texts = [...sources(join(root, 'apps')), ...sources(join(root, 'libs'))].map((file) => readFileSync(file, 'utf8'));
  // Constants such as ROTOR_LABELS are identifiers, not variables.
  const declared = new Set(
    texts.flatMap((text) => [...text.matchAll(/\b(?:const|let|var)\s+(ROTOR_[A-Z0-9_]+)/g)].map((match) => match[1]!)),
  );
  for (const text of texts) {
    for (const [name] of text.matchAll(/\bROTOR_[A-Z0-9_]*[A-Z0-9]\b/g)) if (!declared.has(name)) names.add(name);
    for (const match of text.matchAll(/\benv(?:\[['"]([A-Z][A-Z0-9_]+)['"]\]|\.([A-Z][A-Z0-9_]+)\b)/g)) names.add(match[1] ?? match[2]!);
  }
  // keyring.ts explains its three forms on a made-up ROTOR_X_KEY.
  for (const placeholder of ['ROTOR_X_KEY', 'ROTOR_X_KEYS', 'ROTOR_X_KEY_FILE']) names.delete(placeholder);
  return names;
}

describe('the configuration reference', () => {
  const current = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');

  it('docs/configuration.md is the rendering of the services’ env schemas', () => {
    if (current !== renderConfigurationReference())
      throw new Error(`docs/configuration.md is stale (a schema or tools/config-reference changed): regenerate it with ${REGENERATE}`);
  });

  it('every variable of every service says what it does', () => {
    expect(undescribedVariables()).toEqual([]);
  });

  it('a variable without a description is named', () => {
    const shapes = { ...serviceShapes, issuer: { ...serviceShapes.issuer, ROTOR_NEW_SETTING: z.string().optional() } };
    expect(undescribedVariables(shapes)).toEqual(['ROTOR_NEW_SETTING (issuer)']);
  });

  it('a variable described differently by two services cannot be rendered', () => {
    const shapes = { ...serviceShapes, auditor: { ...serviceShapes.auditor, LOG_LEVEL: z.string().describe('something else') } };
    expect(() => renderConfigurationReference(shapes)).toThrow(/LOG_LEVEL: auditor describes or validates it differently/);
  });

  it('every variable the services and the CLI read by name is in the reference', () => {
    const missing = [...variablesNamedInCode()].filter((name) => !new RegExp(`\\b${name}\\b`).test(current)).sort();
    expect(missing).toEqual([]);
  });
});
