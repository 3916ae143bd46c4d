import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { DomainError } from '@rotor/errors';
import { hasGroup, OperatorGroups, type Caller, type OperatorCaller, type WorkloadCaller } from '@rotor/identity';
import {
  IdempotencyKeySchema,
  IssueCredentialRequestSchema,
  IssuedCredentialSchema,
  LeaseIdSchema,
  LeaseRevocationSchema,
  leaseView,
  LeaseViewSchema,
  RenewLeaseRequestSchema,
  type IssueCredentialRequest,
  type RenewLeaseRequest,
} from '@rotor/rest-contract';
import { Answers, CallerGuard, CurrentCaller, Honours, Needs, PathFrom, Takes, ZodBodyPipe } from '@rotor/service-kit';
import { LeaseService } from './lease.service';

const asWorkload = (caller: Caller): WorkloadCaller => {
  if (caller.kind !== 'workload') throw new DomainError('forbidden', 'workloads-only', 'credentials are issued to workloads only');
  return caller;
};

/** A lease's holder, or a person in one of `groups` (an SRE administering leases). */
const holderOr =
  (what: string, ...groups: string[]) =>
  (caller: Caller): WorkloadCaller | OperatorCaller => {
    if (caller.kind === 'workload' || groups.some((group) => hasGroup(caller, group))) return caller;
    throw new DomainError('forbidden', 'missing-group', `a lease is ${what} by its holder or by ${groups.join(' or ')}`);
  };
const readers = holderOr('read', OperatorGroups.sre, OperatorGroups.auditor);
const revokers = holderOr('revoked', OperatorGroups.sre);

const leaseId = (id: string): string => {
  const parsed = LeaseIdSchema.safeParse(id);
  if (!parsed.success) throw new DomainError('invalid', 'invalid-lease-id', 'id: must be a lease id (UUID)', { field: 'id' });
  return parsed.data;
};

const idempotencyKey = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  const parsed = IdempotencyKeySchema.safeParse(value);
  if (!parsed.success)
    throw new DomainError('invalid', 'invalid-idempotency-key', `Idempotency-Key: ${parsed.error.issues[0]?.message}`, {
      field: 'Idempotency-Key',
    });
  return parsed.data;
};

@ApiTags('leases')
@ApiBearerAuth()
@UseGuards(CallerGuard)
@Controller('v1')
export class LeasesController {
  constructor(private readonly leases: LeaseService) {}

  @Post('credentials')
  @Takes(IssueCredentialRequestSchema, 'the role, and optionally a TTL and a task')
  @Honours('Idempotency-Key')
  @Answers(201, IssuedCredentialSchema, 'the new lease and its credential, shown this once')
  async issue(
    @CurrentCaller() caller: Caller,
    @Body(new ZodBodyPipe(IssueCredentialRequestSchema)) body: IssueCredentialRequest,
    @Headers('idempotency-key') idempotencyKeyHeader: string | undefined,
  ) {
    const { lease, credential } = await this.leases.issue({
      caller: asWorkload(caller),
      role: body.role,
      ttlMs: body.ttl,
      task: body.task,
      idempotencyKey: idempotencyKey(idempotencyKeyHeader),
    });
    return { ...leaseView(lease), credential };
  }

  @Get('leases/:id')
  @PathFrom({ id: LeaseIdSchema })
  @Answers(200, LeaseViewSchema, 'the lease')
  @Needs('redis')
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    return leaseView(await this.leases.get(readers(caller), leaseId(id)));
  }

  @Post('leases/:id/renew')
  @HttpCode(200)
  @PathFrom({ id: LeaseIdSchema })
  @Takes(RenewLeaseRequestSchema, 'optionally the TTL wanted')
  @Answers(200, LeaseViewSchema, 'the lease with its new expiry')
  async renew(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Body(new ZodBodyPipe(RenewLeaseRequestSchema)) body: RenewLeaseRequest,
  ) {
    return leaseView(await this.leases.renew(asWorkload(caller), leaseId(id), { ttlMs: body.ttl }));
  }

  @Delete('leases/:id')
  @HttpCode(202)
  @PathFrom({ id: LeaseIdSchema })
  @Answers(202, LeaseRevocationSchema, 'the lease, its revocation done or requested')
  async revoke(@CurrentCaller() caller: Caller, @Param('id') id: string) {
    const lease = await this.leases.requestRevocation(revokers(caller), leaseId(id));
    return { ...leaseView(lease), revocation: lease.state === 'revoked' ? 'done' : 'requested' };
  }
}
