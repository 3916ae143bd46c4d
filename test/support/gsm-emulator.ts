import { join } from 'node:path';

/** The GSM emulator's `node` arguments (tools/gsm-emulator, TypeScript run through @swc-node/register), then `args`. */
export const gsmEmulatorArgs = (...args: string[]): string[] => [
  '-r',
  '@swc-node/register',
  join(__dirname, '..', '..', 'tools', 'gsm-emulator', 'main.ts'),
  ...args,
];
