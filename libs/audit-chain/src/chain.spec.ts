import { generateKeyPairSync } from 'node:crypto';

import type { AuditCheckpoint, AuditRecord } from '@rotor/contracts';

import { canonicalJson } from './canonical-json';
import { GENESIS, recordHash, sealLegacyRecord, sealRecord, type UnsignedRecord } from './chain';
import { ChainVerifier, REPEAT_WINDOW, type ChainVerifierOptions } from './chain-verifier';
import { AuditKeyring, auditKeyId, signCheckpoint } from './checkpoint';

const LEGACY_KEY = 'audit-key-for-tests-0123456789abcdef';
const CHAIN = 'rotor.lease.issued.v1:0';

const newSigner = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, keyId: auditKeyId(publicKey) };
};
const signer = newSigner();
const keyring = new AuditKeyring([signer.publicKey]);

const unsigned = (seq: number, prev: string, chain = CHAIN): Omit<UnsignedRecord, 'link'> => ({
  seq,
  chain,
  sourceTopic: 'rotor.lease.issued.v1',
  sourcePartition: 0,
  sourceOffset: String(seq),
  eventId: `${chain}-event-${seq}`,
  eventType: 'rotor.lease.issued.v1',
  known: true,
  recordedAt: new Date(Date.UTC(2026, 10, 27, 0, 0, seq)).toISOString(),
  event: { id: `event-${seq}`, data: { leaseId: `lease-${seq}` } },
  prev,
});

const chainOf = (length: number, chain = CHAIN, from: AuditRecord[] = []): AuditRecord[] => {
  const records = [...from];
  for (let seq = from.length; seq < from.length + length; seq++)
    records.push(sealRecord(unsigned(seq, records[seq - 1]?.hash ?? GENESIS, chain)));
  return records;
};

const legacyChainOf = (length: number): AuditRecord[] => {
  const records: AuditRecord[] = [];
  for (let seq = 0; seq < length; seq++) records.push(sealLegacyRecord(LEGACY_KEY, unsigned(seq, records[seq - 1]?.hash ?? GENESIS)));
  return records;
};

const checkpoint = (
  number: number,
  heads: AuditRecord[],
  { issuedAt = new Date(), partitions = 1, by = signer }: { issuedAt?: Date; partitions?: number; by?: typeof signer } = {},
): AuditCheckpoint =>
  signCheckpoint(
    {
      kind: 'checkpoint',
      number,
      issuedAt: issuedAt.toISOString(),
      intervalMs: 60_000,
      partitions,
      heads: heads.map((record) => ({ chain: record.chain, seq: record.seq, hash: record.hash, partition: 0 })),
    },
    by,
  );

type LogEntry = AuditRecord | AuditCheckpoint;

const verifierOver = (log: LogEntry[], options: Partial<ChainVerifierOptions> = {}) => {
  const verifier = new ChainVerifier({ keyring, ...options });
  const outcomes = log.map((entry, index) =>
    'kind' in entry
      ? verifier.addCheckpoint({ checkpoint: entry, partition: 0, offset: String(index) })
      : verifier.add({ record: entry, partition: 0, offset: String(index) }),
  );
  return { verifier, outcomes };
};
const verify = (log: LogEntry[], options: Partial<ChainVerifierOptions> = {}, now?: Date) =>
  verifierOver(log, options).verifier.result(now);

describe('audit chain: SHA-256 links, checked with the public key only', () => {
  it('hashes prev and the canonical record without a key, so anyone can recompute it', () => {
    const [record] = chainOf(1);
    const { hash, ...rest } = record!;
    expect(rest.link).toBe('sha256');
    expect(hash).toBe(recordHash(rest));
  });

  it('passes a good chain with a fresh checkpoint, and counts the records after it as its unanchored tail', () => {
    const records = chainOf(5);
    const log = [...records.slice(0, 3), checkpoint(1, [records[2]!]), ...records.slice(3)];
    expect(verify(log)).toMatchObject({ ok: true, records: 5, chains: 1, checkpoints: { count: 1, unanchoredTail: 2 } });
  });

  it('reports the exact position of a record whose content was altered', () => {
    const records = chainOf(5);
    records[3] = { ...records[3]!, event: { id: 'event-3', data: { leaseId: 'someone-else' } } };
    expect(verify([...records, checkpoint(1, [records[4]!])])).toMatchObject({
      ok: false,
      firstBreak: { offset: '3', seq: 3, reason: expect.stringMatching(/hash/) },
    });
  });

  it('catches a rewritten record whose hashes were all recomputed, by the checkpoint that vouched for the original', () => {
    const records = chainOf(5);
    const signed = checkpoint(1, [records[4]!]);
    const rewritten = [...records.slice(0, 2), sealRecord({ ...unsigned(2, records[1]!.hash), eventId: 'rewritten' })];
    const forgedLog = chainOf(2, CHAIN, rewritten);
    expect(verify([...forgedLog, signed])).toMatchObject({
      ok: false,
      firstBreak: { chain: 'checkpoint', seq: 1, reason: expect.stringMatching(/disagrees with .* at seq 4/) },
    });
  });

  it('reports a removed record as a gap', () => {
    const records = chainOf(5);
    records.splice(2, 1);
    expect(verify(records)).toMatchObject({ ok: false, firstBreak: { offset: '2', reason: 'expected seq 2, found 3' } });
  });

  it('reports a removed tail the checkpoint vouched for', () => {
    const records = chainOf(5);
    expect(verify([...records.slice(0, 3), checkpoint(1, [records[4]!])])).toMatchObject({
      ok: false,
      firstBreak: { reason: expect.stringMatching(/up to seq 4, but the log has it only to seq 2/) },
    });
  });

  it('fails when the checkpoint kept outside Kafka is ahead of the log (its tail dropped with its checkpoints)', () => {
    const records = chainOf(6);
    const first = checkpoint(1, [records[2]!]);
    const second = checkpoint(2, [records[5]!]);
    const { verifier } = verifierOver([...records.slice(0, 3), first]);
    verifier.setExternalCheckpoint(second);
    expect(verifier.result()).toMatchObject({
      ok: false,
      failures: [expect.stringMatching(/outside Kafka \(#2.*ahead of the log \(last #1\)/)],
    });

    const whole = verifierOver([...records.slice(0, 3), first, ...records.slice(3), second]).verifier;
    whole.setExternalCheckpoint(second);
    expect(whole.result()).toMatchObject({ ok: true, checkpoints: { external: { number: 2 }, unanchoredTail: 0 } });
  });

  it('fails when the last checkpoint is older than two intervals', () => {
    const records = chainOf(2);
    const log = [...records, checkpoint(1, [records[1]!], { issuedAt: new Date('2026-12-04T10:00:00Z') })];
    expect(verify(log, {}, new Date('2026-12-04T10:01:59Z'))).toMatchObject({ ok: true });
    expect(verify(log, {}, new Date('2026-12-04T10:02:01Z'))).toMatchObject({
      ok: false,
      failures: [expect.stringMatching(/older than two intervals/)],
    });
  });

  it('fails with no checkpoint at all', () => {
    expect(verify(chainOf(2))).toMatchObject({ ok: false, failures: [expect.stringMatching(/no signed checkpoint/)] });
  });

  it('refuses a forged checkpoint: another key, or an altered head under a real signature', () => {
    const records = chainOf(3);
    expect(verify([...records, checkpoint(1, [records[2]!], { by: newSigner() })])).toMatchObject({
      ok: false,
      firstBreak: { chain: 'checkpoint', reason: expect.stringMatching(/unknown key/) },
    });
    const genuine = checkpoint(1, [records[2]!]);
    const altered = { ...genuine, heads: [{ ...genuine.heads[0]!, seq: 1, hash: records[1]!.hash }] };
    expect(verify([...records, altered])).toMatchObject({
      ok: false,
      firstBreak: { reason: expect.stringMatching(/signature does not verify/) },
    });
  });

  it('accepts a checkpoint signed by an older key still in the keyring (rotation)', () => {
    const older = newSigner();
    const records = chainOf(2);
    const log = [...records.slice(0, 1), checkpoint(1, [records[0]!], { by: older }), records[1]!, checkpoint(2, [records[1]!])];
    expect(verify(log, { keyring: keyring.with(new AuditKeyring([older.publicKey])) })).toMatchObject({ ok: true });
    expect(verify(log)).toMatchObject({ ok: false });
  });

  it('fails when one partition ends before the last checkpoint written to every partition', () => {
    const records = chainOf(2);
    const verifier = new ChainVerifier({ keyring });
    const [first, second] = [checkpoint(1, [records[0]!], { partitions: 2 }), checkpoint(2, [records[1]!], { partitions: 2 })];
    verifier.add({ record: records[0]!, partition: 0, offset: '0' });
    verifier.addCheckpoint({ checkpoint: first, partition: 0, offset: '1' });
    verifier.addCheckpoint({ checkpoint: first, partition: 1, offset: '0' });
    verifier.add({ record: records[1]!, partition: 0, offset: '2' });
    verifier.addCheckpoint({ checkpoint: second, partition: 0, offset: '3' });
    expect(verifier.result()).toMatchObject({ ok: false, failures: [expect.stringMatching(/partition 1 ends before checkpoint #2/)] });
  });

  it('skips a byte-identical retry of the last record rather than calling it a break', () => {
    const records = chainOf(3);
    expect(verify([records[0]!, records[1]!, records[1]!, records[2]!, checkpoint(1, [records[2]!])])).toMatchObject({
      ok: true,
      records: 3,
      duplicatesSkipped: 1,
    });
  });

  it('skips a batch appended again after a crash, whole or in part, then goes on from the head', () => {
    const records = chainOf(7);
    const log = [...records.slice(0, 5), ...records.slice(2, 5), ...records.slice(2, 4), ...records.slice(5), checkpoint(1, [records[6]!])];
    expect(verify(log)).toMatchObject({ ok: true, records: 7, duplicatesSkipped: 5 });
  });

  it('calls an earlier seq with another record a fork, not a repeat: a record appended by someone else', () => {
    const records = chainOf(4);
    const fork = sealRecord({ ...unsigned(2, records[1]!.hash), eventId: 'forked' });
    expect(verify([...records, fork])).toMatchObject({
      ok: false,
      firstBreak: { offset: '4', seq: 2, reason: expect.stringMatching(/fork/) },
    });
  });

  it('calls a repeat a break once it is further back than the repeat window', () => {
    const records = chainOf(REPEAT_WINDOW + 2);
    const signed = checkpoint(1, [records.at(-1)!]);
    expect(verify([...records, records[1]!, signed])).toMatchObject({ ok: false, firstBreak: { seq: 1 } });
    expect(verify([...records, records[2]!, signed])).toMatchObject({ ok: true, duplicatesSkipped: 1 });
  });

  it('keeps chains of different partitions apart', () => {
    const a = chainOf(3, 'a:0');
    const b = chainOf(3, 'b:1');
    expect(verify([a[0]!, b[0]!, a[1]!, b[1]!, b[2]!, a[2]!, checkpoint(1, [a[2]!, b[2]!])])).toMatchObject({
      ok: true,
      chains: 2,
      records: 6,
    });
  });

  it('hashes canonical JSON, so key order does not matter', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: undefined } })).toBe('{"a":{"d":[1,{"e":3,"f":2}]},"b":1}');
  });
});

describe('where a chain may start', () => {
  it('calls a chain that starts after seq 0 broken: a deleted prefix is not a clean start', () => {
    const records = chainOf(6);
    expect(verify([...records.slice(3), checkpoint(1, [records[5]!])])).toMatchObject({
      ok: false,
      firstBreak: { offset: '0', seq: 3, reason: expect.stringMatching(/beginning is missing/) },
    });
  });

  it('accepts a chain whose log starts at a signed checkpoint', () => {
    const records = chainOf(6);
    expect(verify([checkpoint(1, [records[2]!]), ...records.slice(3), checkpoint(2, [records[5]!])])).toMatchObject({
      ok: true,
      records: 3,
      checkpoints: { startedAtCheckpoint: 1, unanchoredTail: 0 },
    });
  });
});

describe('upgrading from HMAC links', () => {
  it('verifies old records with the old key, and everything after the transition checkpoint with the public key alone', () => {
    const legacy = legacyChainOf(3);
    const log = [...legacy, checkpoint(1, [legacy[2]!]), ...chainOf(2, CHAIN, legacy).slice(3)];
    const newest = log.at(-1) as AuditRecord;
    const full = [...log, checkpoint(2, [newest])];
    expect(verify(full, { legacyKey: LEGACY_KEY })).toMatchObject({ ok: true, records: 5, legacyRecords: 3, legacyChecked: true });
    expect(verify(full)).toMatchObject({ ok: true, records: 5, legacyRecords: 3, legacyChecked: false });
    expect(verify(full, { legacyKey: 'another-key-0123456789abcdef012345' })).toMatchObject({ ok: false, firstBreak: { seq: 0 } });
  });

  it('refuses SHA-256 links after HMAC ones without a transition checkpoint, and HMAC links after it', () => {
    const legacy = legacyChainOf(3);
    const moved = chainOf(1, CHAIN, legacy);
    expect(verify(moved)).toMatchObject({
      ok: false,
      firstBreak: { seq: 3, reason: expect.stringMatching(/without a signed checkpoint/) },
    });
    const late = sealLegacyRecord(LEGACY_KEY, unsigned(3, legacy[2]!.hash));
    expect(verify([...legacy, checkpoint(1, [legacy[2]!]), late], { legacyKey: LEGACY_KEY })).toMatchObject({
      ok: false,
      firstBreak: { seq: 3, reason: expect.stringMatching(/HMAC-linked record after the signed transition checkpoint/) },
    });
  });
});

describe('verifying from a point in the log', () => {
  it('anchors each chain at its first record seen, and still catches an altered record after it', () => {
    const records = chainOf(6);
    const suffix = records.slice(3);
    expect(verify(suffix, { partial: true })).toMatchObject({ ok: true, records: 3, anchoredChains: 1 });

    const tampered = [suffix[0]!, { ...suffix[1]!, eventId: 'forged' }, suffix[2]!];
    const { verifier, outcomes } = verifierOver(tampered, { partial: true });
    expect(outcomes).toEqual(['ok', 'broken', 'broken']);
    expect(verifier.result().firstBreak).toMatchObject({ offset: '1', seq: 4 });
  });

  it('starting inside a run that was appended again, skips the repeat of records before the anchor', () => {
    const records = chainOf(7);
    const log = [...records.slice(0, 5), ...records.slice(2, 5), ...records.slice(5)];
    expect(verify(log.slice(3), { partial: true })).toMatchObject({ ok: true, records: 4, duplicatesSkipped: 3, anchoredChains: 1 });

    const forged = { ...records[2]!, eventId: 'forged' };
    expect(verifierOver([records[3]!, records[4]!, forged], { partial: true }).outcomes).toEqual(['ok', 'ok', 'broken']);
  });
});
