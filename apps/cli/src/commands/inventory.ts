import type { Command } from 'commander';

import type { CliContext } from '../context';
import { UsageError } from '../exit-codes';
import { printResult } from '../output';
import { contextOf, examples } from '../program-kit';
import { auditorApi } from '../rotor-api';

/** `rotor inventory secret NAME | workload NS/SA | owner NAME | at TIME`, as an auditor. */
async function inventoryCommand(context: CliContext, action: 'secret' | 'workload' | 'owner' | 'at', argument: string): Promise<void> {
  if (action === 'workload' && !/^[^/]+\/[^/]+$/.test(argument))
    throw new UsageError(`inventory workload: expected NAMESPACE/SERVICE-ACCOUNT, got "${argument}"`);
  const auditor = auditorApi(context, await context.token(['rotor:auditor']));
  switch (action) {
    case 'secret': {
      const inventory = await auditor.secretInventory(argument);
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
      const [namespace, serviceAccount, ...rest] = argument.split('/');
      if (!namespace || !serviceAccount || rest.length)
        throw new UsageError(`inventory workload: expected NAMESPACE/SERVICE-ACCOUNT, got "${argument}"`);
      const inventory = await auditor.workloadInventory(namespace, serviceAccount);
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
      const inventory = await auditor.ownerInventory(argument);
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
      const inventory = await auditor.inventoryAt(argument);
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
  }
}

export function registerInventoryCommands(program: Command): void {
  const inventory = program.command('inventory').description('where secrets and leases exist and who can use them (as an auditor)');
  const views = [
    ['secret', '<name>', "a managed secret's versions, every copy of them and who may read it"],
    ['workload', '<namespace/service-account>', "a workload's leases, and the roles and secrets it is bound to"],
    ['owner', '<owner>', "a team's roles, secrets, copies and leases"],
    ['at', '<iso-time>', 'what existed at a moment: leases, versions and copies'],
  ] as const;
  for (const [view, argument, description] of views) {
    inventory
      .command(view)
      .description(description)
      .argument(argument)
      .action((value: string, _options: unknown, command: Command) => inventoryCommand(contextOf(command), view, value));
  }
  inventory.addHelpText(
    'after',
    examples('rotor inventory secret payments-key', 'rotor inventory workload shop/orders', 'rotor inventory at 2026-12-01T10:00:00Z'),
  );
}
