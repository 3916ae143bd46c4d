import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import request from 'supertest';

import { LeaseViewSchema, PostureReportSchema } from '@rotor/rest-contract';
import { createLogger } from '@rotor/telemetry';

import { createServiceApp } from './bootstrap';
import { Answers } from './openapi-contract';

@Controller('v1')
class DocumentedController {
  @Get('leases/:id')
  @Answers(200, LeaseViewSchema, 'the lease')
  lease(@Param('id') id: string) {
    return { leaseId: id };
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
    paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };

  beforeAll(async () => {
    app = await createServiceApp({
      module: DocumentedModule,
      service: 'documented',
      description: 'test',
      logger: createLogger({ service: 'documented', level: 'silent' }),
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

  it('carries only the components its routes reach', () => {
    expect(Object.keys(document.components.schemas).sort()).toEqual(['LeaseView', 'ProblemDetails']);
    expect(PostureReportSchema).toBeDefined(); // registered in the library, yet not in this document
  });
});
