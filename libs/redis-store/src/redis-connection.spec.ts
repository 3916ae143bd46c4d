import { createServer, type Server, type Socket } from 'node:net';

import { createRedis } from './redis-connection';

/** A server that accepts connections and never answers: how a frozen (SIGSTOPped) Redis looks to a client. */
async function silentServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('createRedis', () => {
  it('rejects a command the server does not answer within commandTimeoutMs ("Command timed out")', async () => {
    const server = await silentServer();
    const redis = createRedis(server.url, { connectionName: 'rotor-test-silent', commandTimeoutMs: 300 });
    try {
      void redis.connect().catch(() => undefined); // never ready: the server does not answer the handshake
      const started = Date.now();
      await expect(redis.get('issuer:lease:{x}')).rejects.toThrow('Command timed out');
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      redis.disconnect();
      await server.close();
    }
  });
});
