/**
 * The injector as the API server meets it: the real Nest app on its HTTPS listener (a
 * throw-away CA), real admission.k8s.io/v1 AdmissionReview JSON posted to /mutate, the
 * returned JSON Patch applied to the pod as the API server would, and the result validated
 * against the Kubernetes schemas of kubernetes-models.
 */
import { request } from 'node:https';

import { Pod } from 'kubernetes-models/v1/Pod';

import { bootstrapService, type RunningService } from '@rotor/service-kit';
import { createLogger, Metrics } from '@rotor/telemetry';

import { TestPki } from '../../libs/service-kit/src/test-pki';
import { loadInjectorConfig } from '../../apps/injector/src/config';
import { InjectorModule } from '../../apps/injector/src/injector.module';
import { admissionReview, appPod, ORDERS_ANNOTATIONS } from '../../apps/injector/test/fixtures';
import { applyPatch } from '../../apps/injector/test/json-patch';

interface Answer {
  status: number;
  body: any;
}

describe('the injector over HTTPS (POST /mutate)', () => {
  const pki = new TestPki();
  let running: RunningService;
  let url: string;

  beforeAll(async () => {
    const server = pki.issue('injector');
    const config = loadInjectorConfig({
      PORT: '19520',
      ROTOR_TLS_CERT_FILE: server.certFile,
      ROTOR_TLS_KEY_FILE: server.keyFile,
      ROTOR_AGENT_IMAGE: 'registry.example.com/rotor-agent@sha256:' + 'b'.repeat(64),
      LOG_LEVEL: 'silent',
    });
    const logger = createLogger({ service: 'injector', level: 'silent' });
    const metrics = new Metrics('injector');
    running = await bootstrapService({
      module: InjectorModule.forRoot(config, { logger, metrics }),
      service: 'injector',
      description: 'test',
      http: config.http,
      operatorRoutes: [],
      jsonBodyLimit: '3mb',
      logger,
      metrics,
    });
    url = running.urls.workload;
  });

  afterAll(async () => {
    await running?.app.close();
    pki.remove();
  });

  /** POSTs a JSON document the way the API server does, trusting only the test CA. */
  const post = (path: string, body: unknown): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const call = request(
        `${url}${path}`,
        {
          method: 'POST',
          ca: pki.ca,
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (response) => {
          let data = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (data += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(data) }));
        },
      );
      call.on('error', reject);
      call.end(text);
    });

  const patchOf = (answer: Answer) => JSON.parse(Buffer.from(answer.body.response.patch, 'base64').toString('utf8'));

  it('answers an annotated pod with a JSON Patch whose result is a valid Pod with the agent as a native sidecar', async () => {
    const pod = appPod(ORDERS_ANNOTATIONS);
    const answer = await post('/mutate', admissionReview(pod, 'uid-1'));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'uid-1', allowed: true, patchType: 'JSONPatch', patch: expect.any(String) },
    });

    const patched = applyPatch(pod, patchOf(answer));
    expect(() => new Pod(patched).validate()).not.toThrow();
    const agent = patched.spec.initContainers?.[0];
    expect(agent).toMatchObject({
      name: 'rotor-agent',
      image: 'registry.example.com/rotor-agent@sha256:' + 'b'.repeat(64),
      restartPolicy: 'Always',
    });
    expect(JSON.parse(agent?.env?.[0]?.value ?? '{}')).toMatchObject({
      issuer: { url: 'https://issuer.rotor.svc:8443' },
      credentials: expect.arrayContaining([expect.objectContaining({ file: expect.stringMatching(/^\/var\/run\/rotor\//) })]),
    });
    expect(patched.spec.volumes?.find((volume) => volume.name === 'rotor-token')?.projected?.sources?.[0]?.serviceAccountToken).toEqual({
      audience: 'rotor',
      expirationSeconds: 600,
      path: 'token',
    });
    expect(patched.spec.securityContext?.fsGroup).toBe(10001);

    // The schema does check the native-sidecar field: a wrong type there fails validation.
    const broken = structuredClone(patched);
    (broken.spec.initContainers![0] as { restartPolicy: unknown }).restartPolicy = 1;
    expect(() => new Pod(broken).validate()).toThrow(/restartPolicy/);

    // The API server re-invokes the webhook (reinvocationPolicy: IfNeeded) with the patched pod.
    const again = await post('/mutate', admissionReview(patched, 'uid-2'));
    expect(again.body.response).toEqual({ uid: 'uid-2', allowed: true });
  });

  it('answers a pod without rotor.dev/inject with allowed and no patch', async () => {
    const answer = await post('/mutate', admissionReview(appPod({ 'example.com/team': 'shop' }), 'uid-3'));
    expect(answer).toEqual({
      status: 200,
      body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-3', allowed: true } },
    });
  });

  it('refuses a pod with an invalid rotor annotation, naming it', async () => {
    const answer = await post('/mutate', admissionReview(appPod({ ...ORDERS_ANNOTATIONS, 'rotor.dev/secrets-db': 'x' }), 'uid-4'));
    expect(answer.status).toBe(200);
    expect(answer.body.response).toEqual({
      uid: 'uid-4',
      allowed: false,
      status: { code: 400, message: expect.stringContaining('annotation rotor.dev/secrets-db: is not a rotor annotation') },
    });
  });

  it('takes a pod far larger than the 64 kB of the REST APIs (managedFields, big environments)', async () => {
    const pod = appPod(ORDERS_ANNOTATIONS);
    pod.spec.containers[0]!.env = Array.from({ length: 2000 }, (_, index) => ({ name: `SETTING_${index}`, value: 'x'.repeat(64) }));
    const answer = await post('/mutate', admissionReview(pod, 'uid-5'));
    expect(answer.status).toBe(200);
    expect(answer.body.response).toMatchObject({ uid: 'uid-5', allowed: true, patchType: 'JSONPatch' });
  });

  it('answers 400 problem+json to a body that is not an AdmissionReview v1', async () => {
    const answer = await post('/mutate', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'invalid-body' });
  });

  it('counts admissions by outcome on /metrics', async () => {
    const metrics = await new Promise<string>((resolve, reject) => {
      request(`${url}/metrics`, { ca: pki.ca, agent: false }, (response) => {
        let data = '';
        response.on('data', (chunk: Buffer) => (data += chunk.toString()));
        response.on('end', () => resolve(data));
      })
        .on('error', reject)
        .end();
    });
    expect(metrics).toMatch(/rotor_injector_admissions_total\{outcome="injected",rotor_service="injector"\} 2/);
    expect(metrics).toMatch(/rotor_injector_admissions_total\{outcome="refused",rotor_service="injector"\} 1/);
  });
});
