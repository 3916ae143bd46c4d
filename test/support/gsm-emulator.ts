import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { join } from 'node:path';

import { eventually } from './eventually';

/** The GSM emulator's `node` arguments (tools/gsm-emulator, TypeScript run through @swc-node/register), then `args`. */
export const gsmEmulatorArgs = (...args: string[]): string[] => [
  '-r',
  '@swc-node/register',
  join(__dirname, '..', '..', 'tools', 'gsm-emulator', 'main.ts'),
  ...args,
];

/**
 * A private GSM emulator on `port` with GSM's per-secret version-write quota on (`writesPerSecond`
 * per secret), once it listens. The caller kills it (SIGKILL) when done.
 */
export async function startQuotaEmulator(port: number, writesPerSecond: number): Promise<ChildProcess> {
  const emulator = spawn(
    process.execPath,
    gsmEmulatorArgs('--host', '127.0.0.1', '--port', String(port), '--version-writes-per-second-per-secret', String(writesPerSecond)),
    { stdio: 'ignore' },
  );
  await eventually(
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = createConnection(port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.on('error', () => resolve(undefined));
      }),
    { what: 'the emulator to listen' },
  );
  return emulator;
}
