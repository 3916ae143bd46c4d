import type { AuditCheckpoint, AuditRecord } from '@rotor/contracts';

import { legacyRecordHash, recordHash, type ChainHead } from './chain';
import { checkCheckpointSignature, type AuditKeyring } from './checkpoint';

export interface LocatedRecord {
  record: AuditRecord;
  partition: number;
  offset: string;
}

export interface LocatedCheckpoint {
  checkpoint: AuditCheckpoint;
  partition: number;
  offset: string;
}

export interface ChainBreak {
  partition: number;
  offset: string;
  /** The chain, or `checkpoint` when a checkpoint is what is wrong (then `seq` is its number). */
  chain: string;
  seq: number;
  reason: string;
}

/**
 * How far back a repeated record is recognized: the auditor appends up to a batch at a time,
 * and after a crash it produces the unconfirmed batch again, so at most one batch repeats.
 */
export const REPEAT_WINDOW = 1024;

/** A chain's head and the hashes of its last REPEAT_WINDOW records (by seq modulo the window). */
interface VerifiedChain extends ChainHead {
  recent: string[];
  /** The first seq verified (an anchor); records before it are unknown here. */
  floor: number;
  /** The audit topic partition holding the chain: a checkpoint's copy there vouches for it. */
  partition: number;
  /** The head record is HMAC-linked (written before checkpoints existed). */
  legacy: boolean;
  /** The highest seq a signed checkpoint vouched for. */
  checkpointed?: number;
}

interface PartitionCheckpoint {
  number: number;
  issuedAt: string;
  intervalMs: number;
  partitions: number;
  keyId: string;
  signature: string;
}

export interface ChainVerifierOptions {
  /** The public keys checkpoints may be signed with: all a verifier needs. */
  keyring: AuditKeyring;
  /**
   * ROTOR_AUDIT_KEY, optional: with it, records written before the transition (HMAC-linked) are
   * checked too; without it they are only checked to link up, and counted as `legacyUnchecked`.
   */
  legacyKey?: string;
  /**
   * Verifying part of the log (from or to a point): the first record seen of a chain is taken as
   * its anchor, and the log's end (freshness, dropped tails, the copy outside Kafka) is not judged.
   */
  partial?: boolean;
}

export type VerifyOutcome = 'ok' | 'duplicate' | 'broken';

/**
 * Verifies the audit log in partition order (partitions may interleave). Each chain (one per
 * source topic-partition) runs seq 0, 1, 2… with every `prev` equal to the previous hash and
 * every hash recomputing. Signed checkpoints (a copy in every partition) vouch for the chain
 * heads of their partition: a rewritten, deleted or forged record, a forged checkpoint, a
 * removed tail and a stale log all fail, with no secret at hand.
 *
 * A byte-identical repeat of one of a chain's last {@link REPEAT_WINDOW} records (a batch
 * appended again after a crash) is skipped, not counted as a break.
 */
export class ChainVerifier {
  private readonly heads = new Map<string, VerifiedChain>();
  private readonly lastCheckpoint = new Map<number, PartitionCheckpoint>();
  private readonly checkpointSignatures = new Map<number, string>();
  private latest?: PartitionCheckpoint;
  private external?: { number: number; issuedAt: string; failure?: string };
  private externalSignature?: string;
  private checked = 0;
  private anchored = 0;
  private startedAtCheckpoint = 0;
  private duplicates = 0;
  private legacyRecords = 0;
  private firstBreak?: ChainBreak;

  constructor(private readonly options: ChainVerifierOptions) {}

  /** 'broken' at the first break and after it (later records are not checked); 'duplicate' for a skipped repeat. */
  add({ record, partition, offset }: LocatedRecord): VerifyOutcome {
    if (this.firstBreak) return 'broken';
    const head = this.heads.get(record.chain);
    const fail = (reason: string) => this.fail({ partition, offset, chain: record.chain, seq: record.seq, reason });
    const legacy = record.link !== 'sha256';
    const hashFailure = this.hashFailure(record);
    if (head && this.isRepeat(head, record) && !hashFailure) {
      this.duplicates++;
      return 'duplicate';
    }
    if (head && head.partition !== partition)
      return fail(`the chain is also in partition ${head.partition}: one chain lives in one partition`);
    if (!head && record.seq > 0) {
      if (!this.options.partial)
        return fail(`the chain starts at seq ${record.seq}: its beginning is missing (neither genesis nor a signed checkpoint)`);
      if (hashFailure) return fail(hashFailure);
      this.anchored++;
    } else {
      const expectedSeq = head ? head.seq + 1 : 0;
      if (head && record.seq <= head.seq && record.seq > head.seq - REPEAT_WINDOW && record.seq >= head.floor)
        return fail(`seq ${record.seq} appears twice with different content (a fork: one of them was not written by the auditor)`);
      if (record.seq !== expectedSeq) return fail(`expected seq ${expectedSeq}, found ${record.seq}`);
      if (record.prev !== (head?.hash ?? '0'.repeat(64))) return fail('prev does not match the previous record');
      if (hashFailure) return fail(hashFailure);
    }
    if (legacy) {
      // The auditor writes its first checkpoint to every partition before any SHA-256 record: an
      // HMAC-linked record after one was not written by it (or a verifier could not check it).
      if (this.lastCheckpoint.has(partition)) return fail('an HMAC-linked record after the signed transition checkpoint');
      this.legacyRecords++;
    } else if (head?.legacy && head.checkpointed !== head.seq) {
      return fail('the chain moves from HMAC to SHA-256 links without a signed checkpoint over its last HMAC record');
    }
    this.advance(record.chain, { seq: record.seq, hash: record.hash, partition, legacy });
    this.checked++;
    return 'ok';
  }

  /** A checkpoint copy in `partition`: it vouches for the chains of that partition. */
  addCheckpoint({ checkpoint, partition, offset }: LocatedCheckpoint): VerifyOutcome {
    if (this.firstBreak) return 'broken';
    const fail = (reason: string) =>
      this.fail({ partition, offset, chain: 'checkpoint', seq: checkpoint.number, reason: `checkpoint #${checkpoint.number}: ${reason}` });
    const signature = checkCheckpointSignature(checkpoint, this.options.keyring);
    if (signature === 'unknown-key') return fail(`signed by an unknown key (${checkpoint.keyId})`);
    if (signature === 'invalid') return fail('the signature does not verify (forged or altered)');
    const previous = this.lastCheckpoint.get(partition);
    if (previous && checkpoint.number <= previous.number) {
      if (checkpoint.number === previous.number && checkpoint.signature === previous.signature) {
        this.duplicates++;
        return 'duplicate';
      }
      return fail(`follows checkpoint #${previous.number} in this partition`);
    }
    const listed = new Set<string>();
    for (const vouched of checkpoint.heads) {
      if (vouched.partition !== partition) continue;
      listed.add(vouched.chain);
      const chain = this.heads.get(vouched.chain);
      if (!chain) {
        // The log before this checkpoint has none of the chain: it starts here, at a signed head.
        this.advance(vouched.chain, { seq: vouched.seq, hash: vouched.hash, partition, legacy: false });
        this.heads.get(vouched.chain)!.checkpointed = vouched.seq;
        this.startedAtCheckpoint++;
        continue;
      }
      if (vouched.seq > chain.seq)
        return fail(`vouches for ${vouched.chain} up to seq ${vouched.seq}, but the log has it only to seq ${chain.seq} (records removed)`);
      if (vouched.seq < chain.floor) {
        if (this.options.partial) continue;
        return fail(`vouches for ${vouched.chain} at seq ${vouched.seq}, before the chain's start in the log`);
      }
      if (chain.seq - vouched.seq >= REPEAT_WINDOW)
        return fail(`vouches for ${vouched.chain} at seq ${vouched.seq}, more than ${REPEAT_WINDOW} records behind the log`);
      if (chain.recent[vouched.seq % REPEAT_WINDOW] !== vouched.hash)
        return fail(`disagrees with ${vouched.chain} at seq ${vouched.seq} (a record was rewritten or replaced)`);
      chain.checkpointed = Math.max(chain.checkpointed ?? -1, vouched.seq);
    }
    for (const [name, chain] of this.heads) {
      if (chain.partition === partition && chain.checkpointed !== undefined && !listed.has(name))
        return fail(`omits ${name}, which an earlier checkpoint vouched for`);
    }
    const kept: PartitionCheckpoint = { ...checkpoint };
    this.lastCheckpoint.set(partition, kept);
    this.checkpointSignatures.set(checkpoint.number, checkpoint.signature);
    if (!this.latest || checkpoint.number > this.latest.number) this.latest = kept;
    return 'ok';
  }

  /**
   * The latest checkpoint kept outside Kafka (GSM). Read it before reading the topic: the
   * auditor writes Kafka first, so the topic read afterwards must hold it.
   */
  setExternalCheckpoint(checkpoint: AuditCheckpoint | undefined): void {
    if (!checkpoint) return;
    const signature = checkCheckpointSignature(checkpoint, this.options.keyring);
    this.external = {
      number: checkpoint.number,
      issuedAt: checkpoint.issuedAt,
      ...(signature === 'valid'
        ? {}
        : { failure: `the checkpoint kept outside Kafka (#${checkpoint.number}) does not verify (${signature})` }),
    };
    this.externalSignature = checkpoint.signature;
  }

  result(now: Date = new Date()) {
    const failures: string[] = [];
    const latest = this.latest;
    if (!this.options.partial) {
      if (!latest) {
        if (this.checked > 0) failures.push('no signed checkpoint in the log: nothing vouches for its records');
      } else {
        const ageMs = now.getTime() - Date.parse(latest.issuedAt);
        if (ageMs > 2 * latest.intervalMs)
          failures.push(
            `the last checkpoint (#${latest.number}, ${latest.issuedAt}) is older than two intervals (${latest.intervalMs} ms each): ` +
              'the auditor stopped signing, or the end of the log was removed',
          );
        for (let partition = 0; partition < latest.partitions; partition++) {
          const last = this.lastCheckpoint.get(partition);
          if (!last || last.number < latest.number)
            failures.push(
              `partition ${partition} ends before checkpoint #${latest.number} (its last is ${last ? `#${last.number}` : 'none'}): its tail was removed`,
            );
        }
      }
      if (this.external) {
        const { number } = this.external;
        if (this.external.failure) failures.push(this.external.failure);
        else if (!latest || number > latest.number)
          failures.push(
            `the checkpoint kept outside Kafka (#${number}, ${this.external.issuedAt}) is ahead of the log (last #${latest?.number ?? 'none'}): the end of the log was removed`,
          );
        else if (this.checkpointSignatures.get(number) !== this.externalSignature)
          failures.push(
            `checkpoint #${number} kept outside Kafka is ${this.checkpointSignatures.has(number) ? 'not the one in' : 'missing from'} the log`,
          );
      }
    }
    let unanchoredTail = 0;
    for (const chain of this.heads.values()) unanchoredTail += chain.seq - (chain.checkpointed ?? chain.floor - 1);
    return {
      ok: !this.firstBreak && failures.length === 0,
      records: this.checked,
      duplicatesSkipped: this.duplicates,
      chains: this.heads.size,
      /** Chains whose verification started mid-chain (a replay from a time or offset). */
      anchoredChains: this.anchored,
      /** Records written before the transition to SHA-256 links; checked only with ROTOR_AUDIT_KEY. */
      legacyRecords: this.legacyRecords,
      legacyChecked: this.legacyRecords === 0 || !!this.options.legacyKey,
      checkpoints: {
        count: this.checkpointSignatures.size,
        ...(latest ? { last: { number: latest.number, issuedAt: latest.issuedAt, keyId: latest.keyId } } : {}),
        /** Records after the last checkpoint that vouches for them: not yet protected by a signature. */
        unanchoredTail,
        /** Chains whose log starts at a signed checkpoint rather than at genesis. */
        startedAtCheckpoint: this.startedAtCheckpoint,
        ...(this.external ? { external: { number: this.external.number, issuedAt: this.external.issuedAt } } : {}),
      },
      ...(failures.length ? { failures } : {}),
      ...(this.firstBreak ? { firstBreak: this.firstBreak } : {}),
    };
  }

  private hashFailure(record: AuditRecord): string | undefined {
    const { hash, ...unsigned } = record;
    if (record.link === 'sha256') return recordHash(unsigned) === hash ? undefined : 'hash does not match the record (altered)';
    if (!this.options.legacyKey) return undefined; // linked up, its content unchecked: counted in the result
    return legacyRecordHash(this.options.legacyKey, unsigned) === hash
      ? undefined
      : 'HMAC does not match the record (altered, or another key)';
  }

  private fail(at: ChainBreak): 'broken' {
    this.firstBreak = at;
    return 'broken';
  }

  /**
   * A record the chain already has. Verifying from mid-log, a repeated run may start before the
   * anchor: a sealed record from just before it is taken as a repeat, as it cannot be compared.
   */
  private isRepeat(head: VerifiedChain, record: AuditRecord): boolean {
    if (record.seq < head.floor) return !!this.options.partial && record.seq > head.floor - REPEAT_WINDOW;
    return record.seq <= head.seq && record.seq > head.seq - REPEAT_WINDOW && head.recent[record.seq % REPEAT_WINDOW] === record.hash;
  }

  private advance(chain: string, { seq, hash, partition, legacy }: ChainHead & { partition: number; legacy: boolean }): void {
    const verified = this.heads.get(chain) ?? { seq, hash, recent: [], floor: seq, partition, legacy };
    verified.seq = seq;
    verified.hash = hash;
    verified.legacy = legacy;
    verified.recent[seq % REPEAT_WINDOW] = hash;
    this.heads.set(chain, verified);
  }
}
