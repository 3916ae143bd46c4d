import { createEvent, Topics } from '@rotor/contracts';

/** A valid `lease.issued` event of role db (team-pay) for payments/api, as the issuer would publish it. */
export const leaseIssuedEvent = (leaseId: string, extra: { podName?: string; namespace?: string } = {}) =>
  createEvent({
    topic: Topics.leaseIssued,
    source: '/rotor/test',
    subject: leaseId,
    data: {
      leaseId,
      role: 'db',
      owner: 'team-pay',
      backend: 'opaque-token',
      workload: {
        namespace: extra.namespace ?? 'payments',
        serviceAccount: 'api',
        ...(extra.podName ? { podName: extra.podName, podUid: `uid-${extra.podName}` } : {}),
      },
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
      maxExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      revocationHandle: { backend: 'opaque-token' },
    },
  });
