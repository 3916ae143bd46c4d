import { ConfigError, EnvFragments, operatorTrust, parseEnv } from './env';

const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('parseEnv', () => {
  it('applies defaults so a service runs locally with no variables set', () => {
    const config = parseEnv({ ...EnvFragments.kafka, ...EnvFragments.redis }, {});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.REDIS_URL).toBe('rediss://127.0.0.1:6379');
  });

  it('keeps ended state for a day unless ROTOR_DEDUPE_WINDOW_SECONDS says otherwise, and refuses a window of nothing', () => {
    expect(parseEnv(EnvFragments.dedupe, {}).ROTOR_DEDUPE_WINDOW_SECONDS).toBe(86_400);
    expect(parseEnv(EnvFragments.dedupe, { ROTOR_DEDUPE_WINDOW_SECONDS: '10' }).ROTOR_DEDUPE_WINDOW_SECONDS).toBe(10);
    expect(errorOf(() => parseEnv(EnvFragments.dedupe, { ROTOR_DEDUPE_WINDOW_SECONDS: '0' })).problems[0]).toMatch(
      /^ROTOR_DEDUPE_WINDOW_SECONDS: /,
    );
  });

  it('splits a broker list', () => {
    expect(parseEnv(EnvFragments.kafka, { KAFKA_BROKERS: 'a:9092, b:9093' }).KAFKA_BROKERS).toEqual(['a:9092', 'b:9093']);
  });

  it('names the variable that is wrong', () => {
    const error = errorOf(() => parseEnv(EnvFragments.redis, { REDIS_URL: 'http://x' }));
    expect(error.problems).toEqual(['REDIS_URL: must be a redis or rediss URL']);
  });

  it('says a required secret is required without echoing anything', () => {
    const error = errorOf(() => parseEnv(EnvFragments.keys.auditKey, {}));
    expect(error.problems).toEqual(['ROTOR_AUDIT_KEY: is required']);
  });

  it('never echoes the value of a key that is too short', () => {
    const error = errorOf(() => parseEnv(EnvFragments.keys.auditKey, { ROTOR_AUDIT_KEY: 'short-secret' }));
    expect(error.message).toContain('ROTOR_AUDIT_KEY');
    expect(error.message).not.toContain('short-secret');
  });

  it('reports every bad variable at once', () => {
    const error = errorOf(() =>
      parseEnv({ ...EnvFragments.kafka, ...EnvFragments.http(8080) }, { KAFKA_BROKERS: 'nohost', PORT: '99999' }),
    );
    expect(error.problems.map((problem) => problem.split(':')[0]).sort()).toEqual(['KAFKA_BROKERS', 'PORT']);
  });
});

describe('operator sign-in settings', () => {
  const identity = (env: Record<string, string>) => ({ ...parseEnv(EnvFragments.identity, env), ROTOR_INSECURE_LOCAL: false });

  it('trusts no operator issuer unless one is named (an empty value counts as none)', () => {
    expect(operatorTrust(identity({}))).toEqual({});
    expect(operatorTrust(identity({ ROTOR_OPERATOR_ISSUER: '' }))).toEqual({});
  });

  it("finds the issuer's keys through its discovery document, for the CLI's audience, by default", () => {
    expect(operatorTrust(identity({ ROTOR_OPERATOR_ISSUER: 'https://login.example.com/' }))).toEqual({
      operator: {
        issuer: 'https://login.example.com/',
        jwks: 'https://login.example.com/.well-known/openid-configuration',
        audience: 'rotor-cli',
        groupsClaim: 'groups',
        insecureLocal: false,
      },
    });
  });

  it('reads the group map, and refuses an issuer that is the service-account issuer or a map to no rotor group', () => {
    const mapped = operatorTrust(identity({ ROTOR_OPERATOR_ISSUER: 'https://idp', ROTOR_OPERATOR_GROUP_MAP: 'sre=rotor:sre' }));
    expect(mapped.operator?.groupMap).toEqual(new Map([['sre', ['rotor:sre']]]));
    expect(
      errorOf(() => operatorTrust(identity({ ROTOR_OPERATOR_ISSUER: 'https://kubernetes.default.svc.cluster.local' }))).problems[0],
    ).toMatch(/^ROTOR_OPERATOR_ISSUER: must not be the service-account issuer/);
    expect(
      errorOf(() => operatorTrust(identity({ ROTOR_OPERATOR_ISSUER: 'https://idp', ROTOR_OPERATOR_GROUP_MAP: 'sre=root' }))).problems[0],
    ).toMatch(/ROTOR_OPERATOR_GROUP_MAP: "root" is not a rotor group/);
  });
});
