import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Command } from 'commander';

import { buildProgram } from '../../apps/cli/src/program';

const ROOT = join(__dirname, '..', '..');

/** Words of a shell command up to its first pipe, redirection or end of a substitution; quotes kept together. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const [, double, single, bare] of line.matchAll(/"([^"]*)"|'([^']*)'|([^\s"']+)/g)) {
    const word = double ?? single ?? bare!;
    if (bare !== undefined && /^(\||>|2>|>>|;|&&|\)|#)/.test(bare)) break;
    words.push(bare !== undefined ? word.replace(/\)$/, '') : word);
    if (bare?.endsWith(')')) break;
  }
  return words;
}

/** `rotor …` command lines: in the docs' code blocks (continuations joined), and in every command's help examples. */
function documentedCommandLines(): { where: string; argv: string[] }[] {
  const lines: { where: string; argv: string[] }[] = [];
  const take = (where: string, text: string) => {
    // rotor starting the line, after `$(`, `<(` or a pipe, or as `npm run rotor --`; then a command (a lower-case word) or a flag.
    const at = /(?:^|\$\(|<\(|\|\s*|npm run )rotor(?: --)?\s+(?=[a-z-])/.exec(text);
    if (!at || text.includes('…')) return; // an ellipsis stands for flags shown elsewhere
    lines.push({ where, argv: shellWords(text.slice(at.index + at[0].length)) });
  };
  const docs = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.md'))
      .map((file) => join('docs', file)),
  ];
  for (const file of docs) {
    // Shell blocks (```sh, ```bash, ```console or none); a ```text block may show a mistake on purpose.
    let fence: string | undefined;
    let block: string[] = [];
    for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
      const opening = /^\s*```(\w*)\s*$/.exec(line);
      if (fence === undefined && opening) {
        fence = opening[1]!;
        block = [];
      } else if (fence !== undefined && /^\s*```\s*$/.test(line)) {
        if (['', 'sh', 'bash', 'console', 'shell'].includes(fence))
          block
            .join('\n')
            .replace(/\\\n\s*/g, ' ')
            .split('\n')
            .forEach((text) => take(file, text.trim().replace(/^\$ /, '')));
        fence = undefined;
      } else if (fence !== undefined) block.push(line);
    }
  }
  const visit = (command: Command) => {
    // The help as `--help` prints it, the texts added after it (the examples) included.
    let help = '';
    command.configureOutput({ writeOut: (text) => (help += text) });
    command.outputHelp();
    for (const line of help.split('\n').filter((text) => text.trim().startsWith('$ ')))
      take(`rotor ${command.name()} --help`, line.trim().slice(2));
    command.commands.forEach(visit);
  };
  visit(buildProgram());
  return lines;
}

/** The program with every action replaced by nothing: parsing checks commands, flags, choices and arguments only. */
function parsingOnly(): Command {
  const program = buildProgram();
  const silence = (command: Command) => {
    command.action(() => undefined);
    command.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    command.commands.forEach(silence);
  };
  silence(program);
  return program;
}

describe('rotor command lines in the docs and the help', () => {
  const lines = documentedCommandLines();

  it('finds them (the runbooks, operators.md, cli.md, the examples of every command)', () => {
    expect(lines.length).toBeGreaterThan(70);
    expect(lines.some((line) => line.where.startsWith(join('docs', 'runbooks')))).toBe(true);
    expect(lines.some((line) => line.where.endsWith('--help'))).toBe(true);
  });

  it('each one is a command rotor accepts, with flags that command takes', async () => {
    const refused: string[] = [];
    for (const { where, argv } of lines) {
      try {
        await parsingOnly().parseAsync(argv, { from: 'user' });
      } catch (error) {
        refused.push(`${where}: rotor ${argv.join(' ')}: ${(error as Error).message}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it('would notice a line that is not', async () => {
    await expect(parsingOnly().parseAsync(['leases', 'list', '--namepsace', 'x'], { from: 'user' })).rejects.toThrow(/unknown option/);
    expect(shellWords(`emergency rotate --selector all --reason "a b" --yes | jq .id`)).toEqual([
      'emergency',
      'rotate',
      '--selector',
      'all',
      '--reason',
      'a b',
      '--yes',
    ]);
  });
});
