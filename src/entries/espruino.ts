// Entry of dist/ota-agent.espruino.js: what a device needs and nothing else (the core's agent, HTTP client and
// bundle reader, HMAC over the native SHA-256, the Espruino transport and targets). After upload to Storage as
// "ota-agent", require("ota-agent") returns this object. Portable subset only: the build lowers it to ES5.
// The parser, unpacker and client classes are exported too: they are in the bundle anyway (the agent uses them),
// and the QuickJS tests drive them directly.
import { otaError, isOtaError } from '../util/errors.js';
import { toHex, fromHex, asciiToBytes } from '../util/bytes.js';
import { compareVersions } from '../util/version.js';
import { crc32Update } from '../integrity/crc32.js';
import { hmacVerifier } from '../integrity/hmac.js';
import { ResponseParser, DEFAULT_PARSER_LIMITS, EVENT_HEAD, EVENT_BODY, EVENT_DONE } from '../http/response-parser.js';
import { HttpClient } from '../http/client.js';
import { BundleUnpacker } from '../bundle/unpacker.js';
import { createAgent } from '../agent/agent.js';
import { apiOverHttp, fetcherOverHttp } from '../agent/http-adapter.js';
import { Journal } from '../agent/journal.js';
import { bundleFormat } from '../agent/sinks/bundle.js';
import { deviceRuntime } from '../espruino/runtime.js';
import { EspruinoTransport } from '../espruino/transport.js';
import { TLS_UNAUTHENTICATED_WARNING } from '../espruino/tls-warning.js';
import { nativeHashes } from '../espruino/native-hashes.js';
import { espruinoTrust } from '../espruino/trust.js';
import { espruinoClock } from '../espruino/clock.js';
import { BootPointer } from '../espruino/boot-pointer.js';
import { StorageFileTarget } from '../espruino/storage-target.js';
import { StorageFlash } from '../espruino/storage-flash.js';
import { EspruinoFlash } from '../espruino/flash.js';
import { FlashRegionTarget } from '../espruino/flash-target.js';
import { memoryReport } from '../espruino/memory.js';
import { createEspruinoAgent } from '../espruino/device-agent.js';

// The build defines OTA_MODULE as the CommonJS `module` (scripts/build/esbuild-step.mjs): spelled this way, the
// per-file Node build (scripts/build-node.mjs) sees no CommonJS in an ES module.
declare const OTA_MODULE: { exports: unknown };

OTA_MODULE.exports = {
  createEspruinoAgent: createEspruinoAgent,
  otaError: otaError, isOtaError: isOtaError, toHex: toHex, fromHex: fromHex, asciiToBytes: asciiToBytes,
  compareVersions: compareVersions, crc32Update: crc32Update, hmacVerifier: hmacVerifier,
  ResponseParser: ResponseParser, DEFAULT_PARSER_LIMITS: DEFAULT_PARSER_LIMITS, EVENT_HEAD: EVENT_HEAD, EVENT_BODY: EVENT_BODY,
  EVENT_DONE: EVENT_DONE, HttpClient: HttpClient, BundleUnpacker: BundleUnpacker,
  createAgent: createAgent, apiOverHttp: apiOverHttp, fetcherOverHttp: fetcherOverHttp, Journal: Journal, bundleFormat: bundleFormat,
  deviceRuntime: deviceRuntime, EspruinoTransport: EspruinoTransport, TLS_UNAUTHENTICATED_WARNING: TLS_UNAUTHENTICATED_WARNING,
  nativeHashes: nativeHashes, espruinoTrust: espruinoTrust, espruinoClock: espruinoClock, BootPointer: BootPointer,
  StorageFileTarget: StorageFileTarget, StorageFlash: StorageFlash, EspruinoFlash: EspruinoFlash, FlashRegionTarget: FlashRegionTarget,
  memoryReport: memoryReport,
};
