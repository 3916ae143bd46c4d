import type { IncomingMessage, ServerResponse } from 'node:http';

import type { WebhookKeyring } from './keyring';
import type { WebhookNotice } from './notice';
import { InMemoryReplayGuard, type ReplayGuard } from './replay-guard';
import { DELIVERY_ID_HEADER, SIGNATURE_HEADER } from './signature';
import { verifyWebhook, type WebhookFailureReason } from './verify-webhook';

export interface WebhookReceiverOptions {
  /**
   * This receiver's own keys (never shared with another receiver), newest first. During a
   * rotation, list the new and the old; remove the old one to retire it. A function is asked
   * on every request, so a keyring read from a mounted file can change without a restart.
   */
  keyring: WebhookKeyring | (() => WebhookKeyring);
  /** The effect, e.g. read the value from the issuer; a 2xx is sent only once it resolves. */
  onNotice: (notice: WebhookNotice) => Promise<void> | void;
  toleranceSeconds?: number;
  /** Defaults to an in-memory guard; share one (e.g. Redis-backed) across replicas. */
  replayGuard?: ReplayGuard;
  /** Larger bodies are refused with 413 before anything else is done. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Told why a notice was refused or failed (never the body); default: silent. */
  onRejected?: (rejection: { status: number; code: string; error?: unknown }) => void;
  clock?: () => Date;
}

export type WebhookRequestHandler = (request: IncomingMessage & { body?: unknown }, response: ServerResponse) => void;

/**
 * A Node request handler (for `http.createServer` or as Express middleware) for rotor's webhook
 * deliveries. It verifies the raw body's signature, key id and timestamp, validates the notice,
 * checks its signed delivery id is new, and calls `onNotice`: 401 for a forged, stale or
 * replayed notice, 400 for a malformed one, 204 once `onNotice` resolves, 500 if it throws
 * (the distributor then retries).
 * With Express, mount it before `express.json()`, or behind `express.raw({ type: 'application/json' })`.
 */
export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookRequestHandler {
  const { keyring } = options;
  if (typeof keyring !== 'function' && keyring.length === 0) throw new Error('createWebhookReceiver needs at least one key');
  const keyringNow = typeof keyring === 'function' ? keyring : () => keyring;
  const guard = options.replayGuard ?? new InMemoryReplayGuard();
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const clock = options.clock ?? (() => new Date());

  const refuse = (response: ServerResponse, { error, ...refusal }: Problem & { error?: unknown }) => {
    options.onRejected?.({ status: refusal.status, code: refusal.code, error });
    problem(response, refusal);
  };

  const handle = async (request: IncomingMessage & { body?: unknown }, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST') return refuse(response, { status: 405, code: 'method-not-allowed', detail: 'deliveries are POSTed' });
    const body = await rawBody(request, maxBodyBytes);
    if (body === 'too-large')
      return refuse(response, { status: 413, code: 'body-too-large', detail: `the body exceeds ${maxBodyBytes} bytes` });
    if (body === 'unavailable') {
      return refuse(response, {
        status: 500,
        code: 'raw-body-unavailable',
        detail: 'the raw body was consumed by a JSON parser; mount the receiver before it',
      });
    }

    const verification = await verifyWebhook({
      keyring: keyringNow(),
      body,
      signatureHeader: header(request, SIGNATURE_HEADER),
      deliveryId: header(request, DELIVERY_ID_HEADER),
      seen: guard,
      now: clock(),
      toleranceSeconds: options.toleranceSeconds,
    });
    if (!verification.ok) {
      const status = verification.reason === 'malformed-notice' ? 400 : 401;
      return refuse(response, { status, code: verification.reason, detail: verification.detail ?? DETAILS[verification.reason] });
    }
    const notice = verification.notice;

    try {
      await options.onNotice(notice);
    } catch (error) {
      // Not handled, so the distributor's retry of this very notice must be let in.
      await guard.forget(notice.deliveryId);
      return refuse(response, {
        status: 500,
        code: 'notice-not-handled',
        detail: 'the receiver could not handle the notice; retry later',
        error,
      });
    }
    response.writeHead(204).end();
  };

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) refuse(response, { status: 500, code: 'internal', detail: 'the receiver failed', error });
      else response.destroy();
    });
  };
}

const DETAILS: Record<WebhookFailureReason, string> = {
  'missing-signature': `no ${SIGNATURE_HEADER} header`,
  'missing-delivery-id': `no ${DELIVERY_ID_HEADER} header`,
  'malformed-signature': `the ${SIGNATURE_HEADER} header is not t=<seconds>,kid=<key id>,v1=<hex>`,
  'unknown-key-id': 'the signature names a key this receiver does not accept (unknown or retired)',
  'bad-signature': 'the signature does not match the body with any accepted key',
  'stale-timestamp': 'the signature timestamp is older than the tolerance',
  'future-timestamp': 'the signature timestamp is ahead of this clock by more than the tolerance',
  'malformed-notice': 'the signed body is not a notice',
  'delivery-id-mismatch': 'the delivery id header differs from the signed body',
  replayed: 'this delivery id was already accepted',
};

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
};

/** The exact bytes sent: from the stream, or from a raw/text body parser that ran before us. */
async function rawBody(request: IncomingMessage & { body?: unknown }, maxBytes: number): Promise<Buffer | 'too-large' | 'unavailable'> {
  if (Buffer.isBuffer(request.body)) return request.body.length > maxBytes ? 'too-large' : request.body;
  if (typeof request.body === 'string') return Buffer.byteLength(request.body) > maxBytes ? 'too-large' : Buffer.from(request.body);
  if (request.readableEnded) return 'unavailable';
  const declared = Number(request.headers['content-length']);
  if (declared > maxBytes) return 'too-large';
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > maxBytes) return 'too-large';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** An RFC 7807 answer: `code` names the reason, `detail` explains it to a person. */
interface Problem {
  status: number;
  code: string;
  detail: string;
}

function problem(response: ServerResponse, { status, code, detail }: Problem): void {
  const title = STATUS_TITLES[status] ?? 'Error';
  response.writeHead(status, { 'content-type': 'application/problem+json' });
  response.end(JSON.stringify({ type: 'about:blank', title, status, detail, code }));
}

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  500: 'Internal Server Error',
};
