import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A stand-in for a kube-apiserver (none can run on these machines), serving the real REST
 * paths to the real @kubernetes/client-node over plain HTTP. It implements what rotor's
 * tests need: TokenReview (POST /apis/authentication.k8s.io/v1/tokenreviews).
 */
export class FakeKubeApi {
  /** Tokens the "cluster" has revoked; TokenReview says unauthenticated for them. */
  readonly revokedTokens = new Set<string>();
  readonly requests: { method: string; path: string; authorization?: string }[] = [];
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** A kubeconfig pointing at this server, with a bearer token for rotor. */
  writeKubeconfig(): string {
    const file = join(mkdtempSync(join(tmpdir(), 'rotor-kube-')), 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        // Plain HTTP: the client allows it only with insecure-skip-tls-verify, as for any non-TLS server.
        'clusters: [{ name: fake, cluster: { server: "' + this.url + '", insecure-skip-tls-verify: true } }]',
        'users: [{ name: rotor, user: { token: rotor-service-account-token } }]',
        'contexts: [{ name: fake, context: { cluster: fake, user: rotor } }]',
        'current-context: fake',
      ].join('\n'),
    );
    return file;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    this.requests.push({ method: request.method ?? 'GET', path, authorization: request.headers.authorization });
    const body = await readBody(request);
    if (request.method === 'POST' && path === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const review = JSON.parse(body) as { spec: { token: string; audiences?: string[] } };
      const authenticated = !this.revokedTokens.has(review.spec.token);
      return json(response, 201, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: review.spec,
        status: authenticated ? { authenticated: true, audiences: review.spec.audiences ?? [] } : { authenticated: false, error: 'token has been invalidated' },
      });
    }
    json(response, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not served by the fake` });
  }
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};
