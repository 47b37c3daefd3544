// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      '**/node_modules/**',
      'coverage/**',
      'spec/fixtures/**',
      '.artifacts/**',
      'bench/.build/**',
      'docs/api/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // nest-module/ only wraps lib/, through what lib/ exports: the Nest layer never reaches into its internals.
    files: ['nest-module/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../lib/*', '../lib/**', '!../lib/index.js'],
              message: "nest-module/ imports lib/ only through its barrel: '../lib/index.js'.",
            },
            { group: ['ioredis'], message: 'Only lib/redis/ imports ioredis (an optional peer): claude-rx/redis.' },
          ],
        },
      ],
    },
  },
  {
    // lib/ never depends on NestJS (DESIGN.md): `claude-rx` works without it.
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nestjs/*'], message: 'lib/ never imports NestJS; that is nest-module/.' },
            { group: ['ioredis'], message: 'Only lib/redis/ imports ioredis (an optional peer): claude-rx/redis.' },
          ],
        },
      ],
    },
  },
  {
    // claude-rx/redis is the one place of ioredis; like nest-module/, it uses claude-rx's own parts freely.
    files: ['lib/redis/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@nestjs/*'], message: 'lib/ never imports NestJS; that is nest-module/.' }] },
      ],
    },
  },
  {
    // claude-rx/client runs in browsers: no Node built-in, and the SDK for its types only (the bundle must not hold it).
    files: ['lib/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'claude-rx/client runs in browsers: no Node built-ins.' },
            {
              group: ['@anthropic-ai/*'],
              allowTypeImports: true,
              message: 'claude-rx/client imports the SDK for its types only (import type).',
            },
            { group: ['@nestjs/*', 'ioredis'], message: 'claude-rx/client runs in browsers.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    // Plain JavaScript (scripts, bench) is linted without type information.
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    files: ['spec/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
);
