import { ViewKeys } from '@rotor/audit-chain';
import { parseCatalog } from '@rotor/catalog';
import type { OperatorCaller } from '@rotor/identity';
import {
  InventoryAtSchema,
  OwnerInventorySchema,
  PostureReportSchema,
  SecretInventorySchema,
  WorkloadInventorySchema,
} from '@rotor/rest-contract';
import type { Response } from 'express';

import { InventoryController } from './inventory/inventory.controller';
import { InventoryService } from './inventory/inventory.service';
import { InventoryStore } from './inventory/inventory.store';
import { OwnerInventoryService } from './inventory/owner-inventory.service';
import { PostureService } from './reports/posture.service';
import { PostureStore } from './reports/posture.store';
import { ReportsController } from './reports/reports.controller';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the unit tests' view store, kept out of the lib's public index
import { MemoryViews } from '../../../libs/audit-chain/src/memory-views.testing';

const NOW = Date.now();
const HOUR = 3_600_000;
const ms = (offset: number) => String(NOW + offset);
const catalog = parseCatalog(`
roles:
  - name: db-rw
    owner: team-pay
    backend: { kind: opaque-token }
    bindings: [{ namespace: shop, serviceAccount: orders }]
    ttl: 15m
    maxTtl: 1h
managedSecrets:
  - name: db
    owner: team-pay
    generator: { kind: random-bytes }
    rotationPeriod: 1h
    gracePeriod: 5m
    bindings: [{ namespace: shop, serviceAccount: orders }]
`);

/** One of each: a live lease, an irrevocable one, an overdue version, a delivered copy, a copy found outside, an open drift. */
function seeded() {
  const views = new MemoryViews();
  const lease = { leaseId: 'l-1', role: 'db-rw', owner: 'team-pay', backend: 'opaque-token', namespace: 'shop', serviceAccount: 'orders' };
  views.hash(ViewKeys.lease('l-1'), { ...lease, issuedAt: ms(-HOUR / 4), expiresAt: ms(HOUR / 2), maxExpiresAt: ms(HOUR) });
  views.hash(ViewKeys.lease('l-2'), {
    ...lease,
    leaseId: 'l-2',
    issuedAt: ms(-3 * HOUR),
    expiresAt: ms(-2 * HOUR),
    revocationAttempts: '5',
    irrevocable: `${ms(-HOUR)}|true`,
  });
  for (const id of ['l-1', 'l-2']) {
    views.zadd(ViewKeys.ownerLeases('team-pay'), NOW - HOUR, id);
  }
  views.zadd(ViewKeys.irrevocableLeases, NOW - HOUR, 'l-2');
  views.hash(ViewKeys.version('db', 3), { secret: 'db', version: '3', owner: 'team-pay', reason: 'scheduled', createdAt: ms(-5 * HOUR) });
  views.zadd(ViewKeys.secretVersions('db'), 3, '3');
  views.zadd(ViewKeys.versions, NOW - 5 * HOUR, 'db|3');
  views.zadd(ViewKeys.ownerSecrets('team-pay'), NOW - 5 * HOUR, 'db');
  views.hash(ViewKeys.copy('c-1'), {
    secret: 'db',
    version: '3',
    targetKind: 'kubernetes-secret',
    targetName: 'cluster',
    locator: 'k8s:shop/secrets/db',
    deliveredAt: ms(-4 * HOUR),
    contentHash: 'hmac-sha256:ab',
  });
  views.hash(ViewKeys.copy('c-2'), {
    secret: 'db',
    version: '3',
    targetKind: 'discovered:kubernetes-configmap',
    targetName: '',
    locator: 'namespace=shop,name=cfg,key=DB',
    origin: 'discovered',
    owner: 'team-pay',
    form: 'raw',
    discoveredAt: ms(-2 * HOUR),
  });
  for (const id of ['c-1', 'c-2']) {
    views.zadd(ViewKeys.secretCopies('db'), NOW - 4 * HOUR, id);
    views.zadd(ViewKeys.copies, NOW - 4 * HOUR, id);
  }
  views.zadd(ViewKeys.discoveredCopies, NOW - 2 * HOUR, 'c-2');
  views.hash(ViewKeys.drift('k8s:shop/secrets/db'), {
    locator: 'k8s:shop/secrets/db',
    targetKind: 'kubernetes-secret',
    targetName: 'cluster',
    finding: `${ms(-HOUR)}|${JSON.stringify({ drift: 'edited', repaired: false, secret: 'db', version: 3 })}`,
  });
  views.zadd(ViewKeys.drifts, NOW - HOUR, 'k8s:shop/secrets/db');
  const store = new InventoryStore(views);
  return {
    inventory: new InventoryController(new InventoryService(store, catalog), new OwnerInventoryService(store, views, catalog)),
    reports: new ReportsController(new PostureService(new PostureStore(views), store, catalog)),
  };
}

const auditor: OperatorCaller = { kind: 'operator', subject: 'audrey', groups: ['rotor:auditor'] };
/** What a client receives: the controller's value through JSON, as Nest sends it. */
const wire = async (value: unknown): Promise<unknown> => JSON.parse(JSON.stringify(await value));
/** Parsing strips what a schema does not name: equal means every field the route sends is documented. */
const documented = (schema: { parse(value: unknown): unknown }, body: unknown) => expect(schema.parse(body)).toEqual(body);

describe('auditor routes answer what rest-contract documents', () => {
  it('GET /v1/reports/posture: findings of every kind seeded, and the charts', async () => {
    const { reports } = seeded();
    const body = (await wire(reports.postureReport(auditor, {}, {} as Response))) as { findings: { kind: string }[] };
    expect(body.findings.map((finding) => finding.kind).sort()).toEqual(['drift', 'irrevocable-lease', 'manual-copy', 'rotation-overdue']);
    documented(PostureReportSchema, body);
  });

  it('GET /v1/inventory/secrets, workloads, owners and at', async () => {
    const { inventory } = seeded();
    const secret = (await wire(inventory.secret(auditor, 'db'))) as { versions: unknown[]; copies: unknown[]; boundReaders: unknown[] };
    expect([secret.versions.length, secret.copies.length, secret.boundReaders.length]).toEqual([1, 2, 1]);
    documented(SecretInventorySchema, secret);

    const workload = (await wire(inventory.workload(auditor, 'shop', 'orders'))) as {
      leases: unknown[];
      secrets: unknown[];
      roles: unknown[];
    };
    expect([workload.leases.length, workload.secrets.length, workload.roles.length]).toEqual([2, 1, 1]);
    documented(WorkloadInventorySchema, workload);

    const owner = (await wire(inventory.owner(auditor, 'team-pay'))) as {
      leases: unknown[];
      secrets: { copies: unknown[] }[];
      roles: unknown[];
    };
    expect([owner.leases.length, owner.secrets[0]?.copies.length, owner.roles.length]).toEqual([2, 2, 1]);
    documented(OwnerInventorySchema, owner);

    const at = (await wire(inventory.at(auditor, { time: new Date(NOW).toISOString() }))) as Record<string, unknown[]>;
    expect([at['leases']?.length, at['versions']?.length, at['copies']?.length]).toEqual([2, 1, 2]);
    documented(InventoryAtSchema, at);
  });
});
