import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

import type { NotifyConfig } from './config';

/**
 * Tells the application that a file changed: a signal to the pid in a pid file (a shared
 * process namespace), or a command run without a shell. Its failure is reported, never fatal:
 * the file is written either way.
 */
export async function notify(config: NotifyConfig, changed: string[]): Promise<void> {
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
