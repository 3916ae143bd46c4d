import { createHmac } from 'node:crypto';

import type { AuditRecord } from '@rotor/contracts';

import { canonicalJson } from './canonical-json';

export const GENESIS = '0'.repeat(64);

export type UnsignedRecord = Omit<AuditRecord, 'hash'>;

/** hash = HMAC-SHA256(key, prev ‖ canonical JSON of the record without its hash). */
export const recordHash = (key: string, record: UnsignedRecord): string =>
  createHmac('sha256', key).update(record.prev).update(canonicalJson(record)).digest('hex');

export const sealRecord = (key: string, record: UnsignedRecord): AuditRecord => ({ ...record, hash: recordHash(key, record) });

export interface ChainHead {
  seq: number;
  hash: string;
}

export interface LocatedRecord {
  record: AuditRecord;
  partition: number;
  offset: string;
}

export interface ChainBreak {
  partition: number;
  offset: string;
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
  /** The first seq verified (an anchor or a start head); records before it are unknown here. */
  floor: number;
}

/**
 * Verifies records in log order. Each chain (one per source topic-partition) must run
 * seq 0, 1, 2… with every `prev` equal to the previous hash and every hash recomputing.
 * A byte-identical repeat of one of a chain's last {@link REPEAT_WINDOW} records (a batch
 * appended again after a crash) is skipped, not counted as a break.
 */
export class ChainVerifier {
  private readonly heads = new Map<string, VerifiedChain>();
  private checked = 0;
  private anchored = 0;
  private duplicates = 0;
  private firstBreak?: ChainBreak;

  constructor(
    private readonly key: string,
    /** Heads to continue from when verifying a suffix of the log. */
    startHeads: Map<string, ChainHead> = new Map(),
    /**
     * Verifying from a point in the log rather than its start: the first record seen of a chain
     * is taken as its anchor (its own hash must recompute; what came before it is not checked).
     */
    private readonly anchorUnknownChains = false,
  ) {
    for (const [chain, head] of startHeads) this.advance(chain, head);
  }

  /** 'broken' at the first break and after it (later records are not checked); 'duplicate' for a skipped repeat. */
  add({ record, partition, offset }: LocatedRecord): 'ok' | 'duplicate' | 'broken' {
    if (this.firstBreak) return 'broken';
    const { hash, ...unsigned } = record;
    const head = this.heads.get(record.chain);
    const fail = (reason: string) => {
      this.firstBreak = { partition, offset, chain: record.chain, seq: record.seq, reason };
      return 'broken' as const;
    };
    if (head && this.isRepeat(head, record) && recordHash(this.key, unsigned) === hash) {
      this.duplicates++;
      return 'duplicate';
    }
    if (!head && this.anchorUnknownChains && record.seq > 0) {
      if (recordHash(this.key, unsigned) !== hash) return fail('hash does not match the record (altered, or another key)');
      this.advance(record.chain, { seq: record.seq, hash });
      this.checked++;
      this.anchored++;
      return 'ok';
    }
    const expectedSeq = head ? head.seq + 1 : 0;
    if (record.seq !== expectedSeq) return fail(`expected seq ${expectedSeq}, found ${record.seq}`);
    const expectedPrev = head?.hash ?? GENESIS;
    if (record.prev !== expectedPrev) return fail('prev does not match the previous record');
    if (recordHash(this.key, unsigned) !== hash) return fail('hash does not match the record (altered, or another key)');
    this.advance(record.chain, { seq: record.seq, hash });
    this.checked++;
    return 'ok';
  }

  /**
   * A record the chain already has. Verifying from mid-log, a repeated run may start before the
   * anchor: a sealed record from just before it is taken as a repeat, as it cannot be compared.
   */
  private isRepeat(head: VerifiedChain, record: AuditRecord): boolean {
    if (record.seq < head.floor) return record.seq > head.floor - REPEAT_WINDOW;
    return record.seq <= head.seq && record.seq > head.seq - REPEAT_WINDOW && head.recent[record.seq % REPEAT_WINDOW] === record.hash;
  }

  private advance(chain: string, { seq, hash }: ChainHead): void {
    const verified = this.heads.get(chain) ?? { seq, hash, recent: [], floor: seq };
    verified.seq = seq;
    verified.hash = hash;
    verified.recent[seq % REPEAT_WINDOW] = hash;
    this.heads.set(chain, verified);
  }

  result() {
    return {
      ok: !this.firstBreak,
      records: this.checked,
      duplicatesSkipped: this.duplicates,
      chains: this.heads.size,
      /** Chains whose verification started mid-chain (a replay from a time or offset). */
      anchoredChains: this.anchored,
      ...(this.firstBreak ? { firstBreak: this.firstBreak } : {}),
    };
  }
}
