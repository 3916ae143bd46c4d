import type { OperatorCaller } from '@rotor/identity';
import { DeliveryPageSchema } from '@rotor/rest-contract';

import { DeliveriesController } from './deliveries.controller';
import type { DeliveredCopy, DeliveryLedger } from './delivery-ledger';

const auditor: OperatorCaller = { kind: 'operator', subject: 'audrey', groups: ['rotor:auditor'] };
const delivered: DeliveredCopy = {
  secret: 'db',
  version: 3,
  gsmVersion: 'projects/p/secrets/db/versions/3',
  target: { kind: 'kubernetes-secret', name: 'cluster', namespace: 'shop', secretName: 'db', key: 'url', repairDrift: true },
  locator: 'k8s:shop/secrets/db',
  state: 'delivered',
  contentHash: 'hmac-sha256:ab',
  attempts: 1,
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('GET /v1/deliveries answers what rest-contract documents', () => {
  it('each copy by target kind and name (never its settings), nulls where nothing is known yet', async () => {
    const pending: DeliveredCopy = {
      ...delivered,
      version: 4,
      locator: undefined,
      contentHash: undefined,
      state: 'failed',
      lastError: 'forbidden',
    };
    const ledger = { copiesOf: async () => [delivered, pending] } as unknown as DeliveryLedger;
    const body = JSON.parse(JSON.stringify(await new DeliveriesController(ledger).list(auditor, 'db', undefined)));
    const view = {
      secret: 'db',
      version: 3,
      gsmVersion: 'projects/p/secrets/db/versions/3',
      target: { kind: 'kubernetes-secret', name: 'cluster' },
      locator: 'k8s:shop/secrets/db',
      state: 'delivered',
      contentHash: 'hmac-sha256:ab',
      attempts: 1,
      lastError: null,
      updatedAt: '2026-01-01T00:00:00.000Z',
    };
    expect(body).toEqual({
      secret: 'db',
      items: [view, { ...view, version: 4, locator: null, contentHash: null, state: 'failed', lastError: 'forbidden' }],
    });
    expect(DeliveryPageSchema.parse(body)).toEqual(body);
  });
});
