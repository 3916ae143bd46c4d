import { Injectable } from '@nestjs/common';

import type { ChainHead } from '@rotor/audit-chain';
import { ChainState, type CheckpointState } from '@rotor/audit-store';

export type { CheckpointState } from '@rotor/audit-store';

const LOCK = 'checkpoint';

/**
 * The auditor's checkpoint bookkeeping in its database: the last checkpoint, the records since,
 * and a lock so one replica at a time signs (the heads of every chain, whoever appends them).
 */
@Injectable()
export class CheckpointStore {
  constructor(private readonly chains: ChainState) {}

  state(): Promise<CheckpointState> {
    return this.chains.checkpointState();
  }

  tryLock(token: string, ttlMs: number): Promise<boolean> {
    return this.chains.tryLock(LOCK, token, ttlMs);
  }

  unlock(token: string): Promise<void> {
    return this.chains.unlock(LOCK, token);
  }

  /** Takes the next checkpoint number before anything is written (see ChainState.nextCheckpointNumber). */
  nextNumber(floor: () => Promise<number>): Promise<number> {
    return this.chains.nextCheckpointNumber(floor);
  }

  /** Every chain's confirmed head: its records are all in Kafka (a head moves only after the produce). */
  heads(): Promise<(ChainHead & { chain: string })[]> {
    return this.chains.heads();
  }

  /** The checkpoint is written: it is the last, and the records it covers no longer count towards the next. */
  written(issuedAt: string, appendedBefore: number): Promise<void> {
    return this.chains.checkpointWritten(issuedAt, appendedBefore);
  }
}
