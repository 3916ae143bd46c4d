/**
 * Progress of a long read on stderr: a redrawn bar with events/s on a terminal, a plain line
 * every few seconds otherwise (logs, CI), and nothing at all when stderr is not wanted.
 */
export class ProgressReporter {
  private readonly started = Date.now();
  private lastPrinted = 0;
  private lastLine = '';

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 5_000,
  ) {}

  update(done: number, total: number): void {
    const now = Date.now();
    const tty = this.stream.isTTY;
    if (now - this.lastPrinted < (tty ? 100 : this.plainEveryMs) && done < total) return;
    this.lastPrinted = now;
    const seconds = Math.max(0.001, (now - this.started) / 1000);
    const rate = done / seconds;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const eta = rate > 0 && total > done ? `  eta ${formatSeconds((total - done) / rate)}` : '';
    const counts = `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${this.label}  ${Math.round(rate).toLocaleString('en-US')} events/s${eta}`;
    if (tty) {
      const width = 30;
      const filled = Math.round(fraction * width);
      this.lastLine = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${counts}`;
      this.stream.write(`\r${this.lastLine}\u001b[K`);
    } else {
      this.stream.write(`${(fraction * 100).toFixed(0)}%  ${counts}\n`);
    }
  }

  finish(): void {
    if (this.stream.isTTY && this.lastLine) this.stream.write('\n');
  }
}

const formatSeconds = (seconds: number): string =>
  seconds < 60 ? `${Math.ceil(seconds)}s` : `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
