import { open } from 'node:fs/promises';

import { LineScanner, type CopyMatcher, type LineMatch } from '@rotor/copy-fingerprint';

export type FileOutcome = { kind: 'scanned'; bytes: number; matches: LineMatch[] } | { kind: 'skipped'; reason: string; bytes: number };

const CHUNK_BYTES = 1024 * 1024;
/** As git and grep do: a NUL byte near the start means binary. */
const BINARY_SNIFF_BYTES = 8 * 1024;

/**
 * Reads one file in chunks through the matcher: memory stays at one chunk whatever the file's
 * size. The buffer is reused from file to file; the matcher reports lines, never content.
 */
export class FileScanner {
  private readonly buffer = Buffer.allocUnsafe(CHUNK_BYTES);

  constructor(
    private readonly matcher: CopyMatcher,
    private readonly maxBytes: number,
  ) {}

  async scan(path: string, size: number, onBytes: (bytes: number) => void = () => undefined): Promise<FileOutcome> {
    if (size > this.maxBytes)
      return { kind: 'skipped', reason: `larger than ${Math.round(this.maxBytes / 1048576)} MB (--max-file-mb)`, bytes: size };
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      return { kind: 'skipped', reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`, bytes: size };
    }
    try {
      const matches: LineMatch[] = [];
      const lines = new LineScanner(this.matcher, (match) => matches.push(match));
      let total = 0;
      for (let first = true; ; first = false) {
        const { bytesRead } = await handle.read(this.buffer, 0, CHUNK_BYTES, null);
        if (bytesRead === 0) break;
        if (first && this.buffer.subarray(0, Math.min(bytesRead, BINARY_SNIFF_BYTES)).includes(0))
          return { kind: 'skipped', reason: 'binary file', bytes: size };
        total += bytesRead;
        // Stop at the size seen when walking: a file still being written (a log) is not read forever.
        if (total > this.maxBytes) return { kind: 'skipped', reason: 'grew past --max-file-mb while being read', bytes: size };
        lines.push(this.buffer.subarray(0, bytesRead));
        onBytes(bytesRead);
      }
      lines.end();
      return { kind: 'scanned', bytes: total, matches };
    } catch (error) {
      return { kind: 'skipped', reason: `read failed (${(error as NodeJS.ErrnoException).code ?? 'error'})`, bytes: size };
    } finally {
      await handle.close();
    }
  }

  /** Standard input (`env | rotor scan -`), to the end. */
  async scanStream(stream: NodeJS.ReadableStream): Promise<FileOutcome> {
    const matches: LineMatch[] = [];
    const lines = new LineScanner(this.matcher, (match) => matches.push(match));
    let total = 0;
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += bytes.length;
      lines.push(bytes);
    }
    lines.end();
    return { kind: 'scanned', bytes: total, matches };
  }
}
