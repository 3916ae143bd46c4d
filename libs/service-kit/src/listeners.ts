import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';

import type { HttpSettings } from '@rotor/config';
import type { Logger } from '@rotor/telemetry';

import { loadServerTls, logCertificate } from './tls-context';
import { reloadTlsOnChange } from './tls-reload';

export interface ListenerUrls {
  workload: string;
  /** Set when operator routes and /metrics have their own port. */
  operator?: string;
}

type Server = HttpServer | HttpsServer;

/**
 * The service's HTTPS servers (plain HTTP ones on an insecure local stack): the workload port,
 * and the operator port when configured, both serving one Express handler. Constructing it
 * reads the certificate files, so a bad one stops the boot before anything connects; with TLS,
 * both servers follow later changes of those files.
 */
export class ServiceListeners {
  private readonly workload: Server;
  private readonly operator?: Server;
  private readonly stopReload: () => void = () => undefined;

  constructor(
    private readonly http: HttpSettings,
    logger: Logger,
  ) {
    const transport = http.transport;
    if (transport.scheme === 'https') {
      const tls = loadServerTls(transport.tls);
      const mutual = transport.tls.clientCaFile !== undefined;
      const create = () => createHttpsServer({ ...tls.context, minVersion: 'TLSv1.2', requestCert: mutual, rejectUnauthorized: mutual });
      const workload = create();
      const operator = http.operatorPort !== undefined ? create() : undefined;
      this.workload = workload;
      this.operator = operator;
      logCertificate(logger, tls.certificate, 'tls certificate loaded');
      this.stopReload = reloadTlsOnChange({ files: transport.tls, servers: operator ? [workload, operator] : [workload], logger });
    } else {
      this.workload = createHttpServer();
      this.operator = http.operatorPort !== undefined ? createHttpServer() : undefined;
    }
  }

  async listen(handler: RequestListener): Promise<ListenerUrls> {
    for (const server of this.servers()) server.on('request', handler);
    const { host, port, operatorPort, transport } = this.http;
    const workload = await listenOn(this.workload, port, host);
    const operator = this.operator && operatorPort !== undefined ? await listenOn(this.operator, operatorPort, host) : undefined;
    const url = (bound: number) => `${transport.scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
    return { workload: url(workload), ...(operator !== undefined ? { operator: url(operator) } : {}) };
  }

  /** The port the operator listener is bound to (the real one when configured as 0). */
  get operatorPort(): number | undefined {
    const address = this.operator?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  /** Stops accepting connections, closes idle ones and waits for requests in flight. */
  async close(): Promise<void> {
    this.stopReload();
    await Promise.all(this.servers().map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  private servers(): Server[] {
    return this.operator ? [this.workload, this.operator] : [this.workload];
  }
}

/** Resolves with the bound port once listening; rejects on EADDRINUSE and the like. */
const listenOn = (server: Server, port: number, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
