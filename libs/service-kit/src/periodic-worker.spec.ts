import { PeriodicWorker } from './periodic-worker';

/** Two tasks as a service would declare them: one that fails every other run, one turned off. */
class Recorder extends PeriodicWorker {
  readonly runs: string[] = [];
  readonly errors: string[] = [];
  private count = 0;

  constructor(private readonly slowMs = 0) {
    super();
  }

  protected start(): void {
    this.every(
      20,
      async () => {
        this.count++;
        this.runs.push(`run ${this.count}`);
        if (this.slowMs) await new Promise((resolve) => setTimeout(resolve, this.slowMs));
        if (this.count % 2 === 0) throw new Error(`failure ${this.count}`);
        this.runs.push(`done ${this.count}`);
      },
      (error) => this.errors.push(error.message),
    );
    this.every(
      0,
      async () => void this.runs.push('never'),
      () => undefined,
    );
  }
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PeriodicWorker', () => {
  it('runs each task every period after the first wait, reports a failed run and runs again; a period of 0 never runs', async () => {
    const worker = new Recorder();
    worker.onApplicationBootstrap();
    expect(worker.runs).toEqual([]); // the first run waits a period
    await wait(110);
    await worker.onApplicationShutdown();
    expect(worker.runs.length).toBeGreaterThanOrEqual(4);
    expect(worker.runs).not.toContain('never');
    expect(worker.runs.slice(0, 3)).toEqual(['run 1', 'done 1', 'run 2']);
    expect(worker.errors[0]).toBe('failure 2');
    expect(worker.runs).toContain('run 3');
  });

  it('at shutdown starts nothing more and waits for the run under way', async () => {
    const worker = new Recorder(100);
    worker.onApplicationBootstrap();
    await wait(40); // the first run has started and takes 100 ms
    await worker.onApplicationShutdown();
    expect(worker.runs).toEqual(['run 1', 'done 1']);
    await wait(60);
    expect(worker.runs).toEqual(['run 1', 'done 1']);
  });
});
