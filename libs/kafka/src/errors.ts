/**
 * Thrown by a handler when retrying cannot help (the message is wrong, not the world):
 * the message goes to the dead-letter topic at once.
 */
export class PermanentError extends Error {
  readonly code: string = 'permanent';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A message that is not valid JSON or does not match its topic's schema. */
export class MalformedMessageError extends PermanentError {
  override readonly code = 'malformed';
}
