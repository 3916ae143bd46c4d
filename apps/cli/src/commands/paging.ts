import { InvalidArgumentError } from 'commander';

import type { CliContext } from '../context';
import { request } from '../http-client';
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

/** One page of a list route, asked for with the query parameters whose flags were given. */
export async function fetchPage<P extends { next?: string | undefined }>(
  context: CliContext,
  url: string,
  query: Record<string, string | number | undefined>,
  groups: string[],
): Promise<P> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) search.set(name, String(value));
  return request<P>(`${url}?${search.toString()}`, { token: await context.token(groups) });
}

/** Prints a page, and for people, how to ask for the next one. */
export function printPage(context: CliContext, page: { next?: string | undefined }, table: Table): void {
  printResult(context, page, table);
  if (!context.json && page.next) process.stderr.write(`more: the same command with --after ${page.next}\n`);
}
