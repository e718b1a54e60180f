// Entry of dist/ota-agent.es2020.js: the portable core for QuickJS, Moddable XS and JerryScript. It publishes one
// object, as module.exports when a CommonJS `module` exists, else as the global OtaAgent. Portable subset only.
//
// The object holds every value the package entry points `ota-agent` (src/index.ts) and `ota-agent/hal`
// (hal/index.ts) export, under the same names, so code written against docs/agent.md, docs/http.md and
// docs/architecture.md runs on an embedded engine unchanged. An earlier hand-written list held 49 of the 168 names
// (no TRANSPORT_ERRORS for a transport's error codes, no activateRelease/confirmRelease, makePolicy, VirtualClock,
// refuseRawFormat, the boot-record codec, digestFlash ...); test/portability/es2020-exports.test.ts keeps the two
// in step.
import * as core from '../index.js';
import * as hal from '../../hal/index.js';
import { otaError } from '../util/errors.js';

// The build defines OTA_MODULE as the CommonJS `module` (scripts/build/esbuild-step.mjs): spelled this way, the
// per-file Node build (scripts/build-node.mjs) sees no CommonJS in an ES module.
declare const OTA_MODULE: { exports: unknown } | null | undefined;

/** Copies the own enumerable values of `from` onto `into` (the module namespaces are frozen; the result is not). */
function copyInto(into: { [name: string]: unknown }, from: object): void {
  const names = Object.keys(from);
  for (let i = 0; i < names.length; i++) into[names[i]] = (from as { [name: string]: unknown })[names[i]];
}

/** Everything the ES2020 bundle exports: the values of `ota-agent` and `ota-agent/hal`. */
const api: { [name: string]: unknown } = {};
copyInto(api, core);
copyInto(api, hal);

if (typeof OTA_MODULE === 'object' && OTA_MODULE !== null) {
  OTA_MODULE.exports = api;
} else {
  const realm = globalThis as unknown as { OtaAgent: unknown };
  realm.OtaAgent = api;
  // A script is sloppy code: in a realm whose global object was frozen or made non-extensible (Hardened JavaScript,
  // a locked-down XS machine) the assignment above fails silently and the file would seem to load yet publish nothing.
  if (realm.OtaAgent !== api) {
    throw otaError('es2020-global-frozen', 'ota-agent could not define the global OtaAgent: the global object is frozen or not ' +
      'extensible. Evaluate the file with a CommonJS module in scope (var module = { exports: {} }) and use module.exports.', false);
  }
}
