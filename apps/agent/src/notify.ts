import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

import type { NotifyConfig } from './config';

/** The pids (never 1, never this process) whose command name is `name`, as `pkill -x` finds them. */
export async function pidsNamed(name: string, proc = '/proc'): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir(proc)) {
    const pid = Number(entry);
    if (!/^\d+$/.test(entry) || pid <= 1 || pid === process.pid) continue;
    const comm = await readFile(`${proc}/${entry}/comm`, 'utf8').catch(() => undefined); // it may have exited
    if (comm?.trimEnd() === name) pids.push(pid);
  }
  return pids;
}

/**
 * Tells the application that a file changed: a signal to the pid in a pid file or to the
 * processes of a name (a shared process namespace), or a command run without a shell. Its
 * failure is reported, never fatal: the file is written either way.
 */
export async function notify(config: NotifyConfig, changed: string[]): Promise<void> {
  if ('process' in config) {
    const pids = await pidsNamed(config.process);
    if (pids.length === 0) throw new Error(`no process named ${config.process} to signal (is the pod's process namespace shared?)`);
    for (const pid of pids) process.kill(pid, config.signal);
    return;
  }
  if ('signal' in config) {
    const text = (await readFile(config.pidFile, 'utf8')).trim();
    const pid = Number(text);
    if (!/^\d+$/.test(text) || pid <= 1) throw new Error(`pid file ${config.pidFile} does not hold a process id`);
    process.kill(pid, config.signal);
    return;
  }
  const [file, ...args] = config.command;
  await new Promise<void>((resolve, reject) =>
    execFile(
      file,
      args,
      // The names of the credentials that changed, never their values.
      { timeout: config.timeout, env: { ...process.env, ROTOR_AGENT_CHANGED: changed.join(',') }, windowsHide: true },
      (error) => (error ? reject(new Error(`notify command ${file} failed: ${error.message.split('\n')[0]}`)) : resolve()),
    ),
  );
}
