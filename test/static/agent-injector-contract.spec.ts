import { AgentConfigSchema } from '../../apps/agent/src/config';
import { agentConfig, type AgentSettings } from '../../apps/injector/src/injection/pod-mutation';

/** The injector writes the agent's configuration; the agent validates it. One schema must accept what the other writes. */
describe('the injector writes a configuration the agent accepts', () => {
  const settings: AgentSettings = {
    image: 'rotor:test',
    issuerUrl: 'https://issuer.rotor.svc:8443',
    caConfigMap: 'rotor-ca',
    tokenAudience: 'rotor',
    tokenExpirationSeconds: 600,
    fsGroup: 2000,
  };

  it('for roles and secrets, built-in and custom templates, init and sidecar', () => {
    for (const mode of ['init', 'sidecar'] as const) {
      const config = agentConfig(
        {
          mode,
          mountPath: '/var/run/rotor',
          credentials: [
            { name: 'db', role: 'orders-db', template: 'postgres-url' },
            { name: 'api-key', secret: 'demo-api-key' },
            { name: 'cache', role: 'cache', template: 'redis://{{username}}:{{password}}@cache:6380' },
          ],
        },
        settings,
      );
      const parsed = AgentConfigSchema.safeParse(JSON.parse(JSON.stringify(config)));
      expect(parsed.error?.issues ?? []).toEqual([]);
      expect(parsed.data?.credentials.map((credential) => credential.file)).toEqual([
        '/var/run/rotor/db',
        '/var/run/rotor/api-key',
        '/var/run/rotor/cache',
      ]);
      expect(parsed.data?.credentials[2]).toMatchObject({ templateText: 'redis://{{username}}:{{password}}@cache:6380' });
      expect(parsed.data?.sidecar.listen.host).toBe('0.0.0.0');
    }
  });
});
