import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.arbor-data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Library code logs through pino (server) or an injected logger (pure packages).
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Tests, benchmarks, scripts and the CLI talk to a terminal.
    files: ['**/test/**', 'scripts/**', 'server/src/cli/**', 'client/src/shell/**', '*.config.*'],
    rules: { 'no-console': 'off' },
  },
);
