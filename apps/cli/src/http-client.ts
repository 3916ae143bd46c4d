import { request as httpRequest, type ClientRequest, type RequestOptions as NodeRequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TLSSocket } from 'node:tls';

import { clientTlsOptions, describeConnectionFailure } from './client-tls';

/** A rotor API error as the CLI shows it: the problem's title, detail and code, never a stack. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; code?: string; field?: string },
  ) {
    super(`${status} ${problem.title ?? 'error'}: ${problem.detail ?? ''}${problem.code ? ` [${problem.code}]` : ''}`);
  }
}

export interface RequestOptions {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface HttpExchange {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One HTTP(S) exchange through node:https, which, unlike the global fetch, takes a CA
 * (ROTOR_CA_FILE) and a client certificate. Failures before an answer name the URL and the fix.
 */
export function send(url: string, { method = 'GET', headers = {}, body }: HttpExchange = {}, env: NodeJS.ProcessEnv = process.env) {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const options: NodeRequestOptions = { method, headers, ...(secure ? clientTlsOptions(env) : {}) }; // a throw here rejects
    let peerNotAfter: string | undefined;
    const onResponse: Parameters<typeof httpRequest>[2] = (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    };
    const outgoing: ClientRequest = secure ? httpsRequest(target, options, onResponse) : httpRequest(target, options, onResponse);
    outgoing.on('socket', (socket) => {
      // Ahead of Node's own check, which destroys the socket: an expired certificate's date is read here.
      if (socket instanceof TLSSocket) socket.prependOnceListener('secure', () => (peerNotAfter = socket.getPeerCertificate()?.valid_to));
    });
    outgoing.on('error', (error) => reject(new Error(describeConnectionFailure(target.origin, error, peerNotAfter))));
    outgoing.end(body);
  });
}

export async function request<T>(url: string, { method = 'GET', token, body, headers = {} }: RequestOptions = {}): Promise<T> {
  const response = await send(url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const parsed = response.text ? (JSON.parse(response.text) as unknown) : undefined;
  if (response.status < 200 || response.status > 299) throw new ApiError(response.status, parsed ?? {});
  return parsed as T;
}
