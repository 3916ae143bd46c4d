import { randomBytes } from 'node:crypto';

import { FakeKubeApi } from '../support/fake-kube-api';
import { ServiceProcess } from '../support/service-process';
import { TestIdentity } from '../support/test-identity';
import { writeTempCatalog } from '../support/temp-files';

/** Short, so the test sees a cached verification run out. */
const CACHE_SECONDS = 2;

describe('issuer with TokenReview against the (fake) Kubernetes API', () => {
  const kube = new FakeKubeApi();
  let identity: TestIdentity;
  let issuer: ServiceProcess;

  beforeAll(async () => {
    await kube.start();
    identity = await TestIdentity.create();
    const catalog = writeTempCatalog(`
roles:
  - name: token
    owner: team-test
    backend: { kind: opaque-token }
    bindings: [{ namespace: tr, serviceAccount: app }]
    ttl: 1m
    maxTtl: 5m
`);
    issuer = new ServiceProcess('issuer', 18780, {
      ...identity.env,
      ROTOR_CATALOG: catalog,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      ROTOR_TOKEN_REVIEW: 'true',
      ROTOR_TOKEN_CACHE_SECONDS: String(CACHE_SECONDS),
      KUBECONFIG: kube.writeKubeconfig(),
    });
    await issuer.start().ready();
  }, 90_000);

  afterAll(async () => {
    await issuer?.stop();
    await kube.stop();
  });

  const issue = async (token: string) =>
    fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'token' }),
    });

  it("issues to a token the API server still accepts, asking it with rotor's own credentials", async () => {
    const token = await identity.serviceAccountToken('tr', 'app');
    expect((await issue(token)).status).toBe(201);
    expect(kube.requests).toContainEqual({
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/tokenreviews',
      authorization: 'Bearer rotor-service-account-token',
    });
  });

  it('refuses a token the API server accepts as another user than the token says', async () => {
    const token = await identity.serviceAccountToken('tr', 'app', { name: 'app-1', uid: 'app-uid' });
    kube.tokenUsers.set(token, 'system:serviceaccount:kube-system:replicaset-controller');
    const response = await issue(token);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'token-subject-mismatch' });
  });

  it('refuses a validly signed, unexpired token that Kubernetes has revoked', async () => {
    const token = await identity.serviceAccountToken('tr', 'app', { name: 'deleted-pod', uid: 'gone' });
    kube.revokedTokens.add(token);
    const response = await issue(token);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'token-revoked' });
  });

  it('answers a token it verified from memory for ROTOR_TOKEN_CACHE_SECONDS at most: a revocation is noticed within that bound', async () => {
    const token = await identity.serviceAccountToken('tr', 'app', { name: 'cached-pod', uid: 'cached' });
    const reviews = () => kube.requests.filter((request) => request.path === '/apis/authentication.k8s.io/v1/tokenreviews').length;
    expect((await issue(token)).status).toBe(201);
    const reviewed = reviews();
    kube.revokedTokens.add(token);
    const accepted = Date.now();
    expect((await issue(token)).status).toBe(201); // within the bound: the cached verification, no second review
    expect(reviews()).toBe(reviewed);
    await new Promise((resolve) => setTimeout(resolve, CACHE_SECONDS * 1000 - (Date.now() - accepted) + 100));
    const response = await issue(token);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'token-revoked' });
    expect(reviews()).toBe(reviewed + 1);
  });
});
