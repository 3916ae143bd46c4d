import type { InventoryAt, OwnerInventory, SecretInventory, WorkloadInventory } from '@rotor/rest-contract';

import type { CliContext } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

/** `rotor inventory secret NAME | workload NS/SA | owner NAME | at TIME`, as an auditor. */
export async function inventoryCommand(context: CliContext, action: string | undefined, argument: string | undefined): Promise<void> {
  const token = await context.token(['rotor:auditor']);
  const base = `${context.urls.auditor}/v1/inventory`;
  switch (action) {
    case 'secret': {
      if (!argument) break;
      const inventory = await request<SecretInventory>(`${base}/secrets/${encodeURIComponent(argument)}`, { token });
      printResult(context, inventory, {
        columns: ['what', 'version', 'state', 'where', 'since', 'until'],
        rows: [
          ...inventory.versions.map((v) => ['version', v.version, v.state, '', v.createdAt, v.retiredAt]),
          ...inventory.copies.map((c) => [
            'copy',
            c.version,
            c.state,
            `${c.target.kind}/${c.target.name} ${c.locator}`.trim(),
            c.from,
            c.to,
          ]),
          ...inventory.boundReaders.map((b) => ['reader', undefined, 'bound', `${b.namespace}/${b.serviceAccount}`, undefined, undefined]),
        ],
      });
      return;
    }
    case 'workload': {
      const [namespace, serviceAccount] = (argument ?? '').split('/');
      if (!namespace || !serviceAccount) break;
      const inventory = await request<WorkloadInventory>(
        `${base}/workloads/${encodeURIComponent(namespace)}/${encodeURIComponent(serviceAccount)}`,
        { token },
      );
      printResult(context, inventory, {
        columns: ['kind', 'name', 'state', 'detail'],
        rows: [
          ...inventory.leases.map((l) => ['lease', l.leaseId, l.state, `${l.role ?? ''} (${l.backend ?? ''}) until ${l.expiresAt ?? '?'}`]),
          ...inventory.secrets.map((s) => [
            'secret',
            s.secret,
            'bound',
            s.currentVersion ? `current version ${s.currentVersion}` : 'no version yet',
          ]),
          ...inventory.roles.map((r) => ['role', r.role, 'bound', r.backend]),
        ],
      });
      return;
    }
    case 'owner': {
      if (!argument) break;
      const inventory = await request<OwnerInventory>(`${base}/owners/${encodeURIComponent(argument)}`, { token });
      printResult(context, inventory, {
        columns: ['kind', 'name', 'state', 'detail'],
        rows: [
          ...inventory.roles.map((r) => ['role', r.role, 'catalog', r.backend]),
          ...inventory.secrets.map((s) => [
            'secret',
            s.secret,
            s.inCatalog ? 'catalog' : 'not in catalog',
            s.currentVersion
              ? `current version ${s.currentVersion} since ${s.currentSince ?? '?'}, ${s.copies.length} copies`
              : 'no version yet',
          ]),
          ...inventory.secrets.flatMap((s) =>
            s.copies.map((c) => [
              'copy',
              `${s.secret} v${c.version ?? '?'}`,
              c.state,
              `${c.target.kind}/${c.target.name} ${c.locator}`.trim(),
            ]),
          ),
          ...inventory.leases.map((l) => [
            'lease',
            l.leaseId,
            l.state,
            `${l.role ?? ''} ${l.workload.namespace ?? ''}/${l.workload.serviceAccount ?? ''} until ${l.expiresAt ?? '?'}`,
          ]),
        ],
      });
      return;
    }
    case 'at': {
      if (!argument) break;
      const inventory = await request<InventoryAt>(`${base}/at?time=${encodeURIComponent(argument)}`, { token });
      printResult(context, inventory, {
        columns: ['kind', 'name', 'state', 'where'],
        rows: [
          ...inventory.leases.map((l) => ['lease', l.leaseId, l.state, `${l.workload.namespace ?? ''}/${l.workload.serviceAccount ?? ''}`]),
          ...inventory.versions.map((v) => ['version', `${v.secret} v${v.version}`, v.state, '']),
          ...inventory.copies.map((c) => [
            'copy',
            `${c.secret} v${c.version ?? '?'}`,
            c.state,
            `${c.target.kind}/${c.target.name} ${c.locator}`.trim(),
          ]),
        ],
      });
      return;
    }
    default:
      break;
  }
  throw new Error('usage: rotor inventory secret NAME | inventory workload NS/SA | inventory owner NAME | inventory at ISO-TIME');
}
