import { readAnnotations } from './annotations';

const inject = (extra: Record<string, string>) => readAnnotations({ 'rotor.dev/inject': 'true', ...extra });

describe('readAnnotations', () => {
  it('leaves pods without rotor.dev/inject, or with "false", alone whatever else they carry', () => {
    expect(readAnnotations(undefined)).toEqual({ kind: 'not-requested' });
    expect(readAnnotations({ 'example.com/x': 'y', 'rotor.dev/role-db': 'orders-db' })).toEqual({ kind: 'not-requested' });
    expect(readAnnotations({ 'rotor.dev/inject': 'false', 'rotor.dev/bogus': 'x' })).toEqual({ kind: 'not-requested' });
  });

  it('reads roles, secrets and templates per credential name, as a sidecar at /var/run/rotor by default', () => {
    expect(
      inject({
        'rotor.dev/role-db': 'orders-db',
        'rotor.dev/template-db': 'postgres-url',
        'rotor.dev/secret-api-key': 'demo-api-key',
        'example.com/other': 'ignored',
      }),
    ).toEqual({
      kind: 'inject',
      request: {
        mode: 'sidecar',
        mountPath: '/var/run/rotor',
        // In the order of the annotation keys: role-* before secret-*.
        credentials: [
          { name: 'db', role: 'orders-db', template: 'postgres-url' },
          { name: 'api-key', secret: 'demo-api-key' },
        ],
      },
    });
  });

  it('takes the agent mode, the mount path and custom {{field}} templates', () => {
    const reading = inject({
      'rotor.dev/agent-mode': 'init',
      'rotor.dev/mount-path': '/etc/app/credentials',
      'rotor.dev/role-cache': 'orders-cache',
      'rotor.dev/template-cache': 'redis://{{ username }}:{{password}}@cache:6380/0',
    });
    expect(reading).toEqual({
      kind: 'inject',
      request: {
        mode: 'init',
        mountPath: '/etc/app/credentials',
        credentials: [{ name: 'cache', role: 'orders-cache', template: 'redis://{{ username }}:{{password}}@cache:6380/0' }],
      },
    });
  });

  it.each([
    [{ 'rotor.dev/inject': 'yes', 'rotor.dev/role-db': 'orders-db' }, 'rotor.dev/inject', 'must be "true" or "false"'],
    [{ 'rotor.dev/inject': 'true' }, 'rotor.dev/inject', 'no credential is named'],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/rol-x': 'a' },
      'rotor.dev/rol-x',
      'is not a rotor annotation',
    ],
    [{ 'rotor.dev/inject': 'true', 'rotor.dev/role-DB': 'orders-db' }, 'rotor.dev/role-DB', 'must be a DNS-1123 label'],
    [{ 'rotor.dev/inject': 'true', 'rotor.dev/role-db.conf': 'orders-db' }, 'rotor.dev/role-db.conf', 'must be a DNS-1123 label'],
    [{ 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'Orders DB' }, 'rotor.dev/role-db', 'role name'],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/template-db': 'yaml' },
      'rotor.dev/template-db',
      'unknown template',
    ],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/template-db': '{{password}} {{ process.exit() }}' },
      'rotor.dev/template-db',
      'only hold {{field}} placeholders',
    ],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/template-db': 'raw' },
      'rotor.dev/template-db',
      'no rotor.dev/role-db or rotor.dev/secret-db',
    ],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/secret-db': 'demo-api-key' },
      'rotor.dev/secret-db',
      'both a role and a secret',
    ],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/agent-mode': 'daemon' },
      'rotor.dev/agent-mode',
      'init, sidecar',
    ],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/mount-path': 'relative' },
      'rotor.dev/mount-path',
      'absolute',
    ],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/mount-path': '/etc/../root' },
      'rotor.dev/mount-path',
      'normalised',
    ],
    [
      { 'rotor.dev/inject': 'true', 'rotor.dev/role-db': 'orders-db', 'rotor.dev/mount-path': '/a b;rm' },
      'rotor.dev/mount-path',
      'may only hold',
    ],
  ])('refuses %j, naming %s', (annotations, annotation, reason) => {
    const reading = readAnnotations(annotations);
    expect(reading).toEqual({ kind: 'invalid', annotation, reason: expect.stringContaining(reason) });
  });
});
