import type { OperatorCaller } from '@rotor/identity';
import { BreakGlassEndingSchema, BreakGlassGrantSchema } from '@rotor/rest-contract';

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
});
