import { z } from 'zod';

import { AuditLogMessageSchema, DeadLetterSchema, EventDataSchemas, type DomainTopic } from './events';
import { envelopeSchema } from './envelope';
import { Topics } from './topics';

/** JSON Schema (draft 2020-12) of every topic's message, for consumers not written in TypeScript. */
export const jsonSchemas = (): Record<string, unknown> => {
  const schemas: Record<string, unknown> = {};
  for (const topic of Object.keys(EventDataSchemas) as DomainTopic[]) {
    schemas[topic] = z.toJSONSchema(envelopeSchema(topic), { io: 'input' });
  }
  schemas[Topics.auditLog] = z.toJSONSchema(AuditLogMessageSchema, { io: 'input' });
  schemas[Topics.deadLetter] = z.toJSONSchema(DeadLetterSchema, { io: 'input' });
  return schemas;
};
