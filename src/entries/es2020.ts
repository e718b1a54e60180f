// Entry of dist/ota-agent.es2020.js: the portable core for QuickJS, Moddable XS and JerryScript. It publishes one
// object, as module.exports when a CommonJS `module` exists, else as the global OtaAgent. Portable subset only.
import { otaError, isOtaError, toOtaError } from '../util/errors.js';
import { copyBytes, concatBytes, bytesEqual, asciiToBytes, bytesToAscii, utf8ToBytes, toHex, fromHex, readU32BE, writeU32BE, readU32LE, writeU32LE } from '../util/bytes.js';
import { compareVersions } from '../util/version.js';
import { crc32, crc32Update } from '../integrity/crc32.js';
import { Sha256, portableHashes } from '../integrity/sha256.js';
import { hmacSha256, hmacVerifier } from '../integrity/hmac.js';
import { FlashArea, flashSize, sectorAt, uniformGeometry } from '../../hal/flash.js';
import { Slots } from '../../hal/slots.js';
import { SlotTarget } from '../../hal/slot-target.js';
import { ResponseParser, DEFAULT_PARSER_LIMITS, EVENT_NEED_MORE, EVENT_HEAD, EVENT_BODY, EVENT_DONE } from '../http/response-parser.js';
import { writeRequestHead } from '../http/request-writer.js';
import { HttpClient } from '../http/client.js';
import { downloadWithResume } from '../http/download.js';
import { parseUrl } from '../http/url.js';
import { BundleUnpacker } from '../bundle/unpacker.js';
import { readCbor, MANIFEST_LIMITS } from '../bundle/cbor-reader.js';
import { createAgent } from '../agent/agent.js';
import { apiOverHttp, fetcherOverHttp, networkOverHttp } from '../agent/http-adapter.js';
import { rawImage, rawImageFormat } from '../agent/sinks/raw-image.js';
import { Journal } from '../agent/journal.js';
import { bundleFormat } from '../agent/sinks/bundle.js';

// The build defines OTA_MODULE as the CommonJS `module` (scripts/build/esbuild-step.mjs): spelled this way, the
// per-file Node build (scripts/build-node.mjs) sees no CommonJS in an ES module.
declare const OTA_MODULE: { exports: unknown } | null | undefined;

/** Everything the ES2020 bundle exports. */
const api = {
  otaError: otaError, isOtaError: isOtaError, toOtaError: toOtaError,
  copyBytes: copyBytes, concatBytes: concatBytes, bytesEqual: bytesEqual, asciiToBytes: asciiToBytes,
  bytesToAscii: bytesToAscii, utf8ToBytes: utf8ToBytes, toHex: toHex, fromHex: fromHex,
  readU32BE: readU32BE, writeU32BE: writeU32BE, readU32LE: readU32LE, writeU32LE: writeU32LE,
  compareVersions: compareVersions,
  crc32: crc32, crc32Update: crc32Update, Sha256: Sha256, portableHashes: portableHashes,
  hmacSha256: hmacSha256, hmacVerifier: hmacVerifier,
  FlashArea: FlashArea, flashSize: flashSize, sectorAt: sectorAt, uniformGeometry: uniformGeometry,
  Slots: Slots, SlotTarget: SlotTarget,
  ResponseParser: ResponseParser, DEFAULT_PARSER_LIMITS: DEFAULT_PARSER_LIMITS, EVENT_NEED_MORE: EVENT_NEED_MORE,
  EVENT_HEAD: EVENT_HEAD, EVENT_BODY: EVENT_BODY, EVENT_DONE: EVENT_DONE,
  writeRequestHead: writeRequestHead, HttpClient: HttpClient, downloadWithResume: downloadWithResume, parseUrl: parseUrl,
  BundleUnpacker: BundleUnpacker, readCbor: readCbor, MANIFEST_LIMITS: MANIFEST_LIMITS,
  createAgent: createAgent, apiOverHttp: apiOverHttp, fetcherOverHttp: fetcherOverHttp, networkOverHttp: networkOverHttp,
  Journal: Journal, bundleFormat: bundleFormat, rawImage: rawImage, rawImageFormat: rawImageFormat,
};

if (typeof OTA_MODULE === 'object' && OTA_MODULE !== null) OTA_MODULE.exports = api;
else (globalThis as unknown as { OtaAgent: unknown }).OtaAgent = api;
