import { z } from 'zod';

import { auditorEnvShape } from '../../apps/auditor/src/config';
import { distributorEnvShape } from '../../apps/distributor/src/config';
import { injectorEnvShape } from '../../apps/injector/src/config';
import { issuerEnvShape } from '../../apps/issuer/src/config';
import { revokerEnvShape } from '../../apps/revoker/src/config';

import { agentVariables, cliVariables, scriptVariables, serviceExtras, type OtherVariable } from './other-variables';

/**
 * docs/configuration.md, rendered from the services' env schemas: every variable a service
 * validates at boot, with the meaning its schema describes. The variables read elsewhere
 * (the CLI, the scripts) follow from a hand-kept list (other-variables.ts).
 */

export const SERVICES = ['issuer', 'revoker', 'distributor', 'auditor', 'injector'] as const;
type Service = (typeof SERVICES)[number];

export const serviceShapes: Record<Service, z.ZodRawShape> = {
  issuer: issuerEnvShape,
  revoker: revokerEnvShape,
  distributor: distributorEnvShape,
  auditor: auditorEnvShape,
  injector: injectorEnvShape,
};

export const REGENERATE = 'node -r @swc-node/register tools/config-reference/render.ts';

interface Variable {
  name: string;
  readBy: Service[];
  type: string;
  /** Rendered per reader: a shared port variable has a default per service. */
  defaults: Map<Service, string>;
  required: string;
  description: string;
}

const meta = (schema: z.ZodType): { description?: string; requiredWhen?: string } => z.globalRegistry.get(schema) ?? {};

/** Variables of a shape that say nothing about what they do. */
export function undescribedVariables(shapes: Record<string, z.ZodRawShape> = serviceShapes): string[] {
  return [
    ...new Set(
      Object.entries(shapes).flatMap(([service, shape]) =>
        Object.entries(shape)
          .filter(([, schema]) => !meta(schema as z.ZodType).description?.trim())
          .map(([name]) => `${name} (${service})`),
      ),
    ),
  ];
}

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
};

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema =>
  z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;

/** What an operator may write: the input side of the schema (its output when the input is a preprocess). */
function typeOf(name: string, schema: z.ZodType): string {
  let input = jsonSchema(schema, 'input');
  const output = jsonSchema(schema, 'output');
  if (!input.type && !input.enum) input = output;
  if (input.enum) return input.enum.map((value) => `\`${String(value)}\``).join(', ');
  if (input.type === 'integer' || input.type === 'number') {
    const { minimum: min, exclusiveMinimum } = input;
    const max = input.maximum !== undefined && input.maximum < Number.MAX_SAFE_INTEGER ? input.maximum : undefined;
    if (exclusiveMinimum !== undefined) return `${input.type} > ${exclusiveMinimum}`;
    if (min !== undefined && max !== undefined) return `${input.type} ${min}–${max}`;
    if (min !== undefined) return `${input.type} ≥ ${min}`;
    return input.type;
  }
  if (output.type === 'array') return 'comma-separated list';
  if (input.format === 'uri') return 'URL';
  if (input.pattern) return `string matching \`${input.pattern}\``;
  if (name.endsWith('_FILE')) return 'file path';
  if (input.minLength !== undefined && input.minLength > 1) return `string of ≥ ${input.minLength} characters`;
  return input.type ?? 'string';
}

/** The default a schema applies when the variable is unset or empty, as an operator would write it. */
function defaultOf(schema: z.core.$ZodType): unknown {
  const def = schema._zod.def as { type: string; defaultValue?: unknown; in?: z.core.$ZodType; innerType?: z.core.$ZodType };
  if (def.type === 'default' || def.type === 'prefault') return def.defaultValue;
  if (def.type === 'pipe' && def.in) return defaultOf(def.in);
  if ((def.type === 'optional' || def.type === 'nullable') && def.innerType) return defaultOf(def.innerType);
  return undefined;
}

function renderDefault(value: unknown): string {
  if (value === undefined) return 'unset';
  if (value === '') return 'empty';
  if (Array.isArray(value)) return value.length ? `\`${value.join(',')}\`` : 'none';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

function requiredOf(schema: z.ZodType): string {
  if (!schema.safeParse(undefined).success) return 'yes';
  return meta(schema).requiredWhen ?? 'no';
}

/** Every variable of the four services, in the order the shapes list them, with who reads it. */
export function serviceVariables(shapes: Record<Service, z.ZodRawShape> = serviceShapes): Variable[] {
  const variables = new Map<string, Variable>();
  for (const service of SERVICES) {
    for (const [name, raw] of Object.entries(shapes[service])) {
      const schema = raw as z.ZodType;
      const description = meta(schema).description?.trim() ?? '';
      const seen = variables.get(name);
      if (!seen) {
        variables.set(name, {
          name,
          readBy: [service],
          type: typeOf(name, schema),
          defaults: new Map([[service, renderDefault(defaultOf(schema))]]),
          required: requiredOf(schema),
          description,
        });
        continue;
      }
      // One variable means one thing everywhere: a service that redefines it must say the same.
      if (seen.description !== description || seen.type !== typeOf(name, schema) || seen.required !== requiredOf(schema))
        throw new Error(`${name}: ${service} describes or validates it differently from ${seen.readBy.join(', ')}`);
      seen.readBy.push(service);
      seen.defaults.set(service, renderDefault(defaultOf(schema)));
    }
  }
  return [...variables.values()];
}

/** A table cell: pipes escaped, and `<` outside code spans so that `rotor-<service>` is not taken for HTML. */
const cell = (text: string) =>
  text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part : part.replace(/</g, '\\<')))
    .join('')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');

const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;

function table(header: string[], rows: string[][]): string {
  return [row(header), row(header.map(() => '---')), ...rows.map(row)].join('\n');
}

const the = (service: string) => `the ${service}`;

function readersTitle(readBy: readonly Service[]): string {
  if (readBy.length === SERVICES.length) return 'Read by every service';
  const names = readBy.map(the);
  return `Read by ${names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`}`;
}

function renderDefaults(variable: Variable): string {
  const values = [...new Set(variable.defaults.values())];
  if (values.length === 1) return values[0]!;
  return [...variable.defaults].map(([service, value]) => `${service} ${value}`).join(', ');
}

function renderServices(variables: Variable[]): string {
  const groups = new Map<string, Variable[]>();
  for (const variable of variables) {
    const key = variable.readBy.join(',');
    groups.set(key, [...(groups.get(key) ?? []), variable]);
  }
  const everyone = SERVICES.join(',');
  const keys = [...groups.keys()].sort((a, b) => Number(b === everyone) - Number(a === everyone));
  return keys
    .map((key) => {
      const members = groups.get(key)!;
      return [
        `### ${readersTitle(members[0]!.readBy)}`,
        '',
        table(
          ['variable', 'type', 'default', 'required', 'meaning'],
          members.map((v) => [`\`${v.name}\``, v.type, renderDefaults(v), v.required, v.description]),
        ),
      ].join('\n');
    })
    .join('\n\n');
}

function renderOthers(variables: OtherVariable[]): string {
  return table(
    ['variable', 'read by', 'default', 'meaning'],
    variables.map((v) => [
      v.name
        .split(', ')
        .map((name) => `\`${name}\``)
        .join(', '),
      v.readBy,
      v.default === undefined ? 'unset' : `\`${v.default}\``,
      v.meaning,
    ]),
  );
}

export function renderConfigurationReference(shapes: Record<Service, z.ZodRawShape> = serviceShapes): string {
  return `${[
    '# Configuration reference',
    '',
    `<!-- Generated from the services' env schemas by \`${REGENERATE}\`: do not edit by hand. -->`,
    '',
    'Every variable the services read, rendered from the zod schemas they validate their environment',
    'with (`apps/<service>/src/config.ts`, built from the fragments in `libs/config`); a unit test',
    '(`test/static/config-reference.spec.ts`) fails when this file is stale or a variable has no',
    `description. To change a meaning, edit the schema's \`.describe()\` and run \`${REGENERATE}\`.`,
    '',
    'A service validates all of them at boot and stops with a message naming the variable (never',
    'its value). An empty variable counts as unset. "required" says when a service refuses to start',
    'without it; several are required only on a secure stack, that is unless `ROTOR_INSECURE_LOCAL=1`.',
    'Secrets have a `_FILE` form (a mounted file) that production should prefer over the plain variable.',
    'More on each area: [operators](operators.md) (sign-in), [README: Configuration](../README.md#configuration)',
    '(keyrings, upgrading), [infra](infra.md), [redis-keys](redis-keys.md).',
    '',
    '## Services',
    '',
    renderServices(serviceVariables(shapes)),
    '',
    '## Read outside the schemas (kept by hand)',
    '',
    'These are kept by hand in `tools/config-reference/other-variables.ts`; the same test fails when',
    'the code reads a `ROTOR_` variable, or one by name from the environment, that this file does not name.',
    '',
    '### Services',
    '',
    renderOthers(serviceExtras),
    '',
    '### The CLI',
    '',
    renderOthers(cliVariables),
    '',
    '### The agent',
    '',
    'Its settings are in its configuration file ([agent](agent.md)); these few come from the environment.',
    '',
    renderOthers(agentVariables),
    '',
    '### Scripts and tools',
    '',
    renderOthers(scriptVariables),
  ].join('\n')}\n`;
}
