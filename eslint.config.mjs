// Flat config. `npm run lint` (eslint . --max-warnings=0) runs it over the whole repo.
//
// - TypeScript: type-aware typescript-eslint (projectService on tsconfig.json), with the
//   rules that matter for async Kafka consumers and Nest controllers.
// - Boundaries: @nx/enforce-module-boundaries on the tags in every project.json
//   (scope:<app>|shared, type:app|platform|infra|domain|contracts).
//   The rule reads Nx's project graph and skips itself when there is none, so `npm run lint`
//   and scripts/test.sh build the graph first (nx show projects).
// - Domain and contracts libs do no I/O: no I/O clients (Nx bannedExternalImports) and none of
//   Node's I/O modules (no-restricted-imports; the Nx rule does not see Node built-ins).
// - Plain CommonJS Node scripts (scripts/*.js, tools/**/*.js, *.config.js): no type info.
// - eslint-config-prettier last: formatting is Prettier's job, never a lint error.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Globals of a CommonJS Node.js script (kept here rather than importing the transitive `globals` package). */
const nodeCommonJsGlobals = Object.fromEntries(
  [
    'require',
    'module',
    'exports',
    '__dirname',
    '__filename',
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'AbortController',
    'AbortSignal',
    'TextEncoder',
    'TextDecoder',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'fetch',
    'globalThis',
  ].map((name) => [name, 'readonly']),
);

/** Clients that do I/O, and Nest itself: domain and contracts code must not import them. */
const ioAndNest = [
  '@nestjs/*',
  'express',
  'kafkajs',
  'ioredis',
  'pg',
  'jose',
  '@google-cloud/*',
  '@grpc/*',
  '@kubernetes/client-node',
  'prom-client',
  'pino',
  '@opentelemetry/*',
];

/**
 * Node's own I/O modules. The Nx rule cannot ban these (it skips imports that are not npm
 * packages or projects), so no-restricted-imports does, on the source of every lib whose
 * project.json tags it type:domain or type:contracts.
 */
const nodeIo = ['fs', 'fs/promises', 'http', 'https', 'http2', 'net', 'tls', 'dgram', 'dns', 'child_process'].flatMap((name) => [
  name,
  `node:${name}`,
]);
const pureLibs = readdirSync(new URL('./libs', import.meta.url)).filter((lib) => {
  const projectJson = new URL(`./libs/${lib}/project.json`, import.meta.url);
  if (!existsSync(projectJson)) return false;
  const { tags = [] } = JSON.parse(readFileSync(projectJson, 'utf8'));
  return tags.includes('type:domain') || tags.includes('type:contracts');
});

export default defineConfig(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '.rotor/**', '**/coverage/**', '.nx/**', 'tmp/**', 'libs/contracts/json-schema/**'],
  },

  // --- TypeScript, type-aware -------------------------------------------------------------
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Every .ts file is in tsconfig.json's include (apps, libs, test, bench, tools).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@nx': nx },
    rules: {
      // Async correctness: a dropped promise in a consumer is a lost message or a silent crash.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],

      // Type-only imports are explicit. With experimentalDecorators + emitDecoratorMetadata
      // (tsconfig.base.json, read through projectService), the rule skips every file that has a
      // decorator, so a constructor parameter injected by Nest is never turned into
      // `import type` (which would make its design:paramtypes metadata `Object`).
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],

      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Nest modules are classes with only static forRoot() and a decorator.
      '@typescript-eslint/no-extraneous-class': 'off',

      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          checkDynamicDependenciesExceptions: [],
          depConstraints: [
            // Scope: an app sees itself and the shared libs, never another app.
            { sourceTag: 'scope:issuer', onlyDependOnLibsWithTags: ['scope:issuer', 'scope:shared'] },
            { sourceTag: 'scope:revoker', onlyDependOnLibsWithTags: ['scope:revoker', 'scope:shared'] },
            { sourceTag: 'scope:auditor', onlyDependOnLibsWithTags: ['scope:auditor', 'scope:shared'] },
            { sourceTag: 'scope:distributor', onlyDependOnLibsWithTags: ['scope:distributor', 'scope:shared'] },
            { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared'] },
            { sourceTag: 'scope:injector', onlyDependOnLibsWithTags: ['scope:injector', 'scope:shared'] },
            { sourceTag: 'scope:agent', onlyDependOnLibsWithTags: ['scope:agent', 'scope:shared'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },

            // Type: layers only point down.
            //   app → platform (Nest glue) → infra (I/O clients) → domain (pure logic) → contracts
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:platform', 'type:infra', 'type:domain', 'type:contracts'] },
            {
              sourceTag: 'type:platform',
              onlyDependOnLibsWithTags: ['type:platform', 'type:infra', 'type:domain', 'type:contracts'],
            },
            {
              sourceTag: 'type:infra',
              onlyDependOnLibsWithTags: ['type:infra', 'type:domain', 'type:contracts'],
              // Kafka/Redis/GSM plumbing is plain TypeScript; the Nest layer lives in type:platform.
              bannedExternalImports: ['@nestjs/*'],
            },
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'],
              bannedExternalImports: ioAndNest,
            },
            {
              sourceTag: 'type:contracts',
              onlyDependOnLibsWithTags: ['type:contracts'],
              bannedExternalImports: ioAndNest,
            },
          ],
        },
      ],
    },
  },

  // --- Domain and contracts libs do no I/O: the caller reads the file or the socket and hands them data.
  {
    files: pureLibs.map((lib) => `libs/${lib}/src/**/*.ts`),
    ignores: ['**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeIo.map((name) => ({
            name,
            message: 'Domain and contracts libs do no I/O: move the read or the call to an infra lib and pass the data in.',
            // A type (an IncomingMessage a handler is given) opens nothing.
            allowTypeImports: true,
          })),
        },
      ],
    },
  },

  // --- Tests: specs beside the code, and the suites under test/ -----------------------------
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // expect(mock.method).toHaveBeenCalled() passes an unbound method on purpose.
      '@typescript-eslint/unbound-method': 'off',
      // Test doubles implement async interfaces without awaiting anything.
      '@typescript-eslint/require-await': 'off',
    },
  },

  // --- Plain CommonJS Node scripts ----------------------------------------------------------
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2023, globals: nodeCommonJsGlobals },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', ecmaVersion: 2023, globals: nodeCommonJsGlobals },
  },

  prettier,
);
