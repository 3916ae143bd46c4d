import { z } from 'zod';

import { RestSchemas } from './registry';

const COMPONENTS = '#/components/schemas/';

/** `{ $ref }` to a registered schema's component; throws for one never registered (a typo would document nothing). */
export const schemaRef = (schema: z.ZodType): { $ref: string } => {
  const id = RestSchemas.get(schema)?.id;
  if (!id) throw new Error('this schema is not registered in RestSchemas: give it a name with named()');
  return { $ref: `${COMPONENTS}${id}` };
};

/**
 * Every registered schema as an OpenAPI 3.1 component (JSON Schema 2020-12), by name. What a
 * client is sent (`io: 'input'`), so objects stay open to fields added later.
 */
export const restComponents = (): Record<string, Record<string, unknown>> => {
  const { schemas } = z.toJSONSchema(RestSchemas, { io: 'input', uri: (id) => `${COMPONENTS}${id}` });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      // The component's place in the document is its identity: no $id, no per-schema dialect.
      const { $id: _id, $schema: _dialect, ...component } = schema as Record<string, unknown>;
      return [id, component];
    }),
  );
};

/** The components a document's `$ref`s reach, directly or through other components. */
export const referencedComponents = (document: unknown): Record<string, Record<string, unknown>> => {
  const all = restComponents();
  const used: Record<string, Record<string, unknown>> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENTS)) {
        const id = value.slice(COMPONENTS.length);
        if (!used[id] && all[id]) {
          used[id] = all[id];
          visit(all[id]);
        }
      } else visit(value);
    }
  };
  visit(document);
  return used;
};
