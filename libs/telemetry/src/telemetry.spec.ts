import { Writable } from 'node:stream';

import { createLogger } from './logger';
import { isTraceparent, outgoingTraceparent, traceIdOf } from './trace-context';

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

describe('trace context', () => {
  it('continues the parent trace with a new span id', () => {
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const child = outgoingTraceparent(parent);
    expect(isTraceparent(child)).toBe(true);
    expect(traceIdOf(child)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(child).not.toBe(parent);
  });

  it('starts a new trace when there is no valid parent', () => {
    expect(isTraceparent(outgoingTraceparent('garbage'))).toBe(true);
    expect(isTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBe(false);
  });
});
