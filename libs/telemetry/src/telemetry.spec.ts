import { Writable } from 'node:stream';

import { createLogger } from './logger';

const captured = () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, destination };
};

describe('logger redaction', () => {
  it('never writes a token, password or value field, however deep', () => {
    const { lines, destination } = captured();
    const logger = createLogger({ service: 'test', destination });
    logger.info({ token: 'canary-1', lease: { password: 'canary-2', nested: { value: 'canary-3' } } }, 'issued');
    expect(lines.join('')).not.toMatch(/canary-/);
    expect(lines.join('')).toContain('[redacted]');
  });

  it('never writes the Authorization header of a request', () => {
    const { lines, destination } = captured();
    createLogger({ service: 'test', destination }).info({ req: { headers: { authorization: 'Bearer canary' } } }, 'req');
    expect(lines.join('')).not.toContain('canary');
  });
});

describe('logger redaction at any depth', () => {
  const CANARY = 'canary-7f3a';
  const logged = (write: (logger: ReturnType<typeof createLogger>) => void) => {
    const { lines, destination } = captured();
    write(createLogger({ service: 'test', level: 'trace', destination }));
    return lines.join('');
  };

  it('redacts secret-shaped fields six levels deep, through arrays', () => {
    const output = logged((logger) =>
      logger.info(
        { l1: { l2: [{ l3: { l4: [{ l5: { l6: { password: CANARY, clientSecret: CANARY, apiKey: CANARY, name: 'kept' } } }] } }] } },
        'deep',
      ),
    );
    expect(output).not.toContain(CANARY);
    expect(output).toContain('"name":"kept"');
    expect(output).toContain('"password":"[redacted]"');
  });

  it('redacts inside an error, its cause and child-logger bindings, and keeps the error type', () => {
    const error = Object.assign(new TypeError('boom'), { config: { sasl: { password: CANARY } } });
    const output = logged((logger) =>
      logger.child({ link: { auth: { token: CANARY } } }).error({ err: Object.assign(new Error('outer', { cause: error })) }, 'failed'),
    );
    expect(output).not.toContain(CANARY);
    expect(output).toContain('"type":"Error"');
    expect(output).toContain('outer');
  });

  it('never writes binary content, a password in a connection string, or a bearer token in a message', () => {
    const output = logged((logger) =>
      logger.warn({ body: Buffer.from(CANARY), url: `postgres://admin:${CANARY}@db:5432/rotor` }, `connecting with Bearer ${CANARY}`),
    );
    expect(output).not.toContain(CANARY);
    expect(output).toContain('postgres://admin:[redacted]@db:5432/rotor');
  });

  it('keeps identifiers that only look related (tokenHash, keyId, secretName) and survives cycles', () => {
    const cyclic: Record<string, unknown> = { tokenHash: 'h1', keyId: 'k1', secretName: 'db' };
    cyclic['self'] = cyclic;
    const output = logged((logger) => logger.info({ cyclic }, 'ids'));
    expect(output).toContain('"tokenHash":"h1"');
    expect(output).toContain('"keyId":"k1"');
    expect(output).toContain('"secretName":"db"');
    expect(output).toContain('[circular]');
  });
});
