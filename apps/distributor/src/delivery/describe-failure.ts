/**
 * A failure reason safe to publish and log: the error's class and status, never the raw
 * message of a client library (which may quote request bodies, and so values).
 */
export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const status = (error as { code?: unknown }).code;
  const body = (error as { body?: unknown }).body;
  if (typeof status === 'number' && status >= 100 && status < 600) {
    // A Kubernetes API error: its Status reason is a fixed vocabulary (Conflict, NotFound, Forbidden...).
    const reason = statusReason(body);
    return `kubernetes API answered ${status}${reason ? ` ${reason}` : ''}`;
  }
  if (typeof status === 'number' && status >= 0 && status <= 16) return `GSM call failed with gRPC status ${status}`;
  const cause = (error as { cause?: { code?: unknown } }).cause;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'timed out';
  if (cause && typeof cause.code === 'string') return `${error.name}: ${cause.code}`;
  if (typeof status === 'string' && /^E[A-Z]+$/.test(status)) return `${error.name}: ${status}`;
  // Our own errors carry messages written to be safe (they name targets and statuses only).
  if (
    error.name === 'TargetRefusedError' ||
    error.message.startsWith('receiver answered') ||
    error.message.startsWith('no signing key') ||
    error.message.startsWith('no writer')
  )
    return error.message;
  return error.name;
}

function statusReason(body: unknown): string | undefined {
  const parsed = typeof body === 'string' ? safeParse(body) : body;
  const reason = (parsed as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' && /^[A-Za-z]+$/.test(reason) ? reason : undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
