import { z } from 'zod';

import { IsoTimeSchema } from './common';
import { EventDataSchemas, type DomainTopic, type EventData } from './events';

/** A CloudEvents 1.0 envelope whose `type` is the topic name and whose `data` matches that topic's schema. */
export const envelopeSchemaFor = <T extends DomainTopic>(topic: T) =>
  z.object({
    specversion: z.literal('1.0'),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.literal(topic),
    time: IsoTimeSchema,
    subject: z.string().min(1),
    datacontenttype: z.literal('application/json'),
    data: EventDataSchemas[topic],
  });

export interface Envelope<T extends DomainTopic> {
  specversion: '1.0';
  id: string;
  source: string;
  type: T;
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  data: EventData<T>;
}

/** The envelope fields common to all events; enough to deduplicate and audit one of any type. */
export const AnyEnvelopeSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  time: IsoTimeSchema,
  subject: z.string().min(1),
  datacontenttype: z.literal('application/json'),
  data: z.unknown(),
});
export type AnyEnvelope = z.infer<typeof AnyEnvelopeSchema>;

const envelopeSchemas = new Map<DomainTopic, z.ZodType>();

/** The cached envelope schema for a topic. */
export const envelopeSchema = <T extends DomainTopic>(topic: T): ReturnType<typeof envelopeSchemaFor<T>> => {
  let schema = envelopeSchemas.get(topic);
  if (!schema) {
    schema = envelopeSchemaFor(topic);
    envelopeSchemas.set(topic, schema);
  }
  return schema as ReturnType<typeof envelopeSchemaFor<T>>;
};

export class InvalidEventError extends Error {
  readonly code = 'invalid-event';
  constructor(
    readonly topic: string,
    readonly issues: string[],
  ) {
    super(`invalid ${topic} event: ${issues.join('; ')}`);
  }
}

/** Readable issues: `data.expiresAt: Invalid ISO datetime`. Never echoes the offending value. */
export const describeIssues = (error: z.ZodError): string[] =>
  error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);

/** Parses and validates raw JSON into a typed envelope for `topic`, or throws InvalidEventError. */
export const parseEvent = <T extends DomainTopic>(topic: T, raw: unknown): Envelope<T> => {
  const result = envelopeSchema(topic).safeParse(raw);
  if (!result.success) {
    throw new InvalidEventError(topic, describeIssues(result.error));
  }
  return result.data as Envelope<T>;
};

export const isDomainTopic = (topic: string): topic is DomainTopic => topic in EventDataSchemas;

export interface NewEvent<T extends DomainTopic> {
  topic: T;
  source: string;
  subject: string;
  data: EventData<T>;
  id?: string;
  time?: Date;
}

/** Builds a validated envelope; validation on the way out keeps a bad producer from poisoning a topic. */
export const createEvent = <T extends DomainTopic>(event: NewEvent<T>): Envelope<T> =>
  parseEvent(event.topic, {
    specversion: '1.0',
    id: event.id ?? crypto.randomUUID(),
    source: event.source,
    type: event.topic,
    time: (event.time ?? new Date()).toISOString(),
    subject: event.subject,
    datacontenttype: 'application/json',
    data: event.data,
  });
