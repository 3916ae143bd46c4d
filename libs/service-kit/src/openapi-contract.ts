import { ApiResponse, type OpenAPIObject } from '@nestjs/swagger';
import type { z } from 'zod';

import { ProblemDetailsSchema, referencedComponents, schemaRef } from '@rotor/rest-contract';

/**
 * Documents a route's JSON answer with its rest-contract schema: the OpenAPI document refers to
 * the schema's component, which is the same zod schema the CLI, the tests and the contract
 * specs use. The route's behaviour does not depend on it.
 */
export const Answers = (status: number, schema: z.ZodType, description: string): MethodDecorator =>
  ApiResponse({ status, description, schema: schemaRef(schema) });

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/**
 * Completes a service's OpenAPI document: OpenAPI 3.1 (its schemas are JSON Schema 2020-12, as
 * zod writes them); every /v1 operation answers errors as RFC 7807 problem+json; and the
 * components its `$ref`s reach, from rest-contract.
 */
export function withRestContract(document: OpenAPIObject): OpenAPIObject {
  const problem = {
    description: 'RFC 7807 problem details (invalid input, missing group, unknown resource, a dependency down…)',
    content: { 'application/problem+json': { schema: schemaRef(ProblemDetailsSchema) } },
  };
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (operation && !operation.responses['default']) operation.responses['default'] = problem;
    }
  }
  const schemas = { ...document.components?.schemas, ...referencedComponents(document) } as NonNullable<
    OpenAPIObject['components']
  >['schemas'];
  return { ...document, openapi: '3.1.0', components: { ...document.components, schemas } };
}
