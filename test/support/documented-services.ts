import { Module, RequestMethod, type INestApplication, type Type } from '@nestjs/common';
import {
  GUARDS_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  PIPES_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import type { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';

import { createServiceApp } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import type { ServiceName } from './service-process';

const ROOT = join(__dirname, '..', '..');

/** Every controller class a service defines (`apps/<service>/src/**\/*.controller.ts`), found by Nest's own marker. */
export async function controllersOf(service: ServiceName): Promise<Type[]> {
  const source = join(ROOT, 'apps', service, 'src');
  const files = readdirSync(source, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.controller.ts'));
  const modules = await Promise.all(files.map((file) => import(join(source, file)) as Promise<Record<string, unknown>>));
  return modules.flatMap((exported) =>
    Object.values(exported).filter(
      (value): value is Type => typeof value === 'function' && Reflect.getMetadata(PATH_METADATA, value) !== undefined,
    ),
  );
}

/** The tokens a class's constructor injects: its parameter types, overridden by `@Inject(token)`. */
const injectedTokens = (type: Type): unknown[] => {
  const tokens: unknown[] = [...((Reflect.getMetadata('design:paramtypes', type) as unknown[] | undefined) ?? [])];
  for (const { index, param } of (Reflect.getMetadata('self:paramtypes', type) as { index: number; param: unknown }[] | undefined) ?? [])
    tokens[index] = param;
  return tokens;
};

/** The guards, pipes and interceptors a controller names, on the class and on its handlers; Nest builds them with it. */
const enhancersOf = (controller: Type): Type[] => {
  const targets = [controller, ...Object.getOwnPropertyNames(controller.prototype).map((key) => controller.prototype[key] as object)];
  return targets.flatMap((target) =>
    [GUARDS_METADATA, PIPES_METADATA, INTERCEPTORS_METADATA].flatMap(
      (key) => ((Reflect.getMetadata(key, target) as unknown[] | undefined) ?? []).filter((value) => typeof value === 'function') as Type[],
    ),
  );
};

/**
 * A controller's routes without its constructor (some do work there: the auditor's derives a key):
 * a class with the same name, prototype and metadata, and no dependencies. What Nest and its
 * OpenAPI scanner read is the metadata, so the document is the one the service serves.
 */
const shellOf = (controller: Type): Type => {
  const shell = { [controller.name]: function () {} }[controller.name] as unknown as Type;
  shell.prototype = controller.prototype;
  for (const key of Reflect.getMetadataKeys(controller) as unknown[]) {
    if (key !== 'design:paramtypes' && key !== 'self:paramtypes') Reflect.defineMetadata(key, Reflect.getMetadata(key, controller), shell);
  }
  return shell;
};

/**
 * A service's routes without the service: its controllers as shells, the dependencies of their
 * guards empty stand-ins. Enough for Nest to build the OpenAPI document the service serves
 * (createServiceApp, as in production); nothing here answers a request.
 */
export async function documentOf(service: ServiceName): Promise<{ app: INestApplication; document: Record<string, unknown> }> {
  const controllers = (await controllersOf(service)).map(shellOf);
  const tokens = new Set(controllers.flatMap(enhancersOf).flatMap(injectedTokens));
  @Module({ controllers, providers: [...tokens].map((token) => ({ provide: token as string, useValue: {} })) })
  class DocumentedService {}
  const app = await createServiceApp({
    module: DocumentedService,
    service,
    description: `rotor ${service}`,
    logger: createLogger({ service, level: 'silent' }),
    // A shell module has no ServiceKitModule, hence no /metrics: this registry is never read.
    metrics: new Metrics(service),
  });
  await app.init();
  const document = (await request(app.getHttpServer()).get('/docs/json').expect(200)).body as Record<string, unknown>;
  return { app, document };
}

export interface Route {
  controller: Type;
  handler: string;
  /** Lower case, as OpenAPI names operations. */
  method: string;
  /** As OpenAPI writes it: `/v1/leases/{id}`. */
  path: string;
  /** The handler's arguments, as Nest's parameter decorators recorded them. */
  args: { type: RouteParamtypes; data?: unknown; pipes: unknown[] }[];
}

/** Every route a service's controllers declare, read from the code's own decorators. */
export async function routesOf(service: ServiceName): Promise<Route[]> {
  return (await controllersOf(service)).flatMap((controller) =>
    Object.getOwnPropertyNames(controller.prototype).flatMap((handler): Route[] => {
      const target = controller.prototype[handler] as object;
      const method = Reflect.getMetadata(METHOD_METADATA, target) as RequestMethod | undefined;
      if (handler === 'constructor' || method === undefined) return [];
      const path = ['', Reflect.getMetadata(PATH_METADATA, controller), Reflect.getMetadata(PATH_METADATA, target)]
        .join('/')
        .replace(/\/+/g, '/')
        .replace(/\/$/, '')
        .replace(/:(\w+)/g, '{$1}');
      const recorded = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<
        string,
        { data?: unknown; pipes: unknown[] }
      >;
      const args = Object.entries(recorded).map(([key, arg]) => ({ ...arg, type: Number(key.split(':')[0]) }));
      return [{ controller, handler, method: RequestMethod[method].toLowerCase(), path, args }];
    }),
  );
}
