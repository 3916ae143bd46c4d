import type { Workload } from '@rotor/contracts';

import type { Binding, Catalog, ManagedSecret, Role } from './catalog.schema';

const globToRegExp = (glob: string): RegExp =>
  new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

export const bindingMatches = (binding: Binding, workload: Pick<Workload, 'namespace' | 'serviceAccount'>): boolean =>
  globToRegExp(binding.namespace).test(workload.namespace) && globToRegExp(binding.serviceAccount).test(workload.serviceAccount);

export const isBound = (entry: Role | ManagedSecret, workload: Pick<Workload, 'namespace' | 'serviceAccount'>): boolean =>
  entry.bindings.some((binding) => bindingMatches(binding, workload));

export const findRole = (catalog: Catalog, name: string): Role | undefined => catalog.roles.find((role) => role.name === name);

export const findManagedSecret = (catalog: Catalog, name: string): ManagedSecret | undefined =>
  catalog.managedSecrets.find((secret) => secret.name === name);
