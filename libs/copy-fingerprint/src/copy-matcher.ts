import { BYTE_CLASS, CLASS_BASE64, CLASS_RAW, type FingerprintForm } from './alphabet';
import { hmacOf, PREFILTER_MASK, ROLLING_MODULUS, scanKeyFrom, type Fingerprint, type ScanKey } from './fingerprint';

/** One managed version found in a text. */
export interface CopyMatch {
  secret: string;
  version: number;
  form: FingerprintForm;
}

/** Fingerprints of one length. */
interface LengthGroup {
  length: number;
  byHmac: Map<string, CopyMatch[]>;
  /** One flag per prefilter value of a fingerprint in this group. */
  prefilter: Uint8Array;
  /** Some fingerprint came without a prefilter: every window of this length is hashed. */
  hashEveryWindow: boolean;
  /** base^(length-1) mod m: what the character leaving the window contributed. */
  leadingPower: number;
}

interface FormGroups {
  groups: LengthGroup[];
  minLength: number;
}

const NEWLINE = 0x0a;
const NONE = Number.MAX_SAFE_INTEGER;

/**
 * Finds managed values in text by keyed hash, never by value. The text is split into maximal
 * runs of the raw alphabet and of the base64 alphabet (one pass, a table lookup per byte); a
 * run shorter than the shortest fingerprint is skipped; in a longer run every window of each
 * fingerprint length is compared, so a value embedded next to alphabet characters
 * (`user:VALUE@host`, a base64 blob) is found too. A keyed rolling hash slides over the
 * windows in constant time each; only a window whose prefilter bits belong to a fingerprint
 * is HMAC'd, and only an equal HMAC is a match: a value that differs in one character is not.
 */
export class CopyMatcher {
  private readonly forms: Record<FingerprintForm, FormGroups>;
  private readonly key: ScanKey;
  /** Windows HMAC'd so far, for benchmarks. */
  hashed = 0;

  constructor(key: ScanKey | Buffer | string, fingerprints: readonly Fingerprint[]) {
    this.key = typeof key === 'string' || Buffer.isBuffer(key) ? scanKeyFrom(key) : key;
    this.forms = { raw: this.groupsOf(fingerprints, 'raw'), base64: this.groupsOf(fingerprints, 'base64') };
  }

  get isEmpty(): boolean {
    return this.forms.raw.groups.length === 0 && this.forms.base64.groups.length === 0;
  }

  /** Every managed version in `text`, deduplicated. */
  findAll(text: Uint8Array): CopyMatch[] {
    const found = new Map<string, CopyMatch>();
    this.scan(text, 0, text.length, (match) => found.set(`${match.secret}|${match.version}|${match.form}`, match));
    return [...found.values()];
  }

  /**
   * Scans `text[start, end)`, calling `onMatch` with the number of newlines before the match
   * (runs never contain a newline, so it is the match's line offset); returns the number of
   * newlines in the range, so a caller streaming a file keeps line numbers without a second pass.
   */
  scan(text: Uint8Array, start: number, end: number, onMatch: (match: CopyMatch, newlinesBefore: number) => void): number {
    const raw = this.forms.raw;
    const base64 = this.forms.base64;
    const minRaw = raw.minLength;
    const minBase64 = base64.minLength;
    let rawStart = -1;
    let base64Start = -1;
    let newlines = 0;
    for (let index = start; index <= end; index++) {
      const byte = index < end ? text[index]! : NEWLINE;
      const kind = BYTE_CLASS[byte]!;
      if ((kind & CLASS_RAW) !== 0) {
        if (rawStart < 0) rawStart = index;
      } else if (rawStart >= 0) {
        if (index - rawStart >= minRaw) this.matchRun(text, rawStart, index, raw, newlines, onMatch);
        rawStart = -1;
      }
      if ((kind & CLASS_BASE64) !== 0) {
        if (base64Start < 0) base64Start = index;
      } else if (base64Start >= 0) {
        if (index - base64Start >= minBase64) this.matchRun(text, base64Start, index, base64, newlines, onMatch);
        base64Start = -1;
      }
      if (byte === NEWLINE && index < end) newlines++;
    }
    return newlines;
  }

  private matchRun(
    text: Uint8Array,
    start: number,
    end: number,
    form: FormGroups,
    newlines: number,
    onMatch: (match: CopyMatch, newlinesBefore: number) => void,
  ): void {
    const base = this.key.base;
    for (const group of form.groups) {
      const length = group.length;
      if (length > end - start) return; // ascending lengths: no longer group fits either
      let hash = 0;
      for (let index = start; index < start + length; index++) hash = (hash * base + text[index]!) % ROLLING_MODULUS;
      for (let at = start; ; at++) {
        if (group.hashEveryWindow || group.prefilter[hash & PREFILTER_MASK] === 1) {
          this.hashed++;
          const matches = group.byHmac.get(hmacOf(this.key, text.subarray(at, at + length)));
          if (matches) for (const match of matches) onMatch(match, newlines);
        }
        if (at + length >= end) break;
        // Slide: drop text[at], take text[at + length]; kept non-negative before the modulo.
        hash =
          ((hash - ((text[at]! * group.leadingPower) % ROLLING_MODULUS) + ROLLING_MODULUS) * base + text[at + length]!) % ROLLING_MODULUS;
      }
    }
  }

  private groupsOf(fingerprints: readonly Fingerprint[], form: FingerprintForm): FormGroups {
    const byLength = new Map<number, LengthGroup>();
    for (const fingerprint of fingerprints) {
      if (fingerprint.form !== form || fingerprint.length < 1) continue;
      let group = byLength.get(fingerprint.length);
      if (!group) {
        let leadingPower = 1;
        for (let index = 1; index < fingerprint.length; index++) leadingPower = (leadingPower * this.key.base) % ROLLING_MODULUS;
        group = {
          length: fingerprint.length,
          byHmac: new Map(),
          prefilter: new Uint8Array(PREFILTER_MASK + 1),
          hashEveryWindow: false,
          leadingPower,
        };
        byLength.set(fingerprint.length, group);
      }
      const list = group.byHmac.get(fingerprint.hmac) ?? [];
      list.push({ secret: fingerprint.secret, version: fingerprint.version, form });
      group.byHmac.set(fingerprint.hmac, list);
      if (fingerprint.prefilter === undefined) group.hashEveryWindow = true;
      else group.prefilter[fingerprint.prefilter & PREFILTER_MASK] = 1;
    }
    const groups = [...byLength.values()].sort((a, b) => a.length - b.length);
    return { groups, minLength: groups[0]?.length ?? NONE };
  }
}
