import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '../../apps/revoker/src');

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );

describe('the revoker emergency feature depends on the basic paths, never the reverse', () => {
  it('no file outside emergency/ imports from it, except the module that wires the feature in', () => {
    const offenders = sources(root)
      .map((file) => relative(root, file))
      .filter((file) => !file.startsWith('emergency/') && file !== 'revoker.module.ts')
      .filter((file) => /from '(\.\.?\/)+emergency\//.test(readFileSync(join(root, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
