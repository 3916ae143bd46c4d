// The Kubernetes client is ESM, which Jest's unit project does not load; building a document never calls it.
jest.mock('@kubernetes/client-node', () => ({}));

import type { INestApplication } from '@nestjs/common';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { schemaRef } from '@rotor/rest-contract';
import { ZodBodyPipe } from '@rotor/service-kit';

import { documentOf, routesOf, type Route } from '../support/documented-services';
import type { ServiceName } from '../support/service-process';

interface Operation {
  parameters?: ({ name: string; in: string; schema?: unknown } | { $ref: string })[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

const SERVICES: ServiceName[] = ['issuer', 'revoker', 'distributor', 'auditor'];

describe.each(SERVICES)('the %s OpenAPI document', (service) => {
  let app: INestApplication;
  let document: Document;
  let routes: Route[];
  const operation = (route: Route): Operation | undefined => document.paths[route.path]?.[route.method];
  /** `<method> <path>: <what is wrong>` for each route the check finds fault with. */
  const failing = (check: (route: Route, operation: Operation) => string | false) =>
    routes.flatMap((route) => {
      const found = operation(route);
      const fault = found ? check(route, found) : 'not in the document';
      return fault ? [`${route.method} ${route.path}: ${fault}`] : [];
    });

  beforeAll(async () => {
    routes = await routesOf(service);
    const built = await documentOf(service);
    app = built.app;
    document = built.document as unknown as Document;
  });
  afterAll(() => app?.close());

  it('is valid OpenAPI 3.1', () => {
    const result = JSON.parse(
      execFileSync(process.execPath, [join(__dirname, '..', 'support', 'validate-openapi.mjs')], {
        input: JSON.stringify(document),
      }).toString(),
    ) as unknown;
    expect(result).toEqual({ valid: true, version: '3.1' });
  });

  it('has one operation per route of the code, and no other', () => {
    expect(routes.length).toBeGreaterThan(0);
    const documented = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    expect(documented.sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
  });

  it('documents a 2xx answer with a schema for every route', () => {
    expect(
      failing((route, { responses }) => {
        const success = Object.entries(responses).filter(([status]) => /^2\d\d$/.test(status));
        const withSchema = success.filter(([, response]) => Object.values(response.content ?? {}).some((content) => content.schema));
        return withSchema.length === 0 && 'no 2xx answer with a schema';
      }),
    ).toEqual([]);
  });

  it('documents a request body wherever a handler takes one, by the schema its ZodBodyPipe validates with', () => {
    expect(
      failing((route, { requestBody }) => {
        const body = route.args.find((arg) => arg.type === RouteParamtypes.BODY);
        if (!body) return requestBody !== undefined && 'a request body its handler does not take';
        if (!requestBody) return 'takes a body that is not documented';
        if (!Object.values(requestBody.content).every((content) => '$ref' in Object(content.schema))) return 'a body not by reference';
        const pipe = body.pipes.find((candidate): candidate is ZodBodyPipe<never> => candidate instanceof ZodBodyPipe);
        const validated = pipe && schemaRef(pipe.schema).$ref;
        return (
          !!validated &&
          JSON.stringify(requestBody.content['application/json']?.schema) !== JSON.stringify({ $ref: validated }) &&
          `validates with ${validated}`
        );
      }),
    ).toEqual([]);
  });

  it('documents every path parameter, the traceparent header, and Idempotency-Key exactly where a handler reads it', () => {
    expect(
      failing((route, { parameters = [] }) => {
        const named = (place: string) =>
          parameters.flatMap((parameter) => ('in' in parameter && parameter.in === place ? [parameter.name] : [])).sort();
        const inPath = [...route.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
        if (JSON.stringify(named('path')) !== JSON.stringify(inPath)) return `path parameters ${named('path').join(',')}`;
        if (!parameters.some((parameter) => '$ref' in parameter && parameter.$ref === '#/components/parameters/traceparent'))
          return 'no traceparent';
        const readsKey = route.args.some((arg) => arg.type === RouteParamtypes.HEADERS && arg.data === 'idempotency-key');
        return readsKey !== named('header').includes('Idempotency-Key') && `reads Idempotency-Key: ${readsKey}, documents it: ${!readsKey}`;
      }),
    ).toEqual([]);
  });
});
