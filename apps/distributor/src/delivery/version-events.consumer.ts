import { Inject, Injectable } from '@nestjs/common';

import { findManagedSecret, type Catalog } from '@rotor/catalog';
import { Topics } from '@rotor/contracts';
import { onEvent } from '@rotor/kafka';
import { KafkaLifecycle } from '@rotor/nest-kafka';

import { CopyFingerprints } from '../copies/copy-fingerprints';
import { CATALOG } from '../platform/tokens';

import { DeliveryLedger } from './delivery-ledger';
import { DeliveryQueue } from './delivery-queue';
import { EventReferences } from './event-references';

/**
 * Turns version events into durable delivery jobs. Their references are checked first
 * ({@link EventReferences}): the GSM name every job carries is rebuilt from configuration,
 * never copied from the event. Each handler resolves once every job is
 * in Redis, so the offset is committed only after the fan-out cannot be forgotten; handling
 * an event twice enqueues nothing new.
 */
@Injectable()
export class VersionEventsConsumer {
  constructor(
    kafka: KafkaLifecycle,
    @Inject(CATALOG) catalog: Catalog,
    ledger: DeliveryLedger,
    queue: DeliveryQueue,
    copies: CopyFingerprints,
    references: EventReferences,
  ) {
    kafka
      .consumer({ groupId: 'rotor-distributor-delivery' })
      .subscribe(
        onEvent(Topics.secretVersionCreated, async ({ data }, context) => {
          const { gsmVersion, secret } = await references.checkVersion(data);
          if (!secret) {
            context.logger.warn({ secret: data.secret }, 'version of a secret removed from the catalog; nothing to deliver');
            return;
          }
          if (await ledger.isRetired(data.secret, data.version)) return; // a late replay of a retired version
          for (const target of secret.targets) {
            const copy = { secret: data.secret, version: data.version, gsmVersion, target };
            const isNew = await ledger.addPending(copy);
            const existing = isNew ? undefined : await ledger.get(data.secret, data.version, target.name);
            if (isNew || existing?.state === 'pending' || existing?.state === 'failed')
              await queue.enqueue({ op: 'deliver', ...copy, versionCreatedAt: data.createdAt });
          }
          // Fingerprinted now, while GSM still holds the value: copy discovery looks for it after retirement too.
          await copies.versionCreated({ ...data, gsmVersion });
        }),
      )
      .subscribe(
        onEvent(Topics.secretVersionRetired, async ({ data }) => {
          const { gsmVersion } = await references.checkVersion(data);
          await ledger.markRetired(data.secret, data.version, new Date(data.retiredAt));
          await copies.versionRetired({ ...data, gsmVersion });
          // Every target the version may be at: the catalog's now, and any the ledger remembers.
          const targets = new Map((findManagedSecret(catalog, data.secret)?.targets ?? []).map((target) => [target.name, target]));
          for (const copy of await ledger.copiesOfVersion(data.secret, data.version))
            if (!targets.has(copy.target.name)) targets.set(copy.target.name, copy.target);
          for (const target of targets.values()) {
            const copy = { secret: data.secret, version: data.version, gsmVersion, target };
            await queue.cancel({ op: 'deliver', ...copy });
            await ledger.addPending(copy);
            await queue.enqueue({ op: 'remove', ...copy });
          }
        }),
      );
  }
}
