import { randomUUID } from 'node:crypto';

import { createEvent, Topics } from '@rotor/contracts';
import type { EventPublisher } from '@rotor/kafka';

/**
 * Publishes `count` opaque-token `lease.issued` events straight to Kafka in batches of 500,
 * as the issuer would (faster than issuing through it); returns each lease's expiry.
 */
export async function publishOpaqueLeases(
  publisher: EventPublisher,
  options: { count: number; namespace: string; serviceAccount: string; expiryOf: (index: number) => number },
): Promise<Map<string, number>> {
  const expiries = new Map<string, number>();
  const batch = 500;
  for (let start = 0; start < options.count; start += batch) {
    const messages = [];
    for (let index = start; index < Math.min(options.count, start + batch); index++) {
      const id = randomUUID();
      const expiresAt = new Date(options.expiryOf(index)).toISOString();
      expiries.set(id, options.expiryOf(index));
      const event = createEvent({
        topic: Topics.leaseIssued,
        source: '/rotor/bench',
        subject: id,
        data: {
          leaseId: id,
          role: 'bench-token',
          owner: 'team-bench',
          backend: 'opaque-token',
          workload: { namespace: options.namespace, serviceAccount: options.serviceAccount },
          issuedAt: new Date().toISOString(),
          expiresAt,
          maxExpiresAt: expiresAt,
          revocationHandle: { backend: 'opaque-token' },
        },
      });
      messages.push({ topic: Topics.leaseIssued, key: id, value: JSON.stringify(event), headers: { 'ce-id': event.id } });
    }
    await publisher.send(messages);
  }
  return expiries;
}
