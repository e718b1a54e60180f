// The static gate bites: hand-written ES5 fixtures for every rule, a TypeScript fixture through the real chain,
// and the built dist/ota-agent.espruino.js passing it.
import { describe, expect, it } from 'vitest';
import { checkEs2020Code, checkEspruinoCode, formatViolations } from '../../scripts/build/gate.mjs';
import { buildEspruino } from '../../scripts/build/espruino.mjs';
import { es2020Bundle, espruinoBundle } from './bundles.js';

const rejected: [string, string, string][] = [
  ['es5-syntax', 'let', 'let a = 1;'],
  ['es5-syntax', 'arrow', 'var f = (x) => x;'],
  ['es5-syntax', 'class', 'class A {}'],
  ['es5-syntax', 'template', 'var s = `a${1}`;'],
  ['es5-syntax', 'optional chaining', 'var a = b?.c;'],
  ['es5-syntax', 'exponent', 'var a = 2 ** 3;'],
  ['es5-syntax', 'regex u flag', 'var r = /a/u;'],
  ['es5-syntax', 'for-of', 'for (var x of [1]) {}'],
  ['label', 'label', 'outer: for (var i = 0; i < 2; i++) { break outer; }'],
  ['array-hole', 'hole', 'var a = [1, , 2];'],
  ['missing-global', 'Map', 'var m = new Map();'],
  ['missing-global', 'Set', 'var s = new Set();'],
  ['missing-global', 'WeakMap', 'var w = new WeakMap();'],
  ['missing-global', 'Symbol', 'var s = Symbol.iterator;'],
  ['missing-global', 'Proxy', 'var p = new Proxy({}, {});'],
  ['missing-global', 'Reflect', 'var r = Reflect.ownKeys({});'],
  ['missing-global', 'BigInt', 'var b = BigInt(1);'],
  ['missing-global', 'TextEncoder', 'var e = new TextEncoder();'],
  ['missing-builtin', 'Array.from', 'var a = Array.from(x);'],
  ['missing-builtin', 'Array.of', 'var a = Array.of(1);'],
  ['missing-builtin', 'Object.freeze', 'Object.freeze(x);'],
  ['missing-builtin', 'Math.imul', 'var p = Math.imul(2, 3);'],
  ['missing-builtin', 'Math.trunc', 'var p = Math.trunc(2.5);'],
  ['missing-builtin', 'Number.isInteger', 'var p = Number.isInteger(2);'],
  ['missing-builtin', 'Promise.race', 'Promise.race([]);'],
  ['missing-builtin', 'Promise.allSettled', 'Promise.allSettled([]);'],
  ['missing-builtin', 'Promise.any', 'Promise.any([]);'],
  ['missing-builtin', 'computed Array["from"]', 'var a = Array["from"](x);'],
  ['promise-finally', 'finally', 'p.finally(function () {});'],
  ['builtin-prototype-read', 'Array.prototype.slice', 'var s = Array.prototype.slice.call(arguments);'],
  ['builtin-prototype-read', 'Object.prototype.hasOwnProperty', 'var h = Object.prototype.hasOwnProperty;'],
  ['length-assignment', 'length =', 'a.length = 0;'],
  ['length-assignment', 'length++', 'a.length++;'],
  ['object-create-properties', 'two-argument Object.create', 'var o = Object.create(null, { a: { value: 1 } });'],
  ['error-instanceof', 'instanceof TypeError', 'var t = e instanceof TypeError;'],
  ['hoisting', 'call before declaration', 'f(); function f() {}'],
  ['regex-unsupported', 'counted quantifier', 'var ok = /^[0-9]{1,5}$/.test(p);'],
  ['regex-unsupported', 'exact count', 'var ok = /^a{2}$/.test(p);'],
  ['regex-unsupported', 'non-capturing group', 'var ok = /^(?:ab)+$/.test(p);'],
  ['regex-unsupported', 'lookahead', 'var ok = /a(?=b)/.test(p);'],
  ['regex-unsupported', 'lazy quantifier', 'var ok = /a+?b/.test(p);'],
  ['regex-unsupported', 'optional quantifier', 'var ok = /^colou?r$/.test(p);'],
  ['regex-unsupported', 'quantified group', 'var ok = /^(ab)+$/.test(p);'],
  ['regex-unsupported', 'unescaped slash in a class', 'var ok = /^[^\\s/]+$/.test(p);'],
  ['regex-unsupported', 'unicode escape', 'var out = json.replace(/[\\u0080-\\uffff]/g, "?");'],
  ['regex-unsupported', 'anchor ^ in the first of several alternatives', 'var out = text.replace(/^\\s+|\\s+$/g, "");'],
  ['regex-unsupported', 'new RegExp with a counted quantifier', 'var r = new RegExp("^[0-9]{1,3}$");'],
  ['hoisting', 'call before declaration inside a function', 'function g() { var x = h(); function h() { return 1; } return x; }'],
  // terser's inlining at level 2/3 wrote this; on Espruino the assignment overwrote the enclosing scope's x.
  ['var-hoisting', 'assignment before a var after return', 'function g(a) { return (x = a, x.length); var x; }'],
  ['var-hoisting', 'read before the var', 'function g() { var y = x; var x = 1; return y; }'],
];

const accepted: [string, string][] = [
  ['a local named Map', 'function f(Map) { return new Map(); }'],
  ['vars declared before use, and a nested function using a later var', 'function f(a) { var x = a, g = function () { return y; }; var y = x; return g(); }'],
  ['a property named from', 'var o = { from: 1 }; var v = o.from;'],
  ['an instance method call', 'var s = [1, 2].slice(1); var b = [].slice.call(arguments);'],
  ['reading .length', 'var n = a.length;'],
  ['a method named length (loose class lowering)', 'function M() {} var p = M.prototype; p.length = function () { return 1; };'],
  ['declaration before use', 'function f() {} f();'],
  ['a call inside a nested function before the declaration', 'var g = function () { return f(); }; function f() { return 1; }'],
  ['Promise then/catch/all/resolve/reject', 'Promise.all([Promise.resolve(1)]).then(function () {}).catch(function () {}); Promise.reject(1);'],
  ['regexes Espruino runs (classes, alternation, escapes, * and +, flags)', 'var a = /^[0-9]+$/.test(p) && /^(a|b)\\s*[^x{?]\\{\\?\\)+$/i.test(q) && /a.b*/.test(r);'],
  ['getters and setters', 'var o = { get a() { return 1; }, set a(v) {} };'],
  ['a prototype assignment of an own class', 'function A() {} A.prototype.f = function () {};'],
];

describe('the Espruino gate', () => {
  it.each(rejected)('rejects %s (%s)', (rule, _name, code) => {
    const violations = checkEspruinoCode(code);
    expect(violations.map((v) => v.rule), formatViolations(violations)).toContain(rule);
  });

  it.each(accepted)('accepts %s', (_name, code) => {
    expect(formatViolations(checkEspruinoCode(code))).toBe('');
  });

  it('rejects what the chain compiles but Espruino cannot run (a TypeScript fixture through the real chain)', async () => {
    const code = await buildEspruino({ entry: 'test/portability/fixtures/gate-violations.ts' });
    const rules = new Set(checkEspruinoCode(code).map((v) => v.rule));
    expect([...rules].sort()).toEqual(['builtin-prototype-read', 'length-assignment', 'missing-builtin', 'missing-global', 'promise-finally']);
  });

  it('passes the built dist/ota-agent.espruino.js', async () => {
    const code = await espruinoBundle();
    expect(formatViolations(checkEspruinoCode(code))).toBe('');
  });
});

describe('the ES2020 gate', () => {
  it('passes the built dist/ota-agent.es2020.js', async () => {
    expect(formatViolations(checkEs2020Code(await es2020Bundle()))).toBe('');
  });

  it('exports what the createAgent example of the docs uses, for QuickJS, XS and JerryScript users', async () => {
    const module = { exports: {} as Record<string, unknown> };
    new Function('module', 'globalThis', await es2020Bundle())(module, {});
    for (const name of ['createAgent', 'HttpClient', 'networkOverHttp', 'apiOverHttp', 'fetcherOverHttp', 'Journal', 'bundleFormat',
      'rawImage', 'SlotTarget']) expect(typeof module.exports[name], name).toBe('function');
    for (const name of ['rawImageFormat', 'portableHashes']) expect(typeof module.exports[name], name).toBe('object');
  });

  it('rejects a require() call and a dynamic import', () => {
    expect(checkEs2020Code('var fs = require("fs");').map((v) => v.rule)).toEqual(['require']);
    expect(checkEs2020Code('import("fs");').map((v) => v.rule)).toEqual(['import']);
  });
});
