import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';

import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller } from '@rotor/identity';
import { BackendKindSchema } from '@rotor/contracts';
import {
  InventoryAtSchema,
  InventoryLeaseStateSchema,
  LeasePageSchema,
  OwnerInventorySchema,
  SecretInventorySchema,
  WorkloadInventorySchema,
  type LeasePage,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Needs, PathFrom, QueryFrom, requireGroup } from '@rotor/service-kit';

import { InventoryService } from './inventory.service';
import { OwnerInventoryService } from './owner-inventory.service';

const Name = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'must be a lowercase DNS name');
const Owner = z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9._@]{0,127}$/, 'must be an owner name as written in the catalog');
const AtQuery = z.strictObject({ time: z.iso.datetime({ offset: true }) });
const LeasesQuery = z.strictObject({
  namespace: Name.optional(),
  serviceAccount: Name.optional(),
  role: Name.optional(),
  backend: BackendKindSchema.optional(),
  owner: Owner.optional(),
  state: InventoryLeaseStateSchema.optional(),
  after: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

const parse = <T>(schema: z.ZodType<T>, value: unknown, field: string): T => {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const at = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(',') : field);
  throw new DomainError('invalid', 'invalid-query', `${at}: ${issue?.message}`, { field: at });
};

@ApiTags('inventory')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1/inventory')
export class InventoryController {
  constructor(
    private readonly inventory: InventoryService,
    private readonly owners: OwnerInventoryService,
  ) {}

  @Get('secrets/:name')
  @Needs('postgres')
  @PathFrom({ name: Name })
  @Answers(200, SecretInventorySchema, "the secret's versions, copies and bound readers")
  secret(@CurrentCaller() caller: Caller, @Param('name') name: string) {
    requireGroup(caller, OperatorGroups.auditor);
    return this.inventory.secret(parse(Name, name, 'name'));
  }

  @Get('workloads/:namespace/:serviceAccount')
  @Needs('postgres')
  @PathFrom({ namespace: Name, serviceAccount: Name })
  @Answers(200, WorkloadInventorySchema, "the workload's leases, secrets and roles")
  workload(@CurrentCaller() caller: Caller, @Param('namespace') namespace: string, @Param('serviceAccount') serviceAccount: string) {
    requireGroup(caller, OperatorGroups.auditor);
    return this.inventory.workload(parse(Name, namespace, 'namespace'), parse(Name, serviceAccount, 'serviceAccount'));
  }

  /** Roles and managed secrets of one owner (catalog), with their live leases, current versions and copies (audit views). */
  @Get('owners/:owner')
  @Needs('postgres')
  @PathFrom({ owner: Owner })
  @Answers(200, OwnerInventorySchema, "the owner's roles, secrets and leases")
  owner(@CurrentCaller() caller: Caller, @Param('owner') owner: string) {
    requireGroup(caller, OperatorGroups.auditor);
    return this.owners.owner(parse(Owner, owner, 'owner'));
  }

  /** Leases by namespace, service account, role, backend, owner and state, a page at a time (SREs and auditors). */
  @Get('leases')
  @Needs('postgres')
  @QueryFrom(LeasesQuery)
  @Answers(200, LeasePageSchema, 'a page of leases')
  async leases(@CurrentCaller() caller: Caller, @Query() query: Record<string, unknown>): Promise<LeasePage> {
    if (!hasGroup(caller, OperatorGroups.sre)) requireGroup(caller, OperatorGroups.auditor);
    const { after, limit, ...filter } = parse(LeasesQuery, query, 'query');
    const at = Date.now();
    const page = await this.inventory.leases(filter, { at, limit, ...(after ? { after } : {}) });
    return { items: page.leases, ...(page.next ? { next: page.next } : {}), at: new Date(at).toISOString() };
  }

  @Get('at')
  @Needs('postgres')
  @QueryFrom(AtQuery)
  @Answers(200, InventoryAtSchema, 'what existed at that time')
  at(@CurrentCaller() caller: Caller, @Query() query: Record<string, unknown>) {
    requireGroup(caller, OperatorGroups.auditor);
    return this.inventory.at(new Date(parse(AtQuery, query, 'time').time));
  }
}
