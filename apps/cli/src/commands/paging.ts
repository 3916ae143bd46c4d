import { InvalidArgumentError } from 'commander';

import type { CliContext } from '../context';
import { printResult, type Table } from '../output';

/** The list flags every paged route takes: a state to filter on, a page size, the previous page's `next`. */
export interface PageFlags {
  state?: string | undefined;
  limit?: number | undefined;
  after?: string | undefined;
}

/** `--limit`'s parser: a whole number from 1 to `max`. */
export const pageLimit =
  (max: number) =>
  (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidArgumentError(`a whole number from 1 to ${max}`);
    return value;
  };

/** Prints a page, and for people, how to ask for the next one. */
export function printPage(context: CliContext, page: { next?: string | undefined }, table: Table): void {
  printResult(context, page, table);
  if (!context.json && page.next) process.stderr.write(`more: the same command with --after ${page.next}\n`);
}
