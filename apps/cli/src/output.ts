import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Tables for people; JSON or YAML for scripts (`--output`, `--json`). */
export interface Output {
  output: OutputFormat;
  /** JSON or YAML: no tables, no notes on stderr that a script would have to filter out. */
  json: boolean;
  /** Colour only on a terminal, and never with NO_COLOR or --no-color. */
  color: boolean;
}

export interface Table {
  columns: string[];
  rows: (string | number | undefined)[][];
}

/** One value in the chosen format; a table when one is given and people read it. */
export function printResult(output: Output, value: unknown, table?: Table): void {
  if (output.output === 'yaml') process.stdout.write(stringify(value, { lineWidth: 0 }));
  else if (output.output === 'json' || !table) process.stdout.write(`${JSON.stringify(value, null, output.json ? 0 : 2)}\n`);
  else process.stdout.write(renderTable(table.columns, table.rows, output.color));
}

/** One record of a stream (`audit tail`, `audit replay --out -`): a JSON line, or a YAML document. */
export function formatRecord(output: Output, value: unknown): string {
  return output.output === 'yaml' ? `---\n${stringify(value, { lineWidth: 0 })}` : `${JSON.stringify(value)}\n`;
}

const BOLD = (text: string) => `\x1b[1m${text}\x1b[22m`;

export function renderTable(columns: string[], rows: (string | number | undefined)[][], color = false): string {
  const cells = rows.map((row) => row.map((cell) => (cell === undefined ? '' : String(cell))));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((row) => row[index]?.length ?? 0)));
  const line = (row: string[], style: (text: string) => string = (text) => text) =>
    `${style(
      row
        .map((cell, index) => cell.padEnd(widths[index]!))
        .join('  ')
        .trimEnd(),
    )}\n`;
  return (
    line(
      columns.map((column) => column.toUpperCase()),
      color ? BOLD : undefined,
    ) +
    cells.map((row) => line(row)).join('') +
    (rows.length === 0 ? '(none)\n' : '')
  );
}

/** Whether to colour what goes to `stream`: a terminal, unless NO_COLOR (https://no-color.org) or --no-color says not to. */
export function wantsColor(stream: { isTTY?: boolean }, flag: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag === false || env['NO_COLOR']) return false;
  if (env['FORCE_COLOR'] && env['FORCE_COLOR'] !== '0') return true;
  return Boolean(stream.isTTY);
}
