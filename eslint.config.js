import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { portableFiles, portablePlugin, portableRules } from './lint/portable-rules.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'build/**', 'test/fixtures/**', 'examples/espruino/**', 'mbedtls/build/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', globalThis: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  { files: portableFiles, plugins: { portable: portablePlugin }, rules: portableRules },
);
