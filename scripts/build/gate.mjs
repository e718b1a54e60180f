// The static gate on dist/ota-agent.espruino.js: it must parse as ES5, and an AST walk rejects what Espruino 2v29
// cannot run although it is valid ES5 (the deny-list of /work/shared/reference/embedded-js.md sections 1 and 8).
import { parse } from 'acorn';
import { ancestor } from 'acorn-walk';
import { anchorsEveryAlternative } from '../../lint/espruino-regex-rule.js';

/** Globals Espruino 2v29 does not have. */
export const MISSING_GLOBALS = ['Symbol', 'Map', 'Set', 'WeakMap', 'WeakSet', 'WeakRef', 'FinalizationRegistry', 'Proxy',
  'Reflect', 'BigInt', 'BigInt64Array', 'BigUint64Array', 'TextEncoder', 'TextDecoder', 'Intl', 'SharedArrayBuffer', 'Atomics',
  'fetch', 'queueMicrotask', 'setImmediate', 'structuredClone', 'Buffer'];

/** Static members Espruino 2v29 lacks (reference note section 1 and the lint's list). */
export const MISSING_MEMBERS = {
  Array: ['from', 'of'],
  Object: ['freeze', 'isFrozen', 'seal', 'entries', 'values', 'getOwnPropertySymbols', 'fromEntries'],
  Math: ['imul', 'trunc', 'clz32', 'sign', 'fround', 'hypot', 'log2', 'log10', 'cbrt', 'expm1', 'log1p'],
  Number: ['isInteger', 'isSafeInteger', 'isFinite', 'isNaN', 'EPSILON'],
  Promise: ['race', 'allSettled', 'any'],
  String: ['raw', 'fromCodePoint'],
  Uint8Array: ['from', 'of'],
};

/** Built-ins whose `X.prototype.method` reads come back undefined on Espruino (#159). */
export const BUILTINS = ['Array', 'Object', 'String', 'Number', 'Boolean', 'Function', 'Promise', 'Uint8Array', 'Uint16Array',
  'Uint32Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Float32Array', 'Float64Array', 'ArrayBuffer', 'DataView', 'Date',
  'RegExp', 'Error', 'Math', 'JSON'];

/** Error subclasses whose instanceof is unreliable on Espruino (`new TypeError() instanceof Error` is false). */
const ERROR_SUBCLASSES = ['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError'];

function isEscapedAt(pattern, index) {
  let slashes = 0;
  for (let i = index - 1; i >= 0 && pattern[i] === '\\'; i--) slashes++;
  return slashes % 2 === 1;
}

/**
 * Regular-expression syntax Espruino 2v29's engine does not implement (checked on the Linux build: these never
 * match): the ? quantifier (/^a?b$/.test("ab") is false), counted quantifiers such as {1,5}, non-capturing groups,
 * lookaround and lazy quantifiers. Character classes, escapes, ., *, +, |, groups, anchors and flags work.
 * A quantifier on a group, /(ab)+/, never matches either, and an unescaped / inside a class ends the literal early. Returns the first unsupported feature in `pattern`, or null.
 */
export function unsupportedRegexFeature(pattern) {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      // Read as the letter u: /[\u0080-\uffff]/ is the class "0-9A-Za-u" there.
      if (pattern[i + 1] === 'u') return 'unicode escape \\u';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      // Espruino's lexer ends the literal at this slash: "Got ']' expected ')'" when the function first runs.
      if (c === '/') return 'unescaped / inside a character class';
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i))) return 'counted quantifier ' + pattern.slice(i).match(/^\{\d+(,\d*)?\}/)[0];
    else if (c === '(' && pattern[i + 1] === '?') return pattern.slice(i, i + 3) === '(?:' ? 'non-capturing group (?:' : 'lookaround ' + pattern.slice(i, i + 3);
    else if ((c === '*' || c === '+') && i > 0 && pattern[i - 1] === ')' && !isEscapedAt(pattern, i - 1)) return 'quantified group )' + c;
    else if (c === '?') return i > 0 && '+*?}'.includes(pattern[i - 1]) ? 'lazy quantifier ' + pattern[i - 1] + '?' : 'optional quantifier ?';
  }
  if (anchorsEveryAlternative(pattern)) return 'anchor ^ in the first of several alternatives (it anchors them all)';
  return null;
}

/** Promise methods missing on instances. */
const MISSING_PROMISE_METHODS = ['finally'];

/**
 * One finding: `rule` is a stable id for tests, `message` says what Espruino does with it.
 * @typedef {{ rule: string, message: string, line: number, column: number }} Violation
 */

function propertyName(node) {
  if (!node.computed && node.property.type === 'Identifier') return node.property.name;
  if (node.computed && node.property.type === 'Literal' && typeof node.property.value === 'string') return node.property.value;
  return null;
}

/** True when `node` (an Identifier) is a variable reference, not a property key or a member name. */
function isReference(node, parent) {
  if (parent === undefined) return true;
  if (parent.type === 'MemberExpression' && parent.property === node && !parent.computed) return false;
  if (parent.type === 'Property' && parent.key === node && !parent.computed) return false;
  if ((parent.type === 'FunctionDeclaration' || parent.type === 'FunctionExpression') && parent.id === node) return false;
  if (parent.type === 'VariableDeclarator' && parent.id === node) return false;
  if ((parent.type === 'BreakStatement' || parent.type === 'ContinueStatement' || parent.type === 'LabeledStatement') && parent.label === node) return false;
  if ((parent.type === 'FunctionDeclaration' || parent.type === 'FunctionExpression') && parent.params.includes(node)) return false;
  if (parent.type === 'CatchClause' && parent.param === node) return false;
  return true;
}

/** Names declared anywhere in the file (a local named Map is not the missing global). */
function declaredNames(ast) {
  const names = new Set();
  ancestor(ast, {
    VariableDeclarator(node) { if (node.id.type === 'Identifier') names.add(node.id.name); },
    FunctionDeclaration(node) { names.add(node.id.name); for (const p of node.params) if (p.type === 'Identifier') names.add(p.name); },
    FunctionExpression(node) { if (node.id) names.add(node.id.name); for (const p of node.params) if (p.type === 'Identifier') names.add(p.name); },
    CatchClause(node) { if (node.param && node.param.type === 'Identifier') names.add(node.param.name); },
  });
  return names;
}

/** Identifiers referenced in `node`, not descending into nested functions (those run later). */
function directReferences(node, out) {
  if (node === null || typeof node !== 'object') return out;
  if (Array.isArray(node)) {
    for (const child of node) directReferences(child, out);
    return out;
  }
  if (node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration') return out;
  if (node.type === 'Identifier') out.add(node.name);
  for (const key of Object.keys(node)) {
    if (key === 'type' || key === 'start' || key === 'end' || key === 'loc') continue;
    if (node.type === 'MemberExpression' && key === 'property' && !node.computed) continue;
    if (node.type === 'Property' && key === 'key' && !node.computed) continue;
    const value = node[key];
    if (value !== null && typeof value === 'object') directReferences(value, out);
  }
  return out;
}

/** Espruino hoists nothing: a statement may not use a function declared further down the same body. */
function checkHoisting(body, report) {
  for (let i = 0; i < body.length; i++) {
    const declaration = body[i];
    if (declaration.type !== 'FunctionDeclaration') continue;
    for (let j = 0; j < i; j++) {
      if (body[j].type === 'FunctionDeclaration') continue;
      if (directReferences(body[j], new Set()).has(declaration.id.name)) {
        report('hoisting', declaration.id.name + '() is used before its declaration; Espruino hoists nothing (ReferenceError). Keep terser hoist_funs on.', body[j]);
        break;
      }
    }
  }
}

/**
 * Espruino hoists no `var` either: until the declaration runs, the name resolves in the enclosing scope, so an
 * assignment before it overwrites an outer variable (terser's inlining leaves `return (x = a, f(x)); var x`).
 * Reports a var whose name this function (not a nested one) uses before the declaration.
 */
function checkVarHoisting(fn, report) {
  const declarations = [];
  const uses = [];
  const walk = (node, top) => {
    if (node === null || typeof node !== 'object' || typeof node.type !== 'string') return;
    if (!top && (node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration')) return;
    if (node.type === 'VariableDeclarator') declarations.push(node);
    else if (node.type === 'Identifier') uses.push(node);
    for (const key of Object.keys(node)) {
      if (key === 'type' || key === 'start' || key === 'end' || key === 'loc') continue;
      if ((node.type === 'MemberExpression' && key === 'property' && !node.computed) || (node.type === 'Property' && key === 'key')) continue;
      if (node.type === 'VariableDeclarator' && key === 'id') continue;
      const value = node[key];
      if (Array.isArray(value)) for (const child of value) walk(child, false);
      else walk(value, false);
    }
  };
  walk(fn.body, true);
  const params = new Set((fn.params ?? []).map((p) => p.name));
  for (const declaration of declarations) {
    const name = declaration.id.name;
    if (params.has(name)) continue;
    const early = uses.find((use) => use.name === name && use.start < declaration.start);
    if (early !== undefined) {
      report('var-hoisting', name + ' is used before its var declaration; Espruino hoists no var, so the use reaches the enclosing ' +
        'scope. Keep terser hoist_vars on and inline at 1.', early);
    }
  }
}

/**
 * Parses `code` as a script of `ecmaVersion`; a syntax error becomes the one violation, under `rule`.
 * @param {string} code
 * @param {5 | 2020} ecmaVersion
 * @param {string} rule
 * @param {string} label
 * @returns {{ ast: import('acorn').Program } | { violations: Violation[] }}
 */
function parseScript(code, ecmaVersion, rule, label) {
  try {
    return { ast: parse(code, { ecmaVersion, sourceType: 'script', locations: true }) };
  } catch (error) {
    const loc = error.loc ?? { line: 0, column: 0 };
    return { violations: [{ rule, message: 'not ' + label + ': ' + error.message, line: loc.line, column: loc.column }] };
  }
}

/**
 * Checks `code` for Espruino 2v29. Returns the violations (empty when the file passes).
 * @param {string} code
 * @returns {Violation[]}
 */
export function checkEspruinoCode(code) {
  const parsed = parseScript(code, 5, 'es5-syntax', 'ES5');
  if (!('ast' in parsed)) return parsed.violations;
  const ast = parsed.ast;
  /** @type {Violation[]} */
  const violations = [];
  const report = (rule, message, node) => violations.push({ rule, message, line: node.loc.start.line, column: node.loc.start.column });
  const declared = declaredNames(ast);
  ancestor(ast, {
    LabeledStatement(node) { report('label', 'labels are a ReferenceError on Espruino', node); },
    ArrayExpression(node) {
      if (node.elements.some((e) => e === null)) report('array-hole', 'array holes are a SyntaxError where Espruino parses without executing', node);
    },
    Identifier(node, _state, ancestors) {
      const parent = ancestors[ancestors.length - 2];
      if (MISSING_GLOBALS.includes(node.name) && !declared.has(node.name) && isReference(node, parent)) {
        report('missing-global', node.name + ' does not exist on Espruino 2v29', node);
      }
    },
    MemberExpression(node, _state, ancestors) {
      const name = propertyName(node);
      if (node.object.type === 'Identifier' && name !== null && !declared.has(node.object.name)) {
        const missing = MISSING_MEMBERS[node.object.name];
        if (missing !== undefined && missing.includes(name)) report('missing-builtin', node.object.name + '.' + name + ' is missing on Espruino 2v29', node);
      }
      if (name !== null && node.object.type === 'MemberExpression' && propertyName(node.object) === 'prototype' &&
          node.object.object.type === 'Identifier' && BUILTINS.includes(node.object.object.name) && !declared.has(node.object.object.name)) {
        report('builtin-prototype-read', node.object.object.name + '.prototype.' + name + ' reads as undefined on Espruino (#159); call the method on an instance', node);
      }
      const parent = ancestors[ancestors.length - 2];
      // A method named length (Babel's loose class lowering: proto.length = function) is fine on 2v29 (checked):
      // only arrays refuse a new length, and a function value is never one.
      if (name === 'length' && parent !== undefined &&
          ((parent.type === 'AssignmentExpression' && parent.left === node && parent.right.type !== 'FunctionExpression') ||
           (parent.type === 'UpdateExpression' && parent.argument === node))) {
        report('length-assignment', 'assigning .length throws on Espruino', parent);
      }
    },
    CallExpression(node) {
      if (node.callee.type === 'MemberExpression') {
        const name = propertyName(node.callee);
        if (MISSING_PROMISE_METHODS.includes(name)) report('promise-finally', 'Promise#' + name + ' is missing on Espruino 2v29', node);
        if (name === 'create' && node.callee.object.type === 'Identifier' && node.callee.object.name === 'Object' && node.arguments.length > 1) {
          report('object-create-properties', 'Object.create(proto, properties) throws on Espruino', node);
        }
      }
    },
    Literal(node) {
      if (node.regex === undefined) return;
      const feature = unsupportedRegexFeature(node.regex.pattern);
      if (feature !== null) report('regex-unsupported', '/' + node.regex.pattern + '/: ' + feature + ' is not supported by the Espruino 2v29 regex engine (never matches or fails to parse); use string code', node);
    },
    NewExpression(node) {
      if (node.callee.type === 'Identifier' && node.callee.name === 'RegExp' && node.arguments[0]?.type === 'Literal' && typeof node.arguments[0].value === 'string') {
        const feature = unsupportedRegexFeature(node.arguments[0].value);
        if (feature !== null) report('regex-unsupported', 'new RegExp(' + JSON.stringify(node.arguments[0].value) + '): ' + feature + ' is not supported by the Espruino 2v29 regex engine', node);
      }
    },
    BinaryExpression(node) {
      if (node.operator === 'instanceof' && node.right.type === 'Identifier' && ERROR_SUBCLASSES.includes(node.right.name)) {
        report('error-instanceof', 'instanceof ' + node.right.name + ' is unreliable on Espruino; test error codes instead', node);
      }
    },
    Program(node) { checkHoisting(node.body, report); },
    FunctionDeclaration(node) { checkHoisting(node.body.body, report); checkVarHoisting(node, report); },
    FunctionExpression(node) { checkHoisting(node.body.body, report); checkVarHoisting(node, report); },
  });
  return violations;
}

/**
 * Checks the ES2020 bundle: it must parse as an ES2020 script and reach no module loader (no Node built-ins).
 * @param {string} code
 * @returns {Violation[]}
 */
export function checkEs2020Code(code) {
  const parsed = parseScript(code, 2020, 'es2020-syntax', 'ES2020');
  if (!('ast' in parsed)) return parsed.violations;
  const ast = parsed.ast;
  const violations = [];
  ancestor(ast, {
    CallExpression(node) {
      if (node.callee.type === 'Identifier' && node.callee.name === 'require') {
        violations.push({ rule: 'require', message: 'the portable bundle may not require() anything', line: node.loc.start.line, column: node.loc.start.column });
      }
    },
    ImportExpression(node) {
      violations.push({ rule: 'import', message: 'the portable bundle may not import anything', line: node.loc.start.line, column: node.loc.start.column });
    },
  });
  return violations;
}

/**
 * Formats violations one per line, for build output and test failures.
 * @param {Violation[]} violations
 */
export function formatViolations(violations) {
  return violations.map((v) => `${v.line}:${v.column} ${v.rule}: ${v.message}`).join('\n');
}
