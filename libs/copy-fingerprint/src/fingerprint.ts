import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

import type { FingerprintForm } from './alphabet';

/** The text a managed value can appear as, one entry per form this scan looks for. */
export interface FingerprintText {
  form: FingerprintForm;
  text: Buffer;
}

/** A keyed hash of one form of one managed version: what crosses the wire instead of the value. */
export interface Fingerprint {
  secret: string;
  version: number;
  form: FingerprintForm;
  /** Length in bytes of the text that was hashed: tells the matcher which windows to hash. */
  length: number;
  /** HMAC-SHA256(scan key, text), hex. */
  hmac: string;
  /**
   * The low PREFILTER_BITS bits of a keyed rolling hash of the text, so a matcher computes the
   * HMAC only for windows that pass this cheap test. Absent for low-entropy values (see docs).
   */
  prefilter?: number;
}

/** Prime below 2^26: products of two residues stay below 2^52, exact in a double. */
export const ROLLING_MODULUS = 67_108_859;
export const PREFILTER_BITS = 16;
export const PREFILTER_MASK = (1 << PREFILTER_BITS) - 1;

/** The secret a scan compares with: an HMAC key, and the base of the rolling prefilter hash derived from it. */
export interface ScanKey {
  hmac: KeyObject;
  base: number;
}

export function scanKeyFrom(key: Buffer | string): ScanKey {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'hex') : key;
  if (bytes.length < 32) throw new Error('a scan key has at least 32 bytes');
  const derived = createHmac('sha256', bytes).update('rotor/copy-scan/rolling-base').digest();
  return { hmac: createSecretKey(bytes), base: 2 + (derived.readUInt32BE(0) % (ROLLING_MODULUS - 3)) };
}

const BASE64_BITS = 6;

/**
 * The forms a value is searched in: itself, and the base64 characters that encode it whatever
 * its position in a larger base64-encoded blob (three byte alignments). For each alignment only
 * the characters whose six bits come from the value alone are kept, so a value found inside a
 * base64-encoded `.env` file or connection string matches as well as one stored on its own.
 */
export function fingerprintTexts(value: Buffer): FingerprintText[] {
  const texts: FingerprintText[] = [{ form: 'raw', text: Buffer.from(value) }];
  for (let align = 0; align < 3; align++) {
    // Padding bytes before (alignment) and after (so the last value bits are encoded in full).
    const encoded = Buffer.concat([Buffer.alloc(align), value, Buffer.alloc(2)]).toString('base64');
    const first = Math.ceil((align * 8) / BASE64_BITS);
    const end = Math.floor(((align + value.length) * 8) / BASE64_BITS);
    if (end - first < 8) continue; // too short to mean anything on its own
    texts.push({ form: 'base64', text: Buffer.from(encoded.slice(first, end), 'latin1') });
  }
  return texts;
}

export function hmacOf(key: ScanKey, text: Uint8Array): string {
  return createHmac('sha256', key.hmac).update(text).digest('hex');
}

/** Polynomial hash of `text[start, start+length)` modulo ROLLING_MODULUS with the key's base. */
export function rollingHashOf(key: ScanKey, text: Uint8Array, start = 0, length = text.length - start): number {
  let hash = 0;
  for (let index = start; index < start + length; index++) hash = (hash * key.base + text[index]!) % ROLLING_MODULUS;
  return hash;
}

/** Every fingerprint of one managed version under one key. */
export function fingerprintsOf(key: ScanKey, version: { secret: string; version: number }, value: Buffer): Fingerprint[] {
  return fingerprintTexts(value).map(({ form, text }) => ({
    secret: version.secret,
    version: version.version,
    form,
    length: text.length,
    hmac: hmacOf(key, text),
    prefilter: rollingHashOf(key, text) & PREFILTER_MASK,
  }));
}
