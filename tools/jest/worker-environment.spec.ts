// The integration workers' isolation (worker-environment.js), as the unit project can check it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isolateWorker } = require('./worker-environment') as { isolateWorker: (env: Record<string, string | undefined>) => void };

describe('isolateWorker', () => {
  const stack = () => ({
    ROTOR_TEST_KAFKA_NAMESPACES: 'test1.,test2.,test3.',
    REDIS_URL: 'rediss://127.0.0.1:6379',
    GSM_PROJECT: 'rotor-local',
  });

  it('gives worker N the Nth namespace, Redis database N and its own GSM project', () => {
    const env: Record<string, string | undefined> = { ...stack(), JEST_WORKER_ID: '2' };
    isolateWorker(env);
    expect(env).toMatchObject({
      ROTOR_KAFKA_NAMESPACE: 'test2.',
      REDIS_URL: 'rediss://127.0.0.1:6379/2',
      GSM_PROJECT: 'rotor-local-w2',
      ROTOR_DEPENDENCY_TIMEOUT_MS: '5000',
      ROTOR_TEST_WORKER: '2',
    });
  });

  it('keeps a dependency timeout the run was given', () => {
    const env: Record<string, string | undefined> = { ...stack(), JEST_WORKER_ID: '1', ROTOR_DEPENDENCY_TIMEOUT_MS: '1500' };
    isolateWorker(env);
    expect(env['ROTOR_DEPENDENCY_TIMEOUT_MS']).toBe('1500');
  });

  it('applies once per process, whatever the number of suites the worker runs', () => {
    const env: Record<string, string | undefined> = { ...stack(), JEST_WORKER_ID: '1' };
    isolateWorker(env);
    isolateWorker(env);
    expect(env).toMatchObject({ REDIS_URL: 'rediss://127.0.0.1:6379/1', GSM_PROJECT: 'rotor-local-w1' });
  });

  it('shifts by ROTOR_TEST_WORKER_OFFSET (a focused run beside a full one) and replaces a database already named', () => {
    const env: Record<string, string | undefined> = {
      ...stack(),
      REDIS_URL: 'rediss://127.0.0.1:6379/0',
      JEST_WORKER_ID: '1',
      ROTOR_TEST_WORKER_OFFSET: '2',
    };
    isolateWorker(env);
    expect(env).toMatchObject({ ROTOR_KAFKA_NAMESPACE: 'test3.', REDIS_URL: 'rediss://127.0.0.1:6379/3' });
  });

  it('refuses a worker the stack prepared no namespace for, saying what to do', () => {
    expect(() => isolateWorker({ ...stack(), JEST_WORKER_ID: '4' })).toThrow(/test worker 4 has no Kafka namespace: the stack prepared 3/);
  });
});
