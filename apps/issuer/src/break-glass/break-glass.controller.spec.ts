import type { OperatorCaller } from '@rotor/identity';
import { DomainError } from '@rotor/errors';
import {
  BreakGlassAlreadyOpenProblemSchema,
  BreakGlassEndingSchema,
  BreakGlassGrantSchema,
  BreakGlassPageSchema,
  BreakGlassPreviewSchema,
} from '@rotor/rest-contract';

import { BreakGlassController } from './break-glass.controller';
import type { BreakGlassService } from './break-glass.service';

const sre: OperatorCaller = { kind: 'operator', subject: 'alice', groups: ['rotor:sre'] };
const id = '0b6a8f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
const wire = async (value: unknown): Promise<unknown> => JSON.parse(JSON.stringify(await value));

describe('break-glass routes answer what rest-contract documents', () => {
  it('POST /v1/break-glass: the values and the role credential, when it ends, and the follow-up', async () => {
    const service = {
      open: async () => ({
        id,
        expiresAt: new Date('2026-01-01T00:30:00Z'),
        secrets: [{ secret: 'db', version: 3, value: 's3cr3t' }],
        role: { name: 'db-admin', leaseId: 'l-1', credential: { username: 'u', password: 'p' } },
      }),
      end: async () => ({ id, state: 'ending' as const }),
    } as unknown as BreakGlassService;
    const controller = new BreakGlassController(service);

    const grant = await wire(
      controller.open(sre, { secrets: ['db'], role: 'db-admin', reason: 'outage of the primary', ticket: 'INC-1', ttl: '30m' }, undefined),
    );
    expect(grant).toEqual({
      id,
      expiresAt: '2026-01-01T00:30:00.000Z',
      secrets: [{ secret: 'db', version: 3, value: 's3cr3t' }],
      role: { name: 'db-admin', leaseId: 'l-1', credential: { username: 'u', password: 'p' } },
      followUp: 'every managed secret listed is rotated when this access ends',
    });
    expect(BreakGlassGrantSchema.parse(grant)).toEqual(grant);

    const ended = await wire(controller.end(sre, id));
    expect(ended).toEqual({ id, state: 'ending' });
    expect(BreakGlassEndingSchema.parse(ended)).toEqual(ended);
  });

  it('GET /v1/break-glass and POST /v1/break-glass/preview answer their schemas; an auditor may list, not preview or open', async () => {
    const auditor: OperatorCaller = { kind: 'operator', subject: 'bob', groups: ['rotor:auditor'] };
    const seen: unknown[] = [];
    const service = {
      list: async (query: unknown) => {
        seen.push(query);
        return {
          items: [{ id, state: 'open', secrets: ['db'], role: { leaseId: 'l-1' }, expiresAt: '2026-01-01T00:30:00.000Z' }],
          next: id,
        };
      },
      preview: async () => ({
        secrets: [{ secret: 'db', current: { version: 3, gsmVersion: 'projects/p/secrets/db/versions/3' }, targets: [] }],
        ttlSeconds: 1_800,
        expiresAt: '2026-01-01T00:30:00.000Z',
        reason: 'outage of the primary',
        ticket: 'INC-1',
        followUp: 'every managed secret listed is rotated when this access ends',
      }),
    } as unknown as BreakGlassService;
    const controller = new BreakGlassController(service);

    const page = await wire(controller.list(auditor, { state: 'open', limit: '5' }));
    expect(BreakGlassPageSchema.parse(page)).toEqual(page);
    expect(seen).toEqual([{ state: 'open', limit: 5 }]);
    await expect(controller.list(auditor, { state: 'closed' })).rejects.toMatchObject({ code: 'invalid-query', field: 'state' });
    const body = { secrets: ['db'], reason: 'outage of the primary', ticket: 'INC-1' };
    const preview = await wire(controller.preview(sre, body));
    expect(BreakGlassPreviewSchema.parse(preview)).toEqual(preview);
    await expect(controller.preview(auditor, body)).rejects.toMatchObject({ code: 'missing-group' });
    await expect(controller.open(auditor, body, undefined)).rejects.toMatchObject({ code: 'missing-group' });
    await expect(controller.open(sre, body, 'has space')).rejects.toMatchObject({ code: 'invalid-idempotency-key' });
  });

  it('documents the 409 problem the service raises for a used Idempotency-Key', () => {
    const error = new DomainError('conflict', 'break-glass-already-open', 'x', {
      members: { breakGlassId: id, state: 'open', expiresAt: '2026-01-01T00:30:00.000Z' },
    });
    const problem = { type: 't', title: 'Conflict', status: 409, code: error.code, ...error.members };
    expect(BreakGlassAlreadyOpenProblemSchema.parse(problem)).toEqual(problem);
  });
});
