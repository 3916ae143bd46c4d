/** Tables for people, JSON for scripts. */
export interface Output {
  json: boolean;
}

export function printResult(output: Output, value: unknown, table?: { columns: string[]; rows: (string | number | undefined)[][] }): void {
  if (output.json || !table) {
    process.stdout.write(`${JSON.stringify(value, null, output.json ? 0 : 2)}\n`);
    return;
  }
  process.stdout.write(renderTable(table.columns, table.rows));
}

export function renderTable(columns: string[], rows: (string | number | undefined)[][]): string {
  const cells = rows.map((row) => row.map((cell) => (cell === undefined ? '' : String(cell))));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((row) => row[index]?.length ?? 0)));
  const line = (row: string[]) =>
    `${row
      .map((cell, index) => cell.padEnd(widths[index]!))
      .join('  ')
      .trimEnd()}\n`;
  return line(columns.map((column) => column.toUpperCase())) + cells.map(line).join('') + (rows.length === 0 ? '(none)\n' : '');
}
