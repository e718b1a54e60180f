// dist/ota-agent.es2020.js is documented as "the portable core as one script": a firmware engineer reads
// docs/agent.md, docs/http.md and docs/architecture.md (written against the `ota-agent` and `ota-agent/hal` entry
// points) and expects the same names on OtaAgent. This loads the built file into QuickJS as a plain script and as a
// CommonJS module and compares it name by name (kind, arity, constant values) with the two package entry points.
import { describe, expect, it } from 'vitest';
import { newQuickJSWASMModule, RELEASE_SYNC } from 'quickjs-emscripten';
import type { QuickJSHandle } from 'quickjs-emscripten';
import * as core from '../../src/index.js';
import * as hal from '../../hal/index.js';
import { es2020Text } from './es2020-host.js';

/** name -> "kind/arity" or the constant's JSON, for every value a namespace exports. */
function surface(namespaces: object[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ns of namespaces) {
    for (const name of Object.keys(ns)) {
      const value = (ns as Record<string, unknown>)[name];
      out[name] = typeof value === 'function' ? 'function/' + value.length : typeof value + ':' + JSON.stringify(value);
    }
  }
  return out;
}

const DESCRIBE = `(function (o) {
  var out = {};
  Object.keys(o).forEach(function (name) {
    var v = o[name];
    out[name] = typeof v === 'function' ? 'function/' + v.length : typeof v + ':' + JSON.stringify(v);
  });
  return JSON.stringify(out);
})`;

async function guestSurface(prelude: string, target: string): Promise<Record<string, string>> {
  const module = await newQuickJSWASMModule(RELEASE_SYNC);
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(16 * 1024 * 1024);
  const ctx = runtime.newContext();
  try {
    const code = prelude + '\n' + (await es2020Text()) + '\n' + DESCRIBE + '(' + target + ')';
    const result = ctx.evalCode(code, 'ota-agent.es2020.js');
    const text = ctx.dump(ctx.unwrapResult(result)) as string;
    return JSON.parse(text) as Record<string, string>;
  } finally {
    ctx.dispose();
    runtime.dispose();
  }
}

describe('ES2020 file: exports', () => {
  const expected = surface([core, hal]);

  it('as a plain script, the global OtaAgent holds every value of ota-agent and ota-agent/hal, same kind and arity', async () => {
    const found = await guestSurface('', 'globalThis.OtaAgent');
    const missing = Object.keys(expected).filter((name) => !(name in found));
    expect(missing, 'documented exports missing from the ES2020 file').toEqual([]);
    for (const name of Object.keys(expected)) expect(found[name], name).toBe(expected[name]);
    expect(Object.keys(found).sort()).toEqual(Object.keys(expected).sort());
  });

  it('with a CommonJS module in scope it sets module.exports and defines no global', async () => {
    const found = await guestSurface('var module = { exports: {} };', 'module.exports');
    expect(Object.keys(found).sort()).toEqual(Object.keys(expected).sort());
    const none = await guestSurface('var module = { exports: {} };', '{ OtaAgent: typeof globalThis.OtaAgent }');
    expect(none.OtaAgent).toBe('string:"undefined"');
  });

  it('in a realm whose global object cannot grow, the script says so instead of loading without publishing anything', async () => {
    const module = await newQuickJSWASMModule(RELEASE_SYNC);
    const runtime = module.newRuntime();
    const ctx = runtime.newContext();
    try {
      ctx.unwrapResult(ctx.evalCode('Object.preventExtensions(globalThis)', 'lockdown.js')).dispose();
      const result = ctx.evalCode(await es2020Text(), 'ota-agent.es2020.js');
      expect(result.error, 'the evaluation must throw').toBeDefined();
      const error = ctx.dump((result as { error: QuickJSHandle }).error) as { code: string; message: string };
      (result as { error: QuickJSHandle }).error.dispose();
      expect(error.code).toBe('es2020-global-frozen');
      expect(error.message).toMatch(/var module = \{ exports: \{\} \}/);
    } finally {
      ctx.dispose();
      runtime.dispose();
    }
    // What the message advises works in such a realm.
    const found = await guestSurface('Object.preventExtensions(globalThis); var module = { exports: {} };', 'module.exports');
    expect(Object.keys(found).sort()).toEqual(Object.keys(expected).sort());
  });

  it('loads as an ES module behind the two-line wrapper docs/portability.md gives for module-only engines', async () => {
    const module = await newQuickJSWASMModule(RELEASE_SYNC);
    const runtime = module.newRuntime();
    const ctx = runtime.newContext();
    try {
      const source = 'const module = { exports: {} };\n' + (await es2020Text()) + '\nexport default module.exports;\n' +
        'export const names = Object.keys(module.exports).length;\nexport const global = typeof globalThis.OtaAgent;';
      const ns = ctx.unwrapResult(ctx.evalCode(source, 'ota-agent.mjs', { type: 'module' }));
      const names = ctx.getProp(ns, 'names');
      const global = ctx.getProp(ns, 'global');
      expect(ctx.dump(names)).toBe(Object.keys(expected).length);
      expect(ctx.dump(global)).toBe('undefined');
      names.dispose();
      global.dispose();
      ns.dispose();
    } finally {
      ctx.dispose();
      runtime.dispose();
    }
  });

  it('names what docs/agent.md and docs/http.md tell an integrator to use', async () => {
    const found = await guestSurface('', 'globalThis.OtaAgent');
    for (const name of ['createAgent', 'networkOverHttp', 'HttpClient', 'Journal', 'bundleFormat', 'rawImage', 'rawImageFormat',
      'refuseRawFormat', 'makePolicy', 'activateRelease', 'confirmRelease', 'TRANSPORT_ERRORS', 'VirtualClock', 'hmacVerifier',
      'portableHashes', 'FlashArea', 'Slots', 'SlotTarget', 'encodeBootRecord', 'decodeBootRecord', 'digestFlash', 'otaError']) {
      expect(found[name], name).toBeDefined();
    }
  });
});
