import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AgentConfigError, loadAgentConfig, parseAgentConfig } from './config';

const YAML = `
issuer: { url: "https://rotor-issuer.rotor.svc:8080", caFile: /etc/rotor/ca.crt, timeout: 5s }
tokenFile: /var/run/secrets/rotor/token
credentials:
  - name: orders-db
    role: orders-db
    file: /rotor/secrets/db-url
    template: postgres-url
    ttl: 15m
  - name: api-key
    secret: demo-api-key
    file: /rotor/secrets/api-key
    mode: "0400"
sidecar:
  secretPollInterval: 10s
  notify: { signal: SIGHUP, pidFile: /rotor/run/app.pid }
`;

describe('agent configuration', () => {
  it('reads YAML with defaults: mode 0440, 3 attempts, local health port 8099', () => {
    const config = parseAgentConfig(YAML);
    expect(config.issuer).toEqual({ url: 'https://rotor-issuer.rotor.svc:8080', caFile: '/etc/rotor/ca.crt', timeout: 5_000, attempts: 3 });
    expect(config.credentials[0]).toMatchObject({
      name: 'orders-db',
      role: 'orders-db',
      template: 'postgres-url',
      mode: 0o440,
      ttl: '15m',
    });
    expect(config.credentials[1]).toMatchObject({ secret: 'demo-api-key', mode: 0o400 });
    expect(config.sidecar).toEqual({
      secretPollInterval: 10_000,
      replacedLeaseGrace: 5_000,
      listen: { host: '127.0.0.1', port: 8099 },
      notify: { signal: 'SIGHUP', pidFile: '/rotor/run/app.pid' },
    });
  });

  it('reads JSON from a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rotor-agent-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        issuer: { url: 'https://127.0.0.1:8080' },
        tokenFile: '/t',
        credentials: [{ name: 'a', role: 'r', file: '/out/a', templateText: 'X={{token}}' }],
      }),
    );
    expect(loadAgentConfig(file).credentials[0]).toMatchObject({ templateText: 'X={{token}}', mode: 0o440 });
  });

  it.each([
    ['a credential with both a role and a secret', { role: 'r', secret: 's' }, 'credentials.0: names either a role or a secret'],
    ['a credential with neither', {}, 'credentials.0: names either a role or a secret'],
    ['a relative file', { role: 'r', file: 'out/a' }, 'credentials.0.file: must be an absolute path'],
    ['a world-writable mode', { role: 'r', mode: '0662' }, 'credentials.0.mode: must not be writable by others'],
    ['a template that is code', { role: 'r', templateText: '{{ process.exit() }}' }, 'credentials.0.templateText: template:'],
    ['both template and templateText', { role: 'r', template: 'json', templateText: 'x' }, 'has either template or templateText'],
    ['an unknown shape', { role: 'r', template: 'shell' }, 'credentials.0.template'],
  ])('refuses %s, naming the field', (_what, fields, message) => {
    const credential = { name: 'a', file: '/out/a', ...fields };
    expect(() => parseAgentConfig(JSON.stringify({ issuer: { url: 'https://x' }, tokenFile: '/t', credentials: [credential] }))).toThrow(
      message,
    );
  });

  it('refuses two credentials writing the same file, and a notify command that is not an absolute path', () => {
    const base = { issuer: { url: 'https://x' }, tokenFile: '/t' };
    const two = [
      { name: 'a', role: 'r', file: '/out/a' },
      { name: 'b', role: 'r', file: '/out/a' },
    ];
    expect(() => parseAgentConfig(JSON.stringify({ ...base, credentials: two }))).toThrow('files must be distinct');
    expect(() =>
      parseAgentConfig(JSON.stringify({ ...base, credentials: [two[0]], sidecar: { notify: { command: ['kill', '-HUP', '1'] } } })),
    ).toThrow(AgentConfigError);
  });

  it('says when the file is not YAML or cannot be read', () => {
    expect(() => parseAgentConfig('a: [')).toThrow('configuration is not YAML or JSON');
    expect(() => loadAgentConfig('/nonexistent/rotor-agent.yaml')).toThrow(
      'cannot read the configuration /nonexistent/rotor-agent.yaml: ENOENT',
    );
  });
});
