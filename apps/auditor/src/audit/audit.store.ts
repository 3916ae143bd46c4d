import { Injectable } from '@nestjs/common';

import { ChainState, StateMarkers, ViewWriter, type AppendState, type Reservation } from '@rotor/audit-store';
import type { AuditRecord } from '@rotor/contracts';

export type { AppendState, Reservation, StoredHead } from '@rotor/audit-store';

/**
 * What the appender needs of the auditor's database: chain heads with their reservations, the
 * dedupe marks, the state marker, and one transaction per run that records it in every view.
 */
@Injectable()
export class AuditStore {
  constructor(
    private readonly chains: ChainState,
    private readonly writer: ViewWriter,
  ) {}

  /** One snapshot: the state marker, the chain's head, and which of these events were recorded already. */
  appendState(chain: string, eventIds: readonly string[]): Promise<AppendState> {
    return this.chains.appendState(chain, eventIds);
  }

  /** The source event time of a chain's record, when the views hold it. */
  recordedAt(chain: string, seq: number): Promise<Date | undefined> {
    return this.chains.recordedAt(chain, seq);
  }

  /** Whether any chain head is stored: state written before the marker existed. */
  hasAnyChainHead(): Promise<boolean> {
    return this.chains.hasAnyChainHead();
  }

  /** Marks the database as holding the auditor's state. */
  markInitialized(): Promise<void> {
    return this.chains.setMarker(StateMarkers.initialized);
  }

  /** Claims the seqs of consecutive records of one chain, `records[0]` continuing the current head. */
  reserve(records: readonly AuditRecord[]): Promise<Reservation> {
    return this.chains.reserve(records);
  }

  /** One transaction: the records in every view, their events marked seen, and the chain head moved to the last. */
  recordAppended(records: readonly AuditRecord[]): Promise<void> {
    return this.writer.write(records, { countForCheckpoint: true });
  }
}
