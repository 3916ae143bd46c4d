import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ALL_TOPICS, createEvent, DOMAIN_TOPICS, EventDataSchemas, InvalidEventError, jsonSchemas, parseEvent, Topics } from './index';

const issuedData = {
  leaseId: '5b2f7c1e-8f7a-4c2e-9a51-3f3c1e2d4b6a',
  role: 'orders-db-readonly',
  owner: 'team-orders',
  backend: 'opaque-token' as const,
  workload: { namespace: 'shop', serviceAccount: 'orders' },
  issuedAt: '2026-11-27T10:00:00.000Z',
  expiresAt: '2026-11-27T10:15:00.000Z',
  maxExpiresAt: '2026-11-27T11:00:00.000Z',
  revocationHandle: { backend: 'opaque-token' as const },
};

const validEnvelope = () =>
  createEvent({ topic: Topics.leaseIssued, source: '/rotor/issuer', subject: issuedData.leaseId, data: issuedData });

const rejectionOf = (raw: unknown): InvalidEventError => {
  try {
    parseEvent(Topics.leaseIssued, raw);
  } catch (error) {
    if (error instanceof InvalidEventError) return error;
    throw error;
  }
  throw new Error('expected the event to be rejected');
};

describe('event contracts', () => {
  it('names every topic as rotor.<entity>.<action>.v<N>', () => {
    for (const topic of ALL_TOPICS) {
      expect(topic).toMatch(/^rotor\.[a-z-]+(\.[a-z-]+)?\.v\d+$/);
    }
  });

  it('has a data schema for every domain topic and none for the audit log or the DLQ', () => {
    expect(Object.keys(EventDataSchemas).sort()).toEqual([...DOMAIN_TOPICS].sort());
  });

  it('builds a CloudEvents 1.0 envelope that parses back unchanged', () => {
    const event = validEnvelope();
    expect(event).toMatchObject({ specversion: '1.0', type: Topics.leaseIssued, datacontenttype: 'application/json' });
    expect(parseEvent(Topics.leaseIssued, JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('rejects a malformed event with a reason that names the field', () => {
    const event = { ...validEnvelope(), data: { ...issuedData, expiresAt: 'tomorrow' } };
    expect(rejectionOf(event).issues).toEqual([expect.stringMatching(/^data\.expiresAt: /)]);
  });

  it('rejects an event published under another topic type', () => {
    const event = { ...validEnvelope(), type: Topics.leaseRevoked };
    expect(rejectionOf(event).message).toMatch(/type: /);
  });

  it('rejects a payload that is not an envelope at all, naming the missing fields', () => {
    const error = rejectionOf({ hello: 'world' });
    expect(error.issues).toEqual(expect.arrayContaining([expect.stringMatching(/^specversion: /), expect.stringMatching(/^data: /)]));
  });

  it('drops fields it does not know, so a value smuggled into an event is not passed on', () => {
    const parsed = parseEvent(Topics.leaseIssued, { ...validEnvelope(), data: { ...issuedData, token: 'canary-value' } });
    expect(JSON.stringify(parsed)).not.toContain('canary-value');
  });

  it('does not echo the offending value in the rejection reason', () => {
    const error = rejectionOf({ ...validEnvelope(), data: { ...issuedData, role: 42, leaseId: 'secret-looking-value' } });
    expect(error.message).not.toContain('secret-looking-value');
  });

  it('exports a JSON Schema for every topic, identical to the committed files', () => {
    const schemas = jsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([...ALL_TOPICS].sort());
    for (const [topic, schema] of Object.entries(schemas)) {
      const committed = JSON.parse(readFileSync(join(__dirname, '..', 'json-schema', `${topic}.json`), 'utf8'));
      expect({ topic, schema: committed }).toEqual({ topic, schema });
    }
  });
});
