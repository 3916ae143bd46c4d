import type { Workload } from '@rotor/contracts';

/** A workload authenticated by its projected service-account token. */
export interface WorkloadCaller {
  kind: 'workload';
  subject: string;
  workload: Workload;
}

/** An operator or SRE authenticated by a rotor operator token with group claims. */
export interface OperatorCaller {
  kind: 'operator';
  subject: string;
  groups: string[];
}

export type Caller = WorkloadCaller | OperatorCaller;

export const OperatorGroups = {
  sre: 'rotor:sre',
  auditor: 'rotor:auditor',
  /** Resource servers run by people, or their tooling: may call token introspection. */
  introspect: 'rotor:introspect',
} as const;

export const hasGroup = (caller: Caller, group: string): boolean => caller.kind === 'operator' && caller.groups.includes(group);
