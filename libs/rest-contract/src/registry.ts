import { z } from 'zod';

/**
 * Every REST body with a name: the name is its OpenAPI component (`#/components/schemas/<id>`).
 * A schema registered here is referenced, not inlined, wherever another one uses it.
 */
export const RestSchemas = z.registry<{ id: string; description?: string }>();

/** Registers a schema under its component name and returns it, so a definition reads `export const X = named('X', …)`. */
export const named = <S extends z.ZodType>(id: string, schema: S, description?: string): S => {
  RestSchemas.add(schema, { id, ...(description ? { description } : {}) });
  return schema;
};
