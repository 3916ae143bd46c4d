import type { Command } from 'commander';

import { createContext, type CliContext, type GlobalOptions } from './context';

/** The context an action runs in, from the global flags wherever they were given on the line. */
export const contextOf = (command: Command): CliContext => createContext(command.optsWithGlobals<GlobalOptions>());

/** The "Examples:" block of a command's help. */
export const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
