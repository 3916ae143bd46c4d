import { CommanderError } from 'commander';

import { ExitCode, exitCodeFor } from './exit-codes';
import { buildProgram } from './program';
import { cliError } from './rotor-api';

/** Runs one command line; resolves with the exit code (the table in exit-codes.ts). */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (caught) {
    // Commander has already said what was wrong (with a suggestion for a near miss); help and --version end here too.
    if (caught instanceof CommanderError) return caught.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    const error = cliError(caught);
    process.stderr.write(`rotor: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodeFor(error);
  }
}
