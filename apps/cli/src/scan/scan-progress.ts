/**
 * Progress of a file scan on stderr: a redrawn bar with files, MB and MB/s on a terminal, a
 * plain line every two seconds otherwise (CI logs). Notes are written above the bar.
 */
export class ScanProgress {
  private readonly started = Date.now();
  private lastPrinted = 0;
  private drawn = false;
  files = 0;
  bytes = 0;

  constructor(
    private readonly totalFiles: number,
    private readonly totalBytes: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 2_000,
  ) {}

  get seconds(): number {
    return Math.max(0.001, (Date.now() - this.started) / 1000);
  }

  note(text: string): void {
    if (this.stream.isTTY && this.drawn) this.stream.write('\r\u001b[K');
    this.stream.write(`${text}\n`);
    this.drawn = false;
  }

  update(force = false): void {
    const now = Date.now();
    const tty = this.stream.isTTY;
    if (!force && now - this.lastPrinted < (tty ? 100 : this.plainEveryMs)) return;
    this.lastPrinted = now;
    const fraction = this.totalBytes > 0 ? Math.min(1, this.bytes / this.totalBytes) : this.files / Math.max(1, this.totalFiles);
    const counts = `${this.files.toLocaleString('en-US')}/${this.totalFiles.toLocaleString('en-US')} files  ${mb(this.bytes)}/${mb(this.totalBytes)} MB  ${(this.bytes / 1048576 / this.seconds).toFixed(1)} MB/s`;
    if (tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      this.stream.write(
        `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${counts}\u001b[K`,
      );
      this.drawn = true;
    } else {
      this.stream.write(`scan: ${(fraction * 100).toFixed(0)}%  ${counts}\n`);
    }
  }

  finish(): void {
    if (this.stream.isTTY && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

export const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
