import { createHash, createHmac } from 'node:crypto';

import type { AuditRecord } from '@rotor/contracts';

import { canonicalJson } from './canonical-json';

export const GENESIS = '0'.repeat(64);

export type UnsignedRecord = Omit<AuditRecord, 'hash'>;

/**
 * hash = SHA-256(prev ‖ canonical JSON of the record without its hash). Unkeyed, so anyone can
 * recompute it; what stops a rewrite is the signed checkpoints over the chain heads.
 */
export const recordHash = (record: UnsignedRecord): string =>
  createHash('sha256').update(record.prev).update(canonicalJson(record)).digest('hex');

export const sealRecord = (record: Omit<UnsignedRecord, 'link'>): AuditRecord => {
  const linked: UnsignedRecord = { ...record, link: 'sha256' };
  return { ...linked, hash: recordHash(linked) };
};

/** The link of records written before checkpoints existed: HMAC-SHA256(key, prev ‖ canonical JSON). */
export const legacyRecordHash = (key: string, record: UnsignedRecord): string =>
  createHmac('sha256', key).update(record.prev).update(canonicalJson(record)).digest('hex');

/** A record as the previous auditor wrote it (upgrade tests, and verifying old records with the key). */
export const sealLegacyRecord = (key: string, record: Omit<UnsignedRecord, 'link'>): AuditRecord => ({
  ...record,
  hash: legacyRecordHash(key, record),
});

export interface ChainHead {
  seq: number;
  hash: string;
}
