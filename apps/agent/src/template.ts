/**
 * The agent's template language, kept small on purpose: literal text and `{{field}}`
 * substitutions, each with at most one filter (`url`: percent-encoded for a URL part; `json`: a
 * JSON string literal). No expressions, no loops, no calls, no lookups beyond the credential's
 * own fields: a template can only place values, never run anything. A field the credential lacks
 * is an error (naming the field), not an empty string.
 */

export const BUILT_IN_SHAPES = ['raw', 'env', 'json', 'postgres-url', 'redis-url'] as const;
export type BuiltInShape = (typeof BUILT_IN_SHAPES)[number];

export type Filter = 'url' | 'json';
export type Segment = { text: string } | { field: string; filter?: Filter };

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

const PLACEHOLDER = /^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*(?:\|\s*([a-z]+)\s*)?$/;

export function parseTemplate(text: string): Segment[] {
  const segments: Segment[] = [];
  let rest = text;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      segments.push({ text: rest });
      break;
    }
    if (open > 0) segments.push({ text: rest.slice(0, open) });
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError('template: a "{{" is never closed by "}}"');
    const inner = rest.slice(open + 2, close);
    const match = PLACEHOLDER.exec(inner);
    if (!match) throw new TemplateError(`template: "{{${inner.slice(0, 40)}}}" is not a field name with an optional "| url" or "| json"`);
    const [, field, filter] = match;
    if (filter !== undefined && filter !== 'url' && filter !== 'json')
      throw new TemplateError(`template: unknown filter "${filter}" (url, json)`);
    segments.push({ field: field!, ...(filter ? { filter } : {}) });
    rest = rest.slice(close + 2);
  }
  return segments;
}

export function renderSegments(segments: Segment[], fields: Readonly<Record<string, string>>): string {
  return segments
    .map((segment) => {
      if ('text' in segment) return segment.text;
      // Own properties only: `{{constructor}}` or `{{__proto__}}` find nothing.
      if (!Object.prototype.hasOwnProperty.call(fields, segment.field))
        throw new TemplateError(
          `template: the credential has no field "${segment.field}" (it has: ${Object.keys(fields).sort().join(', ')})`,
        );
      const value = fields[segment.field]!;
      if (segment.filter === 'url') return encodeURIComponent(value);
      if (segment.filter === 'json') return JSON.stringify(value);
      return value;
    })
    .join('');
}

export const renderTemplate = (text: string, fields: Readonly<Record<string, string>>): string =>
  renderSegments(parseTemplate(text), fields);

const POSTGRES_URL = parseTemplate('postgres://{{username | url}}:{{password | url}}@{{host | url}}:{{port | url}}/{{database | url}}');
// rotor's redis-acl Redis speaks TLS only, hence rediss.
const REDIS_URL = parseTemplate('rediss://{{username | url}}:{{password | url}}@{{host | url}}:{{port | url}}');

/** The variable name of a field in a .env file: upper case, letters, digits and underscores. */
const envName = (field: string): string => field.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
/** Double-quoted, with what a shell or a dotenv reader would interpret escaped. */
const envValue = (value: string): string => `"${value.replace(/[\\"$`]/g, (char) => `\\${char}`).replace(/\n/g, '\\n')}"`;

export interface RenderRequest {
  fields: Readonly<Record<string, string>>;
  shape?: BuiltInShape;
  templateText?: string;
  /** For `raw`: the field that is the content. */
  field?: string;
}

/** The file's content: a built-in shape, or the configured template text. */
export function render({ fields, shape, templateText, field }: RenderRequest): string {
  if (templateText !== undefined) return renderTemplate(templateText, fields);
  const names = Object.keys(fields).sort();
  switch (shape ?? 'json') {
    case 'raw': {
      const chosen = field ?? (names.length === 1 ? names[0] : ['value', 'token', 'password'].find((name) => names.includes(name)));
      if (chosen === undefined) throw new TemplateError(`template raw: name the field to write (it has: ${names.join(', ')})`);
      return renderSegments([{ field: chosen }], fields);
    }
    case 'env':
      return names.map((name) => `${envName(name)}=${envValue(fields[name]!)}\n`).join('');
    case 'json':
      return `${JSON.stringify(Object.fromEntries(names.map((name) => [name, fields[name]])), null, 2)}\n`;
    case 'postgres-url':
      return renderSegments(POSTGRES_URL, fields);
    case 'redis-url':
      return renderSegments(REDIS_URL, fields);
  }
}
