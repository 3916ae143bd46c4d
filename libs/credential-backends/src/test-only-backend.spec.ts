import { z } from 'zod';

import { BackendSettingsSchema } from '@rotor/catalog';
import { BackendKindSchema, type BackendKind } from '@rotor/contracts';

import { BackendRegistry } from './backend-registry';
import type { CredentialBackend, IssuedCredential, IssueRequest, MintedCredential } from './credential-backend';
import { OpaqueTokenBackend } from './opaque-token.backend';

/*
 * The recipe of docs/extending.md followed once, with a backend that exists only in this spec:
 * its catalog schema, one file implementing CredentialBackend, one registry line. Nothing in
 * production lists it; the generic parts (catalog union, registry, readiness loop, lease
 * handles) take it as they take rotor's own.
 */

// 1. Its catalog schema: one entry of the role's `backend` union.
const echoSettings = z.object({ kind: z.literal('test-echo'), prefix: z.string().min(1) });
const backendWithEcho = z.discriminatedUnion('kind', [...BackendSettingsSchema.options, echoSettings]);

// 2. One file implementing the interface (here, one class).
type EchoHandle = { backend: 'test-echo'; account: string };
class EchoBackend implements CredentialBackend<'test-echo', z.infer<typeof echoSettings>, EchoHandle> {
  readonly kind = 'test-echo' as const;
  readonly accounts = new Map<string, Date>();
  pings = 0;

  leaseHandle(leaseId: string): EchoHandle {
    return { backend: 'test-echo', account: `echo-${leaseId}` };
  }

  async issue({ leaseId, settings, expiresAt }: IssueRequest<z.infer<typeof echoSettings>>): Promise<IssuedCredential<EchoHandle>> {
    const handle = this.leaseHandle(leaseId);
    this.accounts.set(handle.account, expiresAt);
    return { credential: { token: `${settings.prefix}${leaseId}` }, handle };
  }

  async renew(handle: EchoHandle, expiresAt: Date): Promise<void> {
    this.accounts.set(handle.account, expiresAt);
  }

  async revoke(handle: EchoHandle): Promise<void> {
    this.accounts.delete(handle.account);
  }

  async listMinted(): Promise<MintedCredential<EchoHandle>[]> {
    return [...this.accounts.keys()].map((account) => ({
      leaseId: account.slice('echo-'.length),
      handle: { backend: 'test-echo', account },
    }));
  }

  async ping(): Promise<void> {
    this.pings++;
  }
}

// 3. One registry line (a test registry: rotor's own kinds plus this one).
const registryWith = (echo: EchoBackend) => new BackendRegistry<BackendKind | 'test-echo'>([new OpaqueTokenBackend(), echo]);

describe('a backend added by the recipe of docs/extending.md, registered only in this test', () => {
  const leaseId = '5b2f7c1e-8f7a-4c2e-9a51-3f3c1e2d4b6a';

  it('is not one of rotor’s production kinds', () => {
    expect(BackendKindSchema.options).not.toContain('test-echo');
  });

  it('has catalog settings validated by its own schema next to the production ones', () => {
    expect(backendWithEcho.parse({ kind: 'test-echo', prefix: 'e_' })).toEqual({ kind: 'test-echo', prefix: 'e_' });
    expect(backendWithEcho.parse({ kind: 'opaque-token' })).toEqual({ kind: 'opaque-token' });
    expect(backendWithEcho.safeParse({ kind: 'test-echo' }).success).toBe(false);
    expect(backendWithEcho.safeParse({ kind: 'test-other', prefix: 'x' }).success).toBe(false);
  });

  it('issues, renews, lists and revokes through the registry by its kind, with the handle it names for the lease', async () => {
    const echo = new EchoBackend();
    const registry = registryWith(echo);
    const settings = echoSettings.parse(backendWithEcho.parse({ kind: 'test-echo', prefix: 'e_' }));
    const expiresAt = new Date('2026-12-01T10:15:00.000Z');

    const issued = await registry.get('test-echo').issue({ leaseId, settings, expiresAt });
    expect(issued).toEqual({ credential: { token: `e_${leaseId}` }, handle: { backend: 'test-echo', account: `echo-${leaseId}` } });
    expect(registry.leaseHandle('test-echo', leaseId)).toEqual(issued.handle);

    const later = new Date('2026-12-01T10:45:00.000Z');
    await registry.get('test-echo').renew(issued.handle, later);
    expect(echo.accounts.get(`echo-${leaseId}`)).toEqual(later);
    expect(await registry.get('test-echo').listMinted?.()).toEqual([{ leaseId, handle: issued.handle }]);

    await registry.get('test-echo').revoke(issued.handle);
    expect(await echo.listMinted()).toEqual([]);
    expect(registry.find(EchoBackend)).toBe(echo);
  });

  it('gets a readiness check under its kind, is a dependency of its leases, and is listed by the orphan sweep', async () => {
    const echo = new EchoBackend();
    const registry = registryWith(echo);
    const checks = registry.readinessChecks();
    expect(checks.map(({ name }) => name)).toEqual(['test-echo']);
    await checks[0]?.check();
    expect(echo.pings).toBe(1);
    expect(registry.dependenciesOf('test-echo')).toEqual(['test-echo']);
    expect(registry.dependenciesOf('opaque-token')).toEqual([]);
    expect(
      registry
        .all()
        .filter((backend) => backend.listMinted)
        .map((backend) => backend.kind),
    ).toEqual(['test-echo']);
  });
});
