/**
 * Readers of an event's data as the audit projection sees it: untyped JSON that may lack any
 * field, read without throwing (an unexpected shape projects nothing rather than failing).
 */

export const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
/** Like {@link str}, but an empty string counts as absent. */
export const nonEmptyStr = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
export const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
/** An ISO time as epoch ms. */
export const ms = (iso: unknown): number | undefined =>
  typeof iso === 'string' && !Number.isNaN(Date.parse(iso)) ? Date.parse(iso) : undefined;
export const obj = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
