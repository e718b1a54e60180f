import { espruinoRegexRule } from './espruino-regex-rule.js';

// The portable subset of DESIGN.md as lint rules: what Espruino 2v29 cannot run, or what the build
// would lower with helpers we do not want to pay for. See docs/portability.md for the reasoning.

const NODE_MODULES = ['assert', 'buffer', 'child_process', 'crypto', 'dns', 'events', 'fs', 'fs/promises', 'http',
  'https', 'net', 'os', 'path', 'process', 'stream', 'tls', 'url', 'util', 'worker_threads', 'zlib'];

const BUILTIN_OBJECTS = '/^(Array|Object|String|Number|Boolean|Function|Promise|Uint8Array|Uint16Array|Uint32Array|Int8Array|Int16Array|Int32Array|Float32Array|Float64Array|ArrayBuffer|DataView|Date|RegExp|Error|Math|JSON)$/';

const syntax = [
  ['FunctionDeclaration[async=true]', 'async functions: use Promise chains (Espruino has no async/await).'],
  ['FunctionExpression[async=true]', 'async functions: use Promise chains (Espruino has no async/await).'],
  ['ArrowFunctionExpression[async=true]', 'async functions: use Promise chains (Espruino has no async/await).'],
  ['AwaitExpression', 'await: use Promise chains (Espruino has no async/await).'],
  ['FunctionDeclaration[generator=true]', 'generators: Espruino has none.'],
  ['FunctionExpression[generator=true]', 'generators: Espruino has none.'],
  ['ObjectPattern', 'destructuring: read the properties one by one (Espruino has no destructuring).'],
  ['ArrayPattern', 'destructuring: read the elements one by one (Espruino has no destructuring).'],
  ['SpreadElement', 'spread: Espruino has none; concatenate explicitly.'],
  ['RestElement', 'rest parameters: Espruino has none; take an array.'],
  ['AssignmentPattern', 'default parameters: Espruino has none; test for undefined in the body.'],
  ['ChainExpression', 'optional chaining (?.) is a SyntaxError on Espruino.'],
  ["BinaryExpression[operator='**']", '** is a SyntaxError on Espruino; use Math.pow.'],
  ["AssignmentExpression[operator='**=']", '**= is a SyntaxError on Espruino; use Math.pow.'],
  ["LogicalExpression[operator='??']", '?? costs a helper after lowering; compare with undefined/null explicitly.'],
  ['LabeledStatement', 'labels are a ReferenceError on Espruino.'],
  ['TaggedTemplateExpression', 'tagged templates throw on Espruino.'],
  ['Property[computed=true]', 'computed keys are a SyntaxError on Espruino.'],
  ['ClassDeclaration[superClass]', 'extends: class inheritance (and subclassing Error) breaks on Espruino; compose instead.'],
  ['ClassExpression[superClass]', 'extends: class inheritance breaks on Espruino; compose instead.'],
  ['ForOfStatement', 'for...of needs the iterator protocol once lowered; use an index loop.'],
  ['ForInStatement', 'for...in walks inherited keys; use Object.keys.'],
  ["AssignmentExpression > MemberExpression.left[property.name='length']", 'assigning .length throws on Espruino; build a new array.'],
  [`MemberExpression[object.type='MemberExpression'][object.property.name='prototype'][object.object.name=${BUILTIN_OBJECTS}]`,
    'Builtin.prototype.x reads as undefined on Espruino; call the method on an instance.'],
  ["CallExpression[callee.property.name='finally']", 'Promise#finally is missing on Espruino; use then(f, f).'],
  ["NewExpression[callee.name='Object'][arguments.length>0]", 'new Object(x) is not needed; use a literal.'],
  ["CallExpression[callee.object.name='Object'][callee.property.name='create'][arguments.length>1]",
    'two-argument Object.create throws on Espruino.'],
  ['TSEnumDeclaration', 'enums emit objects with reverse maps; use string literal unions.'],
];

const properties = [
  ['Array', 'from'], ['Array', 'of'], ['Object', 'freeze'], ['Object', 'entries'], ['Object', 'values'],
  ['Object', 'getOwnPropertySymbols'], ['Math', 'imul'], ['Math', 'trunc'], ['Math', 'clz32'], ['Math', 'sign'],
  ['Number', 'isInteger'], ['Number', 'isFinite'], ['Number', 'isNaN'], ['Promise', 'race'], ['Promise', 'allSettled'],
  ['Promise', 'any'], ['Uint8Array', 'from'], ['Uint8Array', 'of'],
].map(([object, property]) => ({ object, property, message: `${object}.${property} is missing on Espruino 2v29.` }));

const globals = ['Map', 'Set', 'WeakMap', 'WeakSet', 'WeakRef', 'Symbol', 'BigInt', 'Proxy', 'Reflect', 'TextEncoder',
  'TextDecoder', 'Buffer', 'process', 'fetch', 'require', 'globalThis', 'setImmediate', 'queueMicrotask',
  'structuredClone', 'console', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval']
  .map((name) => ({ name, message: `${name} is not in the portable subset (Espruino 2v29 or no I/O in the core); inject it or use an adapter.` }));

/** The plugin holding the project's own portable rules. */
export const portablePlugin = { rules: { 'espruino-regex': espruinoRegexRule } };

/** Rules for src/{agent,api,http,bundle,integrity,util} and hal/*.ts. */
export const portableRules = {
  'portable/espruino-regex': 'error',
  'no-restricted-syntax': ['error', ...syntax.map(([selector, message]) => ({ selector, message }))],
  'no-restricted-properties': ['error', ...properties],
  'no-restricted-globals': ['error', ...globals],
  'no-restricted-imports': ['error', {
    paths: NODE_MODULES.map((name) => ({ name, message: 'Node built-ins belong in src/node adapters.' })),
    patterns: [
      { group: ['node:*'], message: 'Node built-ins belong in src/node adapters.' },
      { group: ['**/node/*', '**/node/**', '**/espruino/**', '**/backend/**', '**/tools/**', '**/cli/**', '**/sim/**'],
        message: 'The portable core never imports adapters, the backend, tools, the CLI or simulated hardware.' },
      { group: ['cbor-x', 'node-forge', 'crc-32', 'fast-check', 'vitest'], message: 'The portable core has no runtime dependencies.' },
    ],
  }],
  'no-var': 'error',
  'prefer-const': 'error',
  'no-use-before-define': ['error', { functions: true, classes: true, variables: true }],
};

/** The folders the rules apply to. */
export const portableFiles = ['src/agent/**/*.ts', 'src/api/**/*.ts', 'src/http/**/*.ts', 'src/bundle/**/*.ts',
  'src/integrity/**/*.ts', 'src/util/**/*.ts', 'hal/*.ts'];
