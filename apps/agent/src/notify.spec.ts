import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { notify, pidsNamed } from './notify';

describe('notify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-notify-'));

  it('sends the signal to the pid in the pid file', async () => {
    const child = spawn(
      process.execPath,
      ['-e', "process.on('SIGHUP', () => { console.log('hup'); process.exit(0); }); setInterval(() => {}, 1000)"],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 300)); // its handler is in place
    const pidFile = join(dir, 'app.pid');
    writeFileSync(pidFile, `${child.pid}\n`);
    await notify({ signal: 'SIGHUP', pidFile }, ['db']);
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect({ code, output }).toEqual({ code: 0, output: 'hup\n' });
  });

  it('refuses a pid file that does not hold a process id', async () => {
    const pidFile = join(dir, 'bad.pid');
    writeFileSync(pidFile, '1; rm -rf /');
    await expect(notify({ signal: 'SIGHUP', pidFile }, ['db'])).rejects.toThrow(`pid file ${pidFile} does not hold a process id`);
  });

  it('runs the command without a shell, telling it which credentials changed', async () => {
    const out = join(dir, 'changed');
    const marker = join(dir, 'injected');
    await notify(
      {
        command: [
          process.execPath,
          '-e',
          'require("fs").writeFileSync(process.argv[1], process.env.ROTOR_AGENT_CHANGED + " " + process.argv[2])',
          out,
          `$(touch ${marker})`,
        ],
        timeout: 10_000,
      },
      ['db', 'api-key'],
    );
    // The argument reached the command as text: no shell expanded it.
    expect(readFileSync(out, 'utf8')).toBe(`db,api-key $(touch ${marker})`);
    expect(existsSync(marker)).toBe(false);
  });

  it('reports a command that fails', async () => {
    await expect(notify({ command: [process.execPath, '-e', 'process.exit(3)'], timeout: 10_000 }, ['db'])).rejects.toThrow(
      /notify command .* failed/,
    );
  });

  it('sends the signal to every process of the given command name, looked up in /proc', async () => {
    // A process whose command name is known: node renames itself with process.title.
    const name = `rotor-app-${process.pid % 10_000}`;
    const child = spawn(
      process.execPath,
      [
        '-e',
        `process.title = '${name}'; process.on('SIGUSR1', () => { console.log('usr1'); process.exit(0); }); setInterval(() => {}, 1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let waited = 0; (await pidsNamed(name)).length === 0 && waited < 5_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await pidsNamed(name)).toEqual([child.pid]);
    await notify({ signal: 'SIGUSR1', process: name }, ['db']);
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect({ code, output }).toEqual({ code: 0, output: 'usr1\n' });
  });

  it('reports that no process of that name runs, naming the shared process namespace', async () => {
    await expect(notify({ signal: 'SIGHUP', process: 'no-such-app' }, ['db'])).rejects.toThrow(
      "no process named no-such-app to signal (is the pod's process namespace shared?)",
    );
  });
});
