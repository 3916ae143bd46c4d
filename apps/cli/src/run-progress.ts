import type { CliContext } from './context';
import { ExitCode } from './exit-codes';
import { printResult } from './output';
import { watchUntilFinished } from './watch';

/** How a kind of fleet-wide run (an emergency rotation, a lease revocation) reads as progress. */
export interface RunProgressModel<V extends { id: string; state: string; failed: number }> {
  /** Reads one run again (a GET, with a token asked for each time: a long watch outlives an ID token, and the sign-in renews it). */
  read(id: string): Promise<V>;
  /** Work units in all, and done so far. */
  total(view: V): number;
  done(view: V): number;
  /** One line of counts, as a log or a pipeline wants it. */
  line(view: V): string;
  summary(view: V): (string | number)[][];
}

/**
 * Watches a run if asked (a live bar on a terminal, a line per change otherwise, nothing with
 * --output json|yaml; through restarts of the revoker), then prints its summary. A run that
 * failed, or left leases it could not revoke, exits 5.
 */
export async function finishRun<V extends { id: string; state: string; failed: number }>(
  context: CliContext,
  model: RunProgressModel<V>,
  first: V,
  watch?: boolean,
): Promise<void> {
  let view = first;
  if (watch) {
    const { id } = view;
    const display = new ProgressDisplay(context, model, view);
    view = await watchUntilFinished(view, {
      read: () => model.read(id),
      finished: (current) => current.state !== 'running',
      show: (current) => display.show(current),
      note: (line) => display.note(line),
    });
    display.end();
  }
  printResult(context, view, { columns: ['field', 'value'], rows: model.summary(view) });
  if (view.state === 'failed' || view.failed > 0) process.exitCode = ExitCode.partial;
}

class ProgressDisplay<V extends { id: string; state: string; failed: number }> {
  private readonly live: boolean;
  private readonly started = Date.now();
  private readonly startDone: number;
  private lastLine = '';

  constructor(
    private readonly context: CliContext,
    private readonly model: RunProgressModel<V>,
    first: V,
  ) {
    this.live = !context.json && Boolean(process.stderr.isTTY);
    this.startDone = model.done(first);
  }

  show(view: V): void {
    if (this.context.json) return;
    const line = this.live ? this.bar(view) : this.model.line(view);
    if (this.live) process.stderr.write(`\r${line}\x1b[K`);
    else if (line !== this.lastLine) process.stderr.write(`${line}\n`);
    this.lastLine = line;
  }

  note(line: string): void {
    if (this.live) process.stderr.write('\n');
    process.stderr.write(`rotor: ${line}\n`);
  }

  end(): void {
    if (this.live) process.stderr.write('\n');
  }

  private bar(view: V): string {
    const width = 30;
    const total = this.model.total(view);
    const done = this.model.done(view);
    // Nothing matched: finished is all of it.
    const fraction = total === 0 ? (view.state === 'running' ? 0 : 1) : Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? (done - this.startDone) / seconds : 0;
    const eta = view.state !== 'running' ? 'done' : rate > 0 ? `ETA ${formatDuration((total - done) / rate)}` : 'ETA --';
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${done}/${total}  ${rate.toFixed(1)}/s  ${eta}  ${this.model.line(view)}`;
  }
}

const formatDuration = (seconds: number) =>
  seconds < 90 ? `${Math.ceil(seconds)}s` : `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
