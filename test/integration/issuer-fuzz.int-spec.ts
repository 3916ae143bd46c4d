import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';

import fc from 'fast-check';
import type Redis from 'ioredis';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';

import { parseDuration } from '@rotor/catalog';
import { Topics } from '@rotor/contracts';

import { requiredEnv } from '../support/services-env';
import { ServiceProcess } from '../support/service-process';
import { TEST_AUDIENCE, TEST_ISSUER, TestIdentity } from '../support/test-identity';
import { readRotorTopicsSince, type TappedMessage } from '../support/topic-tap';
import { ensurePortFree, writeTempCatalog } from '../support/temp-files';
import { redisFromEnv } from '../../tools/security/env-clients';

/*
 * Property tests against a real issuer process: thousands of generated requests, every one
 * of which must be refused (the only workload bound to a role only ever sends invalid
 * bodies), and refused properly: no 5xx, always problem+json whose `status` is the HTTP
 * status, and no lease, idempotency key or event left behind.
 */

const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `it-fuzz-${RUN}`;
const CONTROL_NAMESPACE = `it-fuzz-control-${RUN}`;
const BOUND_ROLE = `fuzz-token-${RUN}`;
const CONTROL_ROLE = `fuzz-control-${RUN}`;
const MAX_TTL_MS = 300_000;

const CATALOG = `
roles:
  - name: ${BOUND_ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings:
      - { namespace: ${NAMESPACE}, serviceAccount: bound }
    ttl: 1m
    maxTtl: 5m
  - name: ${CONTROL_ROLE}
    owner: team-it
    backend: { kind: opaque-token }
    bindings:
      - { namespace: ${CONTROL_NAMESPACE}, serviceAccount: control }
    ttl: 1m
    maxTtl: 5m
`;

const PORT = 18880;
const RUNS = { credentials: 2000, boundWorkload: 1000, leaseRoutes: 1000 };
const PROPERTY_TIMEOUT_MS = 120_000;

// --- tokens -------------------------------------------------------------------------------

const KID = 'it-fuzz';

interface Keys {
  trusted: KeyLike;
  rogue: KeyLike;
  jwksFile: string;
}

const createKeys = async (): Promise<Keys> => {
  const trusted = await generateKeyPair('ES256');
  const rogue = await generateKeyPair('ES256');
  const jwksFile = join(mkdtempSync(join(tmpdir(), 'rotor-identity-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(trusted.publicKey)), kid: KID, alg: 'ES256', use: 'sig' }] }));
  return { trusted: trusted.privateKey, rogue: rogue.privateKey, jwksFile };
};

const sign = (
  key: KeyLike,
  claims: Record<string, unknown>,
  { audience = TEST_AUDIENCE, expiresIn = '10m' }: { audience?: string; expiresIn?: string | number } = {},
): Promise<string> =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: KID })
    .setIssuer(TEST_ISSUER)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key);

const serviceAccount = (namespace: string, name: string) => ({
  sub: `system:serviceaccount:${namespace}:${name}`,
  'kubernetes.io': { namespace, serviceaccount: { name, uid: 'sa-uid' } },
});

const BOUND_SUBJECT = `system:serviceaccount:${NAMESPACE}:bound`;

// --- arbitraries --------------------------------------------------------------------------

/** What HTTP lets a header value carry: HTAB, SP, visible ASCII and obs-text (0x80-0xFF). */
const HEADER_SAFE = /[^\t\x20-\x7e\x80-\xff]/g;
/** Unicode text as its UTF-8 bytes, one latin1 character per byte: how it travels in a header. */
const utf8Bytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

const repeated = (maxLength: number) =>
  fc
    .tuple(fc.integer({ min: 1, max: maxLength }), fc.string({ minLength: 1, maxLength: 4, unit: 'grapheme' }))
    .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));

const headerValue = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ maxLength: 60, unit: 'binary-ascii' }).map((text) => text.replace(HEADER_SAFE, '')),
  fc.string({ maxLength: 60, unit: 'grapheme' }).map(utf8Bytes),
  fc.string({ maxLength: 40, unit: fc.constantFrom('\t', ' ', ',', ';', '=', '"', 'a', '\u00e9', '\u00ff') }),
  // Long values, well within Node's 16 KiB header limit (beyond it Node itself answers 431 with no body).
  repeated(4_000)
    .map(utf8Bytes)
    .map((text) => text.slice(0, 4_000)),
);

const idempotencyKey = fc.option(
  fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,128}$/) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.string({ minLength: 129, maxLength: 300 }) },
    { weight: 3, arbitrary: headerValue },
  ),
  { nil: undefined, freq: 2 },
);

const contentType = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.constant('application/json') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'APPLICATION/JSON',
        'application/json;charset=',
        'application/json; charset=utf-16',
        'application/json; charset=koi8-r',
        'application/json; charset="utf-8"; extra',
        'application/merge-patch+json',
        'application/problem+json',
        'text/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded; charset=iso-8859-1',
        'multipart/form-data; boundary=rotor',
        'application/octet-stream',
        '*/*',
        '',
      ),
    },
    { weight: 1, arbitrary: headerValue },
  ),
  { nil: undefined, freq: 8 },
);

const jsonText = (value: unknown) => JSON.stringify(value) ?? 'null';

/** A value for one of the body's known fields: right type or not, sometimes the real role. */
const roleValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(BOUND_ROLE, CONTROL_ROLE, 'demo-token', 'readiness-token', '') },
  { weight: 3, arbitrary: fc.string({ maxLength: 70 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 70, unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const durationLike = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom('ms', 's', 'm', 'h', 'd', '', 'x', 'S', ' s'))
    .map(([amount, unit]) => `${amount}${unit}`),
  fc.constantFrom('1m', '5m', '1h30m', '90s', '7d', '0s', '-1m', '1.5m', ' 1m ', '1m1m1m', '9'.repeat(31) + 'd', 'P1D', 'Infinity'),
);
const ttlValue = fc.oneof(durationLike, fc.integer(), fc.double(), fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 2 }));
const taskValue = fc.oneof(fc.stringMatching(/^[\w.:/-]{1,128}$/), fc.string({ maxLength: 200 }), fc.jsonValue({ maxDepth: 2 }));
const strangeKey = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'role ', 'Role', 'TTL'),
);
const extraFields = (minKeys: number) => fc.dictionary(strangeKey, fc.jsonValue({ maxDepth: 3 }), { minKeys, maxKeys: 4 });

const credentialShaped = fc
  .tuple(fc.record({ role: roleValue, ttl: ttlValue, task: taskValue }, { requiredKeys: [] }), fc.option(extraFields(1), { freq: 3 }))
  .map(([known, extra]) => ({ ...(extra ?? {}), ...known }));

/** A body the schema accepts: only the caller, or the catalog, can refuse it. */
const plausibleBody = fc.record(
  {
    role: fc.oneof(fc.constantFrom(BOUND_ROLE, CONTROL_ROLE, 'demo-token'), fc.string({ minLength: 1, maxLength: 63 })),
    ttl: fc.oneof(fc.integer({ min: 1, max: 31 * 86_400 }), fc.constantFrom('30s', '1m', '5m', '1h', '7d')),
    task: fc.stringMatching(/^[\w.:/-]{1,128}$/),
  },
  { requiredKeys: ['role'] },
);

interface GeneratedBody {
  bytes?: Buffer;
  contentEncoding?: 'gzip' | 'deflate' | 'identity';
}

const plain = (text: string): GeneratedBody => ({ bytes: Buffer.from(text, 'utf8') });

/** Bodies of every shape: JSON or not, huge, deeply nested, form-encoded, compressed (correctly: a mismatch is its own test below). */
const anyBody: fc.Arbitrary<GeneratedBody> = fc.oneof(
  { weight: 6, arbitrary: plausibleBody.map((body) => plain(jsonText(body))) },
  { weight: 6, arbitrary: credentialShaped.map((body) => plain(jsonText(body))) },
  { weight: 3, arbitrary: fc.jsonValue().map((value) => plain(jsonText(value))) },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300, unit: 'binary' }).map(plain) },
  { weight: 1, arbitrary: repeated(100_000).map(plain) },
  { weight: 1, arbitrary: repeated(100_000).map((text) => plain(jsonText({ role: text }))) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('array', 'object', 'role'))
      .map(([depth, shape]) =>
        plain(
          shape === 'array'
            ? '['.repeat(depth) + ']'.repeat(depth)
            : shape === 'object'
              ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
              : `{"role":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        ),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .dictionary(strangeKey, fc.oneof(fc.string(), roleValue.map(String)))
      .map((form) => plain(new URLSearchParams(form).toString())),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(credentialShaped, fc.constantFrom('gzip' as const, 'deflate' as const, 'identity' as const))
      .map(([body, encoding]) => {
        const raw = Buffer.from(jsonText(body));
        return { bytes: encoding === 'gzip' ? gzipSync(raw) : encoding === 'deflate' ? deflateSync(raw) : raw, contentEncoding: encoding };
      }),
  },
);

/** Claims a trusted key may sign: any subject but the one bound workload's. */
const randomClaims = fc
  .record(
    {
      sub: fc.oneof(
        fc
          .tuple(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?$/), fc.stringMatching(/^[a-z0-9]([-.a-z0-9]{0,12}[a-z0-9])?$/))
          .map(([ns, name]) => `system:serviceaccount:${ns}:${name}`),
        fc.constantFrom(
          'system:serviceaccount::',
          'system:serviceaccount:a',
          `system:serviceaccount:${NAMESPACE}:`,
          `system:serviceaccount:${NAMESPACE}:bound:extra`,
          'sre@example.com',
          '',
        ),
        fc.string({ maxLength: 60 }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      groups: fc.oneof(
        fc.array(fc.oneof(fc.constantFrom('rotor:sre', 'rotor:auditor', 'rotor:', 'system:masters'), fc.string())),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      'kubernetes.io': fc.oneof(
        fc.record({
          namespace: fc.jsonValue({ maxDepth: 1 }),
          pod: fc.oneof(
            fc.record({ name: fc.jsonValue({ maxDepth: 1 }), uid: fc.jsonValue({ maxDepth: 1 }) }),
            fc.jsonValue({ maxDepth: 1 }),
          ),
        }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    },
    { requiredKeys: [] },
  )
  .filter((claims) => claims.sub !== BOUND_SUBJECT);

type Authorization =
  | { kind: 'none' }
  | { kind: 'header'; value: string }
  | { kind: 'fixed'; token: 'unbound' | 'operator' | 'rogue-bound' | 'expired-bound' | 'other-audience-bound' | 'bound' }
  | { kind: 'signed'; claims: Record<string, unknown> };

const randomBase64Url = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('base64url'));

/** Every kind of Authorization a caller other than the bound workload could send. */
const foreignAuthorization: fc.Arbitrary<Authorization> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Authorization>({ kind: 'none' }) },
  {
    // Tokens that authenticate (or nearly): these let the request reach validation and the catalog.
    weight: 6,
    arbitrary: fc.constantFrom<Authorization>(
      { kind: 'fixed', token: 'unbound' },
      { kind: 'fixed', token: 'unbound' },
      { kind: 'fixed', token: 'unbound' },
      { kind: 'fixed', token: 'operator' },
      { kind: 'fixed', token: 'rogue-bound' },
      { kind: 'fixed', token: 'expired-bound' },
      { kind: 'fixed', token: 'other-audience-bound' },
    ),
  },
  { weight: 1, arbitrary: headerValue.map((value): Authorization => ({ kind: 'header', value })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        headerValue,
        fc.tuple(randomBase64Url, randomBase64Url, randomBase64Url).map((parts) => parts.join('.')),
      )
      .map((value): Authorization => ({ kind: 'header', value: `Bearer ${value}` })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), randomBase64Url)
      .map(([header, payload, signature]): Authorization => ({
        kind: 'header',
        value: `Bearer ${Buffer.from(jsonText(header)).toString('base64url')}.${Buffer.from(jsonText(payload)).toString('base64url')}.${signature}`,
      })),
  },
  { weight: 2, arbitrary: randomClaims.map((claims): Authorization => ({ kind: 'signed', claims })) },
);

// --- invalid bodies for the one bound workload ----------------------------------------------

const acceptedTtlString = (text: string) => {
  if (text.length > 32) return false;
  const ms = parseDuration(text);
  return ms !== undefined && ms <= MAX_TTL_MS;
};
const acceptedTtl = (value: unknown) =>
  (typeof value === 'number' && Number.isInteger(value) && value > 0 && value * 1000 <= MAX_TTL_MS) ||
  (typeof value === 'string' && acceptedTtlString(value));

/** A ttl the bound role can never accept: wrong type, malformed, not positive, or above maxTtl. */
const rejectedTtl = fc
  .oneof(
    // Well-formed but above maxTtl: passes the schema, refused by the role.
    { weight: 3, arbitrary: fc.integer({ min: MAX_TTL_MS / 1000 + 1, max: 31 * 86_400 }) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.integer({ min: 6, max: 1_000_000 }), fc.constantFrom('m', 'h', 'd'))
        .map(([amount, unit]) => `${amount}${unit}`),
    },
    { weight: 2, arbitrary: fc.integer({ min: MAX_TTL_MS / 1000 + 1, max: 100_000_000 }).map((seconds) => `${seconds}s`) },
    { weight: 1, arbitrary: fc.integer({ min: 31 * 86_400 + 1, max: Number.MAX_SAFE_INTEGER }) },
    { weight: 1, arbitrary: fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 }) },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: durationLike },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  )
  // JSON turns NaN and ±Infinity into null, which is rejected as well.
  .filter((ttl) => !acceptedTtl(ttl));

const acceptedTask = (value: unknown) => typeof value === 'string' && value.length >= 1 && value.length <= 128 && /^[\w.:/-]+$/.test(value);
const knownKeys = new Set(['role', 'ttl', 'task']);

/** Bodies naming the bound role that are still invalid: a bad ttl, a bad task, or a field the API does not have. */
const invalidBoundBody = fc.oneof(
  fc
    .record({
      role: fc.constant(BOUND_ROLE),
      ttl: rejectedTtl,
      task: fc.option(fc.oneof(fc.stringMatching(/^[\w.:/-]{1,128}$/), taskValue), { nil: undefined, freq: 2 }),
    })
    .map(({ task, ...rest }) => (task === undefined ? rest : { ...rest, task })),
  fc
    .tuple(
      fc.option(fc.constantFrom('1m', '5m', 60, 300), { nil: undefined }),
      extraFields(1).filter((extra) => Object.keys(extra).some((key) => !knownKeys.has(key))),
    )
    .map(([ttl, extra]) => ({ ...extra, role: BOUND_ROLE, ...(ttl === undefined ? {} : { ttl }) })),
  fc.record({ role: fc.constant(BOUND_ROLE), task: taskValue.filter((task) => !acceptedTask(task)) }),
);

const boundContentType = fc.option(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/merge-patch+json', 'APPLICATION/JSON'),
    },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/json; charset=koi8-r', 'application/octet-stream') },
    // Never form-encoded: the JSON text would then be read as field names, a different (still invalid) request.
    { weight: 1, arbitrary: headerValue.filter((value) => !/urlencoded/i.test(value)) },
  ),
  { nil: undefined, freq: 10 },
);

// --- lease routes -----------------------------------------------------------------------------

const leaseIdSegment = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 80, unit: 'grapheme' }).map(encodeURIComponent),
  fc.string({ maxLength: 40, unit: 'binary' }).map(encodeURIComponent),
  fc.stringMatching(/^[A-Za-z0-9._~%-]{0,60}$/),
  fc.constantFrom(
    '%',
    '%zz',
    '%E0%A4%A',
    '%00',
    '%2F',
    '%2e%2e',
    '..',
    '.',
    'null',
    '00000000-0000-0000-0000-000000000000',
    'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
  ),
);

// --- the checks ----------------------------------------------------------------------------------

interface Refusal {
  status: number;
  problemJson: boolean;
  problemStatus: unknown;
  code: unknown;
}

const refusalOf = async (response: Response): Promise<Refusal> => {
  const text = await response.text();
  let problem: { status?: unknown; code?: unknown } = {};
  try {
    problem = JSON.parse(text) as typeof problem;
  } catch {
    problem = { status: `not JSON: ${text.slice(0, 100)}` };
  }
  return {
    status: response.status,
    problemJson: /^application\/problem\+json/.test(response.headers.get('content-type') ?? ''),
    problemStatus: problem.status,
    code: problem.code,
  };
};

/** Refused with a 4xx, as problem+json whose status is the HTTP status. */
const expectRefused = ({ status, problemJson, problemStatus }: Refusal) => {
  expect({ status, clientError: status >= 400 && status < 500, problemJson, problemStatus }).toEqual({
    status,
    clientError: true,
    problemJson: true,
    problemStatus: status,
  });
};

/**
 * Lease records (`issuer:lease:*`) whose role is one of `roles`. The roles exist only in this
 * run's catalog, so these are exactly the leases this suite's issuer wrote, however many
 * other issuers (other suites, a benchmark) share the Redis meanwhile.
 */
const countLeases = async (redis: Redis, roles: string[]): Promise<number> => {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'issuer:lease:*', 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.hget(key, 'role');
    const results = (await pipeline.exec()) ?? [];
    count += results.filter(([error, role]) => !error && roles.includes(role as string)).length;
  } while (cursor !== '0');
  return count;
};

const countKeys = async (redis: Redis, pattern: string): Promise<number> => {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
};

const issuedFor = (messages: TappedMessage[], namespace: string) =>
  messages.filter((message) => {
    if (message.topic !== Topics.leaseIssued) return false;
    const event = JSON.parse(message.value) as { data?: { workload?: { namespace?: string } } };
    return event.data?.workload?.namespace === namespace;
  });

describe('issuer under generated requests (property tests against the real process)', () => {
  const started = new Date();
  const redis = redisFromEnv(requiredEnv('REDIS_URL'), { lazyConnect: true });
  let keys: Keys;
  /** Operators' tokens come from their own issuer (TestIdentity's); the generated ones from the cluster's. */
  let operators: TestIdentity;
  let issuer: ServiceProcess;
  const fixedTokens = {} as Record<'unbound' | 'operator' | 'rogue-bound' | 'expired-bound' | 'other-audience-bound' | 'bound', string>;
  let leasesBefore: number;
  const codes = {
    credentials: new Map<unknown, number>(),
    boundWorkload: new Map<unknown, number>(),
    leaseRoutes: new Map<unknown, number>(),
  };

  const tally = (map: Map<unknown, number>, refusal: Refusal) =>
    map.set(`${refusal.status} ${String(refusal.code)}`, (map.get(`${refusal.status} ${String(refusal.code)}`) ?? 0) + 1);

  const authorizationHeader = async (authorization: Authorization): Promise<Record<string, string>> => {
    switch (authorization.kind) {
      case 'none':
        return {};
      case 'header':
        return { authorization: authorization.value };
      case 'fixed':
        return { authorization: `Bearer ${fixedTokens[authorization.token]}` };
      case 'signed':
        return { authorization: `Bearer ${await sign(keys.trusted, authorization.claims)}` };
    }
  };

  const send = async (
    method: string,
    path: string,
    headers: Record<string, string | undefined>,
    body?: GeneratedBody,
  ): Promise<Refusal> => {
    const defined = Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
    if (body?.contentEncoding) defined['content-encoding'] = body.contentEncoding;
    const response = await fetch(`${issuer.url}${path}`, { method, headers: defined, ...(body?.bytes ? { body: body.bytes } : {}) });
    return refusalOf(response);
  };

  beforeAll(async () => {
    keys = await createKeys();
    fixedTokens.bound = await sign(keys.trusted, serviceAccount(NAMESPACE, 'bound'));
    fixedTokens.unbound = await sign(keys.trusted, serviceAccount(NAMESPACE, 'unbound'));
    operators = await TestIdentity.create();
    fixedTokens.operator = await operators.operatorToken('sre@example.com', ['rotor:sre', 'rotor:auditor']);
    fixedTokens['rogue-bound'] = await sign(keys.rogue, serviceAccount(NAMESPACE, 'bound'));
    fixedTokens['expired-bound'] = await sign(keys.trusted, serviceAccount(NAMESPACE, 'bound'), {
      expiresIn: Math.floor(Date.now() / 1000) - 600,
    });
    fixedTokens['other-audience-bound'] = await sign(keys.trusted, serviceAccount(NAMESPACE, 'bound'), { audience: 'someone-else' });

    const catalogFile = writeTempCatalog(CATALOG);
    issuer = new ServiceProcess('issuer', PORT, {
      ...operators.env,
      ROTOR_JWKS: keys.jwksFile,
      ROTOR_TOKEN_ISSUER: TEST_ISSUER,
      ROTOR_TOKEN_AUDIENCE: TEST_AUDIENCE,
      ROTOR_CATALOG: catalogFile,
      ROTOR_TOKEN_HASH_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    });
    await ensurePortFree(PORT);
    await redis.connect();
    await issuer.start().ready();
    leasesBefore = await countLeases(redis, [BOUND_ROLE, CONTROL_ROLE]);
  }, 120_000);

  afterAll(async () => {
    await issuer?.stop();
    redis.disconnect();
  });

  it(
    'refuses every generated POST /v1/credentials from callers other than the bound workload with a 4xx problem+json, never a 5xx',
    async () => {
      await fc.assert(
        fc.asyncProperty(foreignAuthorization, anyBody, contentType, idempotencyKey, async (authorization, body, type, key) => {
          const refusal = await send(
            'POST',
            '/v1/credentials',
            { ...(await authorizationHeader(authorization)), 'content-type': type, 'idempotency-key': key },
            body,
          );
          tally(codes.credentials, refusal);
          expectRefused(refusal);
        }),
        { numRuns: RUNS.credentials },
      );
      // The generators reach every layer: authentication, body parsing, validation and the catalog.
      const seen = [...codes.credentials.keys()].join(', ');
      for (const expected of [
        '401 missing-token',
        '401 malformed-authorization',
        '401 invalid-token',
        '401 unknown-subject',
        '403 workloads-only',
        '403 role-not-bound',
        '400 invalid-body',
        '413 payload-too-large',
        '415 unsupported-media-type',
      ]) {
        expect(seen).toContain(expected);
      }
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'refuses every invalid body from the bound workload with a 4xx problem+json, before any lease or idempotency key exists',
    async () => {
      await fc.assert(
        fc.asyncProperty(invalidBoundBody, boundContentType, idempotencyKey, async (body, type, key) => {
          const refusal = await send(
            'POST',
            '/v1/credentials',
            { authorization: `Bearer ${fixedTokens.bound}`, 'content-type': type, 'idempotency-key': key },
            plain(jsonText(body)),
          );
          tally(codes.boundWorkload, refusal);
          expectRefused(refusal);
        }),
        { numRuns: RUNS.boundWorkload },
      );
      const seen = [...codes.boundWorkload.keys()].join(', ');
      for (const expected of ['400 ttl-above-max', '400 invalid-body', '400 invalid-idempotency-key']) {
        expect(seen).toContain(expected);
      }
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'refuses GET, renew and DELETE on generated lease ids with a 4xx problem+json, never a 5xx',
    async () => {
      const authorization = fc.oneof(foreignAuthorization, fc.constant<Authorization>({ kind: 'fixed', token: 'bound' }));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'DELETE', 'POST', 'PUT', 'PATCH'),
          leaseIdSegment,
          authorization,
          anyBody,
          contentType,
          async (method, id, auth, body, type) => {
            const path = method === 'POST' ? `/v1/leases/${id}/renew` : `/v1/leases/${id}`;
            const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
            const refusal = await send(
              method,
              path,
              { ...(await authorizationHeader(auth)), ...(withBody ? { 'content-type': type } : {}) },
              withBody ? body : undefined,
            );
            tally(codes.leaseRoutes, refusal);
            expectRefused(refusal);
          },
        ),
        { numRuns: RUNS.leaseRoutes },
      );
      const seen = [...codes.leaseRoutes.keys()].join(', ');
      for (const expected of ['404 lease-not-found', '400 invalid-lease-id', '401 missing-token']) {
        expect(seen).toContain(expected);
      }
      // Operators, whom the generated requests reach by chance: an SRE reads and revokes any lease
      // (so an unknown one is 404), never renews one; a person in no rotor group gets nothing.
      const unknown = `/v1/leases/${randomUUID()}`;
      const asSre = { authorization: `Bearer ${fixedTokens.operator}` };
      expect(await send('GET', unknown, asSre)).toMatchObject({ status: 404, code: 'lease-not-found' });
      expect(await send('DELETE', unknown, asSre)).toMatchObject({ status: 404, code: 'lease-not-found' });
      const renew = await send('POST', `${unknown}/renew`, { ...asSre, 'content-type': 'application/json' }, plain('{}'));
      expect(renew).toMatchObject({ status: 403, code: 'workloads-only' });
      const nobody = { authorization: `Bearer ${await operators.operatorToken('dev@example.com', [])}` };
      expect(await send('GET', unknown, nobody)).toMatchObject({ status: 403, code: 'missing-group' });
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('answers a body whose Content-Encoding does not match its bytes with 400 problem+json, not 500', async () => {
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: JSON.stringify({ role: BOUND_ROLE }),
    });
    expect(await refusalOf(response)).toEqual({ status: 400, problemJson: true, problemStatus: 400, code: expect.any(String) });
  });

  it('left no lease, no idempotency key and no event behind for any of the refused requests above', async () => {
    expect(await countLeases(redis, [BOUND_ROLE, CONTROL_ROLE])).toBe(leasesBefore);
    expect(await redis.exists(`issuer:active:role:${BOUND_ROLE}`)).toBe(0);
    expect(await countKeys(redis, `issuer:idempotency:system:serviceaccount:${NAMESPACE}:*`)).toBe(0);
    expect(await redis.exists(`issuer:active:workload:${NAMESPACE}/bound`)).toBe(0);
    const messages = await readRotorTopicsSince(started);
    expect(issuedFor(messages, NAMESPACE)).toEqual([]);
    // Nor any other event about these workloads (a revocation request, an access record…).
    expect(
      messages
        .filter((message) => message.value.includes(NAMESPACE))
        .map((message) => `${message.topic}@${message.partition}:${message.offset}`),
    ).toEqual([]);
  }, 60_000);

  it('sees, with the same checks, the lease and the event of one request that is accepted', async () => {
    const before = await countLeases(redis, [BOUND_ROLE, CONTROL_ROLE]);
    const token = await sign(keys.trusted, serviceAccount(CONTROL_NAMESPACE, 'control'));
    const response = await fetch(`${issuer.url}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: CONTROL_ROLE }),
    });
    expect(response.status).toBe(201);
    const { leaseId } = (await response.json()) as { leaseId: string };
    expect(await countLeases(redis, [BOUND_ROLE, CONTROL_ROLE])).toBe(before + 1);
    expect(issuedFor(await readRotorTopicsSince(started), CONTROL_NAMESPACE).map((message) => message.value)).toEqual([
      expect.stringContaining(leaseId),
    ]);
  }, 60_000);
});
