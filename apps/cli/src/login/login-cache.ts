import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { CliError, ExitCode } from '../exit-codes';

import type { SignIn } from './oidc-client';

/** One sign-in, as `rotor login` leaves it for the next commands. */
export interface CachedLogin extends SignIn {
  issuer: string;
  clientId: string;
}

/** `$ROTOR_CONFIG_DIR`, else `$XDG_CONFIG_HOME/rotor`, else `~/.config/rotor`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['ROTOR_CONFIG_DIR'] ?? join(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'rotor');
}

/**
 * The signed-in operator's tokens, in a file only its owner can read (0600 in a 0700
 * directory). A file others could read is refused rather than used, as ssh does with keys.
 */
export class LoginCache {
  readonly file: string;

  constructor(private readonly dir: string = configDir()) {
    this.file = join(dir, 'login.json');
  }

  read(): CachedLogin | undefined {
    let mode: number;
    try {
      mode = statSync(this.file).mode;
    } catch {
      return undefined;
    }
    if (mode & 0o077)
      throw new CliError(
        `${this.file} can be read by others (mode ${(mode & 0o777).toString(8)}): remove it and run rotor login again`,
        ExitCode.auth,
      );
    return JSON.parse(readFileSync(this.file, 'utf8')) as CachedLogin;
  }

  /** Written whole, then renamed: a crash never leaves half a file. */
  write(login: CachedLogin): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const partial = `${this.file}.${process.pid}.tmp`;
    writeFileSync(partial, `${JSON.stringify(login)}\n`, { mode: 0o600 });
    renameSync(partial, this.file);
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}
