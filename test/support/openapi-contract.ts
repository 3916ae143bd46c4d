import { createRequire } from 'node:module';
import { join } from 'node:path';

import type { ErrorObject, ValidateFunction } from 'ajv';

type Json = Record<string, unknown>;

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: Json }> }>;
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

// ajv 8 with its 2020-12 dialect, as the OpenAPI validator we depend on ships it (the top-level
// `ajv` is v6, which knows no 2020-12); not a dependency of our own.
const fromValidator = createRequire(join(__dirname, '..', '..', 'node_modules', '@seriousme', 'openapi-schema-validator', 'index.js'));
const Ajv2020 = (fromValidator('ajv/dist/2020') as { default: new (options: Json) => AjvInstance }).default;
const addFormats = (fromValidator('ajv-formats') as { default: (ajv: AjvInstance) => void }).default;
interface AjvInstance {
  compile(schema: Json): ValidateFunction;
  errorsText(errors: ErrorObject[] | null | undefined): string;
}

/**
 * Closes every object schema that does not say what else it allows (`unevaluatedProperties:
 * false`): the documents leave objects open so clients tolerate fields added later, but a
 * service must not send a field its own document does not name.
 */
const closed = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(closed);
  if (node === null || typeof node !== 'object') return node;
  const schema = Object.fromEntries<unknown>(Object.entries(node).map(([key, value]) => [key, closed(value)]));
  const isObject = schema['type'] === 'object' || schema['properties'] !== undefined;
  return isObject && schema['additionalProperties'] === undefined && schema['unevaluatedProperties'] === undefined
    ? { ...schema, unevaluatedProperties: false }
    : schema;
};

/**
 * Checks real answers against the schema a service's own served document gives for that
 * path, method, status and media type (`$ref`s resolved in its components), and counts which
 * documented operations were exercised.
 */
export class OpenApiContract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  readonly exercised = new Set<string>();

  constructor(
    readonly service: string,
    readonly document: OpenApiDocument,
  ) {
    addFormats(this.ajv);
  }

  /** Every documented operation, `<method> <path>`. */
  get operations(): string[] {
    return Object.entries(this.document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
  }

  /**
   * What is wrong with an answer, by the document: `[]` when it matches. The status falls back
   * to `default`, as OpenAPI says; the media type is the answer's own, without parameters.
   */
  violations(answer: { method: string; path: string; status: number; contentType: string; body: unknown }): string[] {
    const operation = `${answer.method} ${answer.path}`;
    const responses = this.document.paths[answer.path]?.[answer.method]?.responses;
    if (!responses) return [`${operation} is not in the ${this.service} document`];
    this.exercised.add(operation);
    const documented = responses[String(answer.status)] ?? responses['default'];
    if (!documented) return [`${operation} answered ${answer.status}, which is not documented`];
    const mediaType = answer.contentType.split(';')[0]!.trim();
    const content = documented.content?.[mediaType];
    if (!content)
      return [`${operation} ${answer.status} answered ${mediaType}, documented: ${Object.keys(documented.content ?? {}).join(', ')}`];
    const key = `${operation} ${answer.status} ${mediaType}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(closed({ ...content.schema, components: this.document.components }) as Json);
      this.compiled.set(key, validate);
    }
    return validate(answer.body) ? [] : [`${key}: ${this.ajv.errorsText(validate.errors)}`];
  }
}
