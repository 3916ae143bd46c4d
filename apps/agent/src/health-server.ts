import { createServer, type Server } from 'node:http';

import type { AgentMetrics } from './agent-metrics';
import type { Readiness } from './agent';

/**
 * `/healthz` (the process runs), `/readyz` (every file holds a credential that works: 503 with
 * the names and reasons otherwise) and `/metrics`, in plain HTTP on a local port: the kubelet's
 * probes and a Prometheus scrape, inside the pod. Names and states only, never a value.
 */
export function startHealthServer({
  host,
  port,
  readiness,
  metrics,
}: {
  host: string;
  port: number;
  readiness: () => Readiness;
  metrics: AgentMetrics;
}): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (request.method !== 'GET') return send(405, 'text/plain', 'GET only\n');
    if (path === '/healthz') return send(200, 'application/json', '{"status":"ok"}\n');
    if (path === '/readyz') {
      const state = readiness();
      return send(state.ready ? 200 : 503, 'application/json', `${JSON.stringify(state)}\n`);
    }
    if (path === '/metrics') {
      readiness(); // refreshes the ready gauges
      metrics.registry.metrics().then(
        (text) => send(200, metrics.registry.contentType, text),
        () => send(500, 'text/plain', 'metrics unavailable\n'),
      );
      return;
    }
    send(404, 'text/plain', 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
