import { Body, Controller, Get, Module, Param, Post, type INestApplication } from '@nestjs/common';
import request from 'supertest';
import { z } from 'zod';

import { IssueCredentialRequestSchema, LeaseIdSchema, LeaseViewSchema, PostureReportSchema } from '@rotor/rest-contract';
import { createLogger, Metrics } from '@rotor/telemetry';

import { createServiceApp } from './bootstrap';
import { Answers, Honours, PathFrom, QueryFrom, Takes } from './openapi-contract';

@Controller('v1')
class DocumentedController {
  @Get('leases/:id')
  @PathFrom({ id: LeaseIdSchema })
  @QueryFrom(z.object({ verbose: z.enum(['yes', 'no']).default('no'), at: z.iso.datetime() }))
  @Answers(200, LeaseViewSchema, 'the lease')
  lease(@Param('id') id: string) {
    return { leaseId: id };
  }

  @Post('credentials')
  @Takes(IssueCredentialRequestSchema, 'the role')
  @Honours('Idempotency-Key')
  @Answers(201, LeaseViewSchema, 'issued')
  issue(@Body() body: unknown) {
    return body;
  }

  @Get('unannotated')
  unannotated() {
    return {};
  }
}

@Module({ controllers: [DocumentedController] })
class DocumentedModule {}

describe('OpenAPI documents carry the rest-contract schemas', () => {
  let app: INestApplication;
  let document: {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: { name?: string; in?: string; required?: boolean; schema?: unknown; $ref?: string }[];
          requestBody?: { content: Record<string, { schema: unknown }> };
          responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
        }
      >
    >;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }>; parameters: Record<string, unknown> };
  };

  beforeAll(async () => {
    app = await createServiceApp({
      module: DocumentedModule,
      service: 'documented',
      description: 'test',
      logger: createLogger({ service: 'documented', level: 'silent' }),
      metrics: new Metrics('documented'),
    });
    await app.init();
    document = (await request(app.getHttpServer()).get('/docs/json')).body;
  });

  afterAll(() => app.close());

  it('is OpenAPI 3.1, a route answering its schema by reference, the component beside it', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.paths['/v1/leases/{id}']?.['get']?.responses['200']?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/LeaseView',
    });
    expect(Object.keys(document.components.schemas['LeaseView']?.properties ?? {})).toEqual(Object.keys(LeaseViewSchema.shape));
  });

  it('documents every /v1 error as problem+json', () => {
    for (const path of ['/v1/leases/{id}', '/v1/unannotated']) {
      expect(document.paths[path]?.['get']?.responses['default']?.content?.['application/problem+json']?.schema).toEqual({
        $ref: '#/components/schemas/ProblemDetails',
      });
    }
    expect(document.components.schemas['ProblemDetails']).toMatchObject({ required: ['type', 'title', 'status', 'code'] });
  });

  it('documents parameters and bodies from the zod schemas: required unless optional or defaulted, bodies by reference', () => {
    const parameters = (path: string, method: string) =>
      document.paths[path]?.[method]?.parameters?.map(({ name, in: place, required, $ref }) => $ref ?? `${place} ${name} ${required}`);
    expect(parameters('/v1/leases/{id}', 'get')).toEqual([
      'path id true',
      'query verbose false',
      'query at true',
      '#/components/parameters/traceparent',
    ]);
    expect(document.paths['/v1/leases/{id}']?.['get']?.parameters?.[0]?.schema).toMatchObject({ type: 'string', format: 'uuid' });
    expect(parameters('/v1/credentials', 'post')).toEqual(['header Idempotency-Key false', '#/components/parameters/traceparent']);
    expect(document.paths['/v1/credentials']?.['post']?.requestBody?.content['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/IssueCredentialRequest',
    });
    expect(document.components.parameters['traceparent']).toMatchObject({ in: 'header', required: false });
  });

  it('carries only the components its routes reach', () => {
    expect(Object.keys(document.components.schemas).sort()).toEqual(['IssueCredentialRequest', 'LeaseView', 'ProblemDetails']);
    expect(PostureReportSchema).toBeDefined(); // registered in the library, yet not in this document
  });
});
