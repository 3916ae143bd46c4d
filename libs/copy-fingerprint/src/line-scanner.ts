import { BYTE_CLASS } from './alphabet';
import type { CopyMatch, CopyMatcher } from './copy-matcher';

/** A match in a stream, with its 1-based line. */
export interface LineMatch extends CopyMatch {
  line: number;
}

/** A single run longer than this (no separator at all) is scanned in pieces; a value crossing a piece boundary can be missed. */
const MAX_CARRY_BYTES = 4 * 1024 * 1024;

/**
 * Feeds a stream of chunks (a file read piece by piece, stdin) to a matcher. Each chunk is
 * scanned up to its last separator byte; the unfinished run after it is carried into the next
 * chunk, so a value split across two reads is still found. Chunks may be reused by the caller
 * after `push` returns: the carry is copied.
 */
export class LineScanner {
  private carry: Buffer = Buffer.alloc(0);
  private line = 1;
  private readonly seen = new Set<string>();

  constructor(
    private readonly matcher: CopyMatcher,
    private readonly onMatch: (match: LineMatch) => void,
  ) {}

  push(chunk: Buffer): void {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let cut = data.length;
    while (cut > 0 && BYTE_CLASS[data[cut - 1]!] !== 0) cut--;
    if (cut === 0 && data.length < MAX_CARRY_BYTES) {
      this.carry = Buffer.from(data);
      return;
    }
    if (cut === 0) cut = data.length;
    this.scan(data, cut);
    this.carry = Buffer.from(data.subarray(cut));
  }

  end(): void {
    if (this.carry.length > 0) this.scan(this.carry, this.carry.length);
    this.carry = Buffer.alloc(0);
  }

  private scan(data: Buffer, end: number): void {
    const first = this.line;
    this.line += this.matcher.scan(data, 0, end, (match, newlinesBefore) => {
      const line = first + newlinesBefore;
      const id = `${line}|${match.secret}|${match.version}|${match.form}`;
      if (this.seen.has(id)) return;
      this.seen.add(id);
      this.onMatch({ ...match, line });
    });
  }
}
