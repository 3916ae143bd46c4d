import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiHeader, ApiParam, ApiQuery, ApiResponse, type OpenAPIObject } from '@nestjs/swagger';
import { z } from 'zod';

import { IdempotencyKeySchema, ProblemDetailsSchema, referencedComponents, schemaRef } from '@rotor/rest-contract';

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12, what a client sends (`io: 'input'`), without its dialect line. */
const jsonSchemaOf = (schema: z.ZodType): JsonSchema => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** Whether a client may leave the value out: the schema accepts its absence (optional, or with a default). */
const isOptional = (schema: z.ZodType): boolean => schema.safeParse(undefined).success;

/**
 * Documents a route's JSON answer with its rest-contract schema: the OpenAPI document refers to
 * the schema's component, which is the same zod schema the CLI, the tests and the contract
 * specs use. `alsoAs` adds the other media types the route can answer with (`text/html`).
 * The route's behaviour does not depend on it.
 */
export const Answers = (status: number, schema: z.ZodType, description: string, alsoAs: Record<string, JsonSchema> = {}): MethodDecorator =>
  ApiResponse({
    status,
    description,
    content: {
      'application/json': { schema: schemaRef(schema) },
      ...Object.fromEntries(Object.entries(alsoAs).map(([mediaType, other]) => [mediaType, { schema: other }])),
    },
  });

/**
 * Documents a route's request body with the rest-contract schema its handler validates it with
 * (`new ZodBodyPipe(schema)`, the very same object), by reference. JSON unless `mediaTypes` say more.
 */
export const Takes = (schema: z.ZodType, description: string, ...mediaTypes: string[]): MethodDecorator =>
  applyDecorators(
    ...(mediaTypes.length > 0 ? [ApiConsumes(...mediaTypes)] : []),
    ApiBody({ description, required: true, schema: schemaRef(schema) }),
  );

/** Documents path parameters with the zod schema each is checked with, e.g. `{ id: LeaseIdSchema }`. */
export const PathFrom = (shape: Record<string, z.ZodType>): MethodDecorator =>
  applyDecorators(...Object.entries(shape).map(([name, schema]) => ApiParam({ name, required: true, schema: jsonSchemaOf(schema) })));

/** Documents query parameters with the zod object the handler parses the query with; each field is one parameter. */
export const QueryFrom = (query: z.ZodObject): MethodDecorator =>
  applyDecorators(
    ...Object.entries(query.shape as Record<string, z.ZodType>).map(([name, schema]) =>
      ApiQuery({ name, required: !isOptional(schema), schema: jsonSchemaOf(schema) }),
    ),
  );

/** The request headers a route may honour beyond `traceparent` (which every /v1 route documents). */
const HONOURED_HEADERS = {
  'Idempotency-Key': {
    schema: IdempotencyKeySchema,
    description: 'A retry with the same key (same caller) gets the first answer instead of acting a second time.',
  },
} as const;

/** Documents an optional request header the handler honours, checked with the schema named for it here. */
export const Honours = (header: keyof typeof HONOURED_HEADERS): MethodDecorator => {
  const { schema, description } = HONOURED_HEADERS[header];
  return ApiHeader({ name: header, required: false, description, schema: jsonSchemaOf(schema) });
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** W3C Trace Context, accepted on every /v1 route; events a request causes continue its trace. */
const TRACEPARENT = {
  name: 'traceparent',
  in: 'header',
  required: false,
  description: 'W3C Trace Context (optional): the events this request publishes (a lease issued, renewed, revoked) continue its trace.',
  schema: { type: 'string', pattern: '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' },
} as const;

/**
 * Completes a service's OpenAPI document: OpenAPI 3.1 (its schemas are JSON Schema 2020-12, as
 * zod writes them); every /v1 operation takes `traceparent` and answers errors as RFC 7807
 * problem+json; and the components its `$ref`s reach, from rest-contract.
 */
export function withRestContract(document: OpenAPIObject): OpenAPIObject {
  const problem = {
    description: 'RFC 7807 problem details (invalid input, missing group, unknown resource, a dependency down…); codes in docs/problems.md',
    content: { 'application/problem+json': { schema: schemaRef(ProblemDetailsSchema) } },
  };
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      if (!operation.responses['default']) operation.responses['default'] = problem;
      const parameters = operation.parameters ?? [];
      if (!parameters.some((parameter) => '$ref' in parameter && parameter.$ref === '#/components/parameters/traceparent'))
        operation.parameters = [...parameters, { $ref: '#/components/parameters/traceparent' }];
    }
  }
  const schemas = { ...document.components?.schemas, ...referencedComponents(document) } as NonNullable<
    OpenAPIObject['components']
  >['schemas'];
  const parameters = { ...document.components?.parameters, traceparent: { ...TRACEPARENT } };
  return { ...document, openapi: '3.1.0', components: { ...document.components, schemas, parameters } };
}
