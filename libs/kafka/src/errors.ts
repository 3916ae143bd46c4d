import type { ReferenceRejection } from '@rotor/contracts';

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

/**
 * An event names something outside this service's domain: a GSM project other than its own, a
 * secret neither the catalog nor its own records know, a lease handle that is not the lease's.
 * Dead-lettered at once and counted by `reason` (a fixed list, never the refused value).
 */
export class ReferenceRejectedError extends PermanentError {
  override readonly code = 'reference-rejected';
  constructor(
    readonly reason: ReferenceRejection,
    message: string,
  ) {
    super(`reference rejected (${reason}): ${message}`);
  }
}

/**
 * The broker refused this principal a topic (TOPIC_AUTHORIZATION_FAILED): the access table in
 * docs/access-policy.md does not let it write (or read) there. Retrying cannot help.
 */
export class KafkaAuthorizationError extends PermanentError {
  override readonly code = 'kafka-authorization';
  constructor(
    readonly topics: string[],
    options?: ErrorOptions,
  ) {
    super(
      `Kafka refused access to ${topics.join(', ')} (TOPIC_AUTHORIZATION_FAILED): this principal may not use it; see docs/access-policy.md`,
      options,
    );
  }
}

/** True when kafkajs reports an authorization refusal anywhere in an error's chain. */
export function isKafkaAuthorizationFailure(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const type = (current as { type?: unknown }).type;
    if (
      type === 'TOPIC_AUTHORIZATION_FAILED' ||
      type === 'GROUP_AUTHORIZATION_FAILED' ||
      /not authorized to access|authorization failed/i.test(current.message)
    )
      return true;
    current = (current as { cause?: unknown; originalError?: unknown }).cause ?? (current as { originalError?: unknown }).originalError;
  }
  return false;
}
