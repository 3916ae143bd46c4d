import { z } from 'zod';

import { TargetSchema, type Target } from '@rotor/catalog';
import { byKind, TargetKindSchema } from '@rotor/contracts';

import { TARGET_KINDS } from '../delivery/delivery-queue';

import type { Observation, RemoveOutcome, TargetWriter, VersionCopy, WriteOutcome } from './target-writer';
import { TargetWriters } from './target-writers';

/*
 * The recipe of docs/extending.md followed once, with a target that exists only in this spec:
 * its catalog schema, one file implementing TargetWriter, one writers line. Nothing in
 * production lists it; the generic parts (catalog union, writers by kind, a schedule per kind)
 * take it as they take rotor's own.
 */

// 1. Its catalog schema: one entry of the managed secret's `targets` union.
const memoryTarget = z.object({ kind: z.literal('test-memory'), name: z.string().min(1), slot: z.string().min(1) });
type MemoryTarget = z.infer<typeof memoryTarget>;
const targetWithMemory = z.discriminatedUnion('kind', [...TargetSchema.options, memoryTarget]);

// 2. One file implementing the interface: conditional writes, as every writer's are.
class MemoryTargetWriter implements TargetWriter<MemoryTarget> {
  readonly kind = 'test-memory' as const;
  readonly slots = new Map<string, { version: number; contentHash: string; value: Buffer }>();

  locator(target: MemoryTarget): string {
    return `memory:${target.slot}`;
  }

  async write(target: MemoryTarget, copy: VersionCopy): Promise<WriteOutcome> {
    const locator = this.locator(target);
    const held = this.slots.get(target.slot);
    if (held && held.version > copy.version) return { kind: 'superseded', locator, heldVersion: held.version };
    if (held?.version === copy.version && held.contentHash === copy.contentHash) return { kind: 'unchanged', locator };
    this.slots.set(target.slot, { version: copy.version, contentHash: copy.contentHash, value: copy.value });
    return { kind: 'written', locator };
  }

  async remove(target: MemoryTarget, copy: { version: number }): Promise<RemoveOutcome> {
    const locator = this.locator(target);
    const held = this.slots.get(target.slot);
    if (!held) return { kind: 'absent', locator };
    if (held.version !== copy.version) return { kind: 'holds-other-version', locator, heldVersion: held.version };
    this.slots.delete(target.slot);
    return { kind: 'removed', locator };
  }

  async observe(target: MemoryTarget, hashOf: (value: Buffer) => string): Promise<Observation> {
    const held = this.slots.get(target.slot);
    if (!held) return { kind: 'missing', locator: this.locator(target) };
    return {
      kind: 'present',
      locator: this.locator(target),
      version: held.version,
      recordedHash: held.contentHash,
      actualHash: hashOf(held.value),
      managedByRotor: true,
    };
  }
}

// 3. One writers line (a test set of writers: this kind next to rotor's own).
const writersWith = (memory: MemoryTargetWriter) => new TargetWriters<Target | MemoryTarget>({ 'test-memory': memory });

const copy = (version: number): VersionCopy => ({
  secret: 'payments-api-key',
  version,
  gsmVersion: `projects/p/secrets/payments-api-key/versions/${version}`,
  contentHash: `hash-${version}`,
  value: Buffer.from(`value-${version}`),
});

describe('a delivery target added by the recipe of docs/extending.md, registered only in this test', () => {
  it('is not one of rotor’s production kinds', () => {
    expect(TargetKindSchema.options).not.toContain('test-memory');
    expect(TARGET_KINDS).toEqual(TargetKindSchema.options);
  });

  it('is declared in a catalog through its own schema next to the production ones', () => {
    const declared = targetWithMemory.parse({ kind: 'test-memory', name: 'cache', slot: 'a' });
    expect(declared).toEqual({ kind: 'test-memory', name: 'cache', slot: 'a' });
    expect(targetWithMemory.safeParse({ kind: 'test-memory', name: 'cache' }).success).toBe(false);
    expect(
      targetWithMemory.parse({ kind: 'webhook', name: 'n', url: 'https://r.example/hook', signingKeyEnv: 'ROTOR_WEBHOOK_KEY_R' }),
    ).toMatchObject({
      kind: 'webhook',
    });
  });

  it('is written, kept, superseded, observed and removed through the writers by its kind', async () => {
    const memory = new MemoryTargetWriter();
    const writers = writersWith(memory);
    const target = memoryTarget.parse(targetWithMemory.parse({ kind: 'test-memory', name: 'cache', slot: 'a' }));
    expect(writers.has('test-memory')).toBe(true);
    expect(writers.has('file')).toBe(false);

    const writer = writers.for(target);
    expect(await writer.write(target, copy(2))).toEqual({ kind: 'written', locator: 'memory:a' });
    expect(await writer.write(target, copy(2))).toEqual({ kind: 'unchanged', locator: 'memory:a' });
    expect(await writer.write(target, copy(1))).toEqual({ kind: 'superseded', locator: 'memory:a', heldVersion: 2 });
    expect(await writer.observe?.(target, (value) => `h:${value.toString()}`)).toMatchObject({ version: 2, actualHash: 'h:value-2' });
    expect(await writer.remove(target, { ...copy(1) })).toEqual({ kind: 'holds-other-version', locator: 'memory:a', heldVersion: 2 });
    expect(await writer.remove(target, { ...copy(2) })).toEqual({ kind: 'removed', locator: 'memory:a' });
  });

  it('gets a delivery schedule of its own, named like the production kinds’ (distributor:schedule:<kind>)', () => {
    const prefixes = byKind([...TARGET_KINDS, 'test-memory'], (kind) => `distributor:schedule:${kind}`);
    expect(prefixes).toEqual({
      'kubernetes-secret': 'distributor:schedule:kubernetes-secret',
      file: 'distributor:schedule:file',
      webhook: 'distributor:schedule:webhook',
      'test-memory': 'distributor:schedule:test-memory',
    });
  });
});
