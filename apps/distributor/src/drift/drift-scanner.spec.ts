import type { Catalog } from '@rotor/catalog';
import { PublishTimeoutError, type EventPublisher } from '@rotor/kafka';
import type { Redis } from '@rotor/redis-store';
import type { DependencyGate } from '@rotor/service-kit';
import { Metrics, type Logger } from '@rotor/telemetry';

import type { DeliveryLedger } from '../delivery/delivery-ledger';
import type { DeliveryQueue } from '../delivery/delivery-queue';
import type { ValueReader } from '../delivery/value-reader';
import type { TargetWriters } from '../targets/target-writers';

import { DriftScanner } from './drift-scanner';

/** A scanner over one file target whose content was edited by hand, with Redis kept in a map. */
function scannerWithEditedTarget(publish: jest.Mock) {
  const marks = new Map<string, string>();
  const redis = {
    getset: (key: string, value: string) => {
      const previous = marks.get(key) ?? null;
      marks.set(key, value);
      return Promise.resolve(previous);
    },
    set: (key: string, value: string) => Promise.resolve(void marks.set(key, value)),
    del: (key: string) => Promise.resolve(marks.delete(key) ? 1 : 0),
  } as unknown as Redis;
  const catalog = { managedSecrets: [{ name: 'db-password', targets: [{ kind: 'file', name: 'app-file' }] }] } as unknown as Catalog;
  const writer = {
    locator: () => 'file:/srv/app/db-password',
    observe: () =>
      Promise.resolve({ kind: 'present', locator: 'file:/srv/app/db-password', version: 3, actualHash: 'edited', managedByRotor: true }),
  };
  const writers = { for: () => writer, has: () => false } as unknown as TargetWriters;
  const ledger = {
    held: () => Promise.resolve({ version: 3, contentHash: 'delivered', gsmVersion: 'projects/p/secrets/db-password/versions/3' }),
    isRetired: () => Promise.resolve(false),
  } as unknown as DeliveryLedger;
  const values = { contentHashLike: () => 'edited' } as unknown as ValueReader;
  const logger = { info: () => undefined, warn: () => undefined } as unknown as Logger;
  const scanner = new DriftScanner(
    catalog,
    writers,
    ledger,
    {} as DeliveryQueue,
    values,
    { publish } as unknown as EventPublisher,
    redis,
    logger,
    { timeoutMs: 1_500 } as DependencyGate,
    new Metrics('distributor-test'),
  );
  return { scanner, marks };
}

describe('DriftScanner', () => {
  it('publishes an open finding once, bounded by the dependency timeout', async () => {
    const publish = jest.fn(() => Promise.resolve());
    const { scanner } = scannerWithEditedTarget(publish);
    await scanner.scan();
    await scanner.scan();
    expect(publish).toHaveBeenCalledTimes(1);
    expect(publish).toHaveBeenCalledWith(expect.objectContaining({ data: expect.objectContaining({ drift: 'edited' }) }), {
      key: 'db-password',
      timeoutMs: 1_500,
    });
  });

  it('publishes a finding again on the next scan when its produce failed, never dropping it', async () => {
    const publish = jest
      .fn()
      .mockRejectedValueOnce(new PublishTimeoutError('drift finding not acknowledged within 1500 ms'))
      .mockResolvedValue(undefined);
    const { scanner, marks } = scannerWithEditedTarget(publish);
    const first = await scanner.scan();
    expect(first.errors).toEqual([{ target: 'app-file', reason: expect.stringContaining('PublishTimeoutError') }]);
    expect(marks.size).toBe(0); // the mark was taken back
    await scanner.scan();
    expect(publish).toHaveBeenCalledTimes(2);
    expect(marks.get('distributor:drift:file:/srv/app/db-password')).toBe('edited');
  });
});
