/** A configuration that cannot work; each problem names its variable and never echoes a value. */
export class ConfigError extends Error {
  readonly code = 'invalid-config';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}
