// The firmware-parity options of the mbedTLS transport, validated once at construction.
import type { Clock } from '../../util/clock.js';
import { otaError } from '../../util/errors.js';
import { MBEDTLS_ERRORS } from './errors.js';

/** TLS versions the mbedTLS build speaks. */
export type MbedTlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Key-exchange groups compiled into the build. */
export type MbedTlsCurve = 'x25519' | 'secp256r1' | 'secp384r1';

/** RFC 6066 max_fragment_length values. */
export type MaxFragmentLength = 512 | 1024 | 2048 | 4096;

/** Options of MbedTlsTransport: the knobs a firmware team sets in its mbedtls_config.h or before the handshake. */
export interface MbedTlsTransportOptions {
  /** Send SNI (default true). false reproduces a build without MBEDTLS_SSL_SERVER_NAME_INDICATION: the name is still verified. */
  sni?: boolean;
  /** Input record buffer in bytes, 512..16384 (MBEDTLS_SSL_IN_CONTENT_LEN; default 16384). */
  recordBuffer?: number;
  /** Ask for RFC 6066 max_fragment_length (TLS 1.2; mbedTLS 3.6 rejects the server's echo under TLS 1.3). */
  maxFragmentLength?: MaxFragmentLength;
  /** Allowed cipher suites in preference order: IANA ("TLS_AES_128_GCM_SHA256"), mbedTLS or OpenSSL names, or ids. */
  ciphersuites?: (string | number)[];
  /** Allowed key-exchange groups in preference order (default: mbedTLS's own order). */
  curves?: MbedTlsCurve[];
  /** The device clock; certificate validity is judged by it (default: the host's real time). */
  clock?: Pick<Clock, 'now'>;
  /** Roots (DER) used when ConnectOptions.ca is absent. */
  ca?: Uint8Array[];
  /** Lowest version offered (default TLSv1.2). */
  minVersion?: MbedTlsVersion;
  /** Highest version offered (default TLSv1.3). */
  maxVersion?: MbedTlsVersion;
  /** Ciphertext bytes buffered ahead of the reader before the socket pauses (default 256 KiB). */
  readAhead?: number;
  /** The wasm module to load (default mbedtls/build/ota-mbedtls.wasm, or OTA_MBEDTLS_WASM). */
  wasmPath?: string;
}

/** A suite the build supports, under its three common names. */
interface Suite {
  id: number;
  iana: string;
  mbedtls: string;
  openssl: string;
}

/** Every suite compiled in (mbedtls/mbedtls_config.h: ECDHE with AES-GCM or ChaCha20-Poly1305, and TLS 1.3's). */
export const MBEDTLS_SUITES: readonly Suite[] = [
  { id: 0x1301, iana: 'TLS_AES_128_GCM_SHA256', mbedtls: 'TLS1-3-AES-128-GCM-SHA256', openssl: 'TLS_AES_128_GCM_SHA256' },
  { id: 0x1302, iana: 'TLS_AES_256_GCM_SHA384', mbedtls: 'TLS1-3-AES-256-GCM-SHA384', openssl: 'TLS_AES_256_GCM_SHA384' },
  { id: 0x1303, iana: 'TLS_CHACHA20_POLY1305_SHA256', mbedtls: 'TLS1-3-CHACHA20-POLY1305-SHA256', openssl: 'TLS_CHACHA20_POLY1305_SHA256' },
  { id: 0xc02b, iana: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', mbedtls: 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
  { id: 0xc02c, iana: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', mbedtls: 'TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384', openssl: 'ECDHE-ECDSA-AES256-GCM-SHA384' },
  { id: 0xc02f, iana: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', mbedtls: 'TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256', openssl: 'ECDHE-RSA-AES128-GCM-SHA256' },
  { id: 0xc030, iana: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', mbedtls: 'TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384', openssl: 'ECDHE-RSA-AES256-GCM-SHA384' },
  { id: 0xcca9, iana: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', mbedtls: 'TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256', openssl: 'ECDHE-ECDSA-CHACHA20-POLY1305' },
  { id: 0xcca8, iana: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', mbedtls: 'TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256', openssl: 'ECDHE-RSA-CHACHA20-POLY1305' },
];

/** TLS NamedGroup ids (RFC 8446 §4.2.7) of the compiled-in curves. */
export const MBEDTLS_GROUPS: { readonly [name in MbedTlsCurve]: number } = { x25519: 29, secp256r1: 23, secp384r1: 24 };

/** The options after validation, in the form the session needs. */
export interface ResolvedOptions {
  sni: boolean;
  recordBuffer: number;
  maxFragmentLength: MaxFragmentLength | null;
  /** RFC 6066 code: 0 none, 1..4 = 512..4096. */
  mflCode: number;
  suites: number[];
  groups: number[];
  clock: Pick<Clock, 'now'>;
  minMinor: number;
  maxMinor: number;
  readAhead: number;
}

function bad(message: string, details: { [key: string]: unknown }): never {
  throw otaError(MBEDTLS_ERRORS.badOption, message, false, details);
}

/** The suite with this id or name (any of the three spellings), or null. */
export function findSuite(nameOrId: string | number): Suite | null {
  for (const suite of MBEDTLS_SUITES) {
    if (typeof nameOrId === 'number' ? suite.id === nameOrId : [suite.iana, suite.mbedtls, suite.openssl].indexOf(nameOrId.toUpperCase()) >= 0) return suite;
  }
  return null;
}

/** The IANA name of a suite by its mbedTLS name (what connection info reports), or the name unchanged. */
export function ianaSuiteName(mbedtlsName: string): string {
  const suite = findSuite(mbedtlsName);
  return suite !== null ? suite.iana : mbedtlsName;
}

const VERSION_MINOR: { [version: string]: number } = { 'TLSv1.2': 3, 'TLSv1.3': 4 };
const MFL_CODES: { [length: number]: number } = { 512: 1, 1024: 2, 2048: 3, 4096: 4 };

/** Validates the options, throwing `mbedtls-bad-option` with what was expected and found. */
export function resolveOptions(options: MbedTlsTransportOptions): ResolvedOptions {
  const recordBuffer = options.recordBuffer ?? 16384;
  if (!Number.isInteger(recordBuffer) || recordBuffer < 512 || recordBuffer > 16384) {
    bad(`recordBuffer must be an integer from 512 to 16384 bytes (MBEDTLS_SSL_IN_CONTENT_LEN); got ${String(recordBuffer)}.`, { recordBuffer });
  }
  const mfl = options.maxFragmentLength ?? null;
  if (mfl !== null && MFL_CODES[mfl] === undefined) {
    bad(`maxFragmentLength must be 512, 1024, 2048 or 4096 (RFC 6066); got ${String(mfl)}.`, { maxFragmentLength: mfl });
  }
  if (mfl !== null && mfl > recordBuffer) {
    bad(`maxFragmentLength ${mfl} is larger than recordBuffer ${recordBuffer}: mbedTLS cannot ask for fragments it has no room for.`, { maxFragmentLength: mfl, recordBuffer });
  }
  const suites: number[] = [];
  for (const entry of options.ciphersuites ?? []) {
    const suite = findSuite(entry);
    if (suite === null) {
      bad(`Cipher suite ${JSON.stringify(entry)} is not compiled into this mbedTLS build; choose from ${MBEDTLS_SUITES.map((s) => s.iana).join(', ')}.`, { ciphersuite: entry });
    }
    if (suites.indexOf(suite.id) < 0) suites.push(suite.id);
  }
  if (suites.length > 32) bad(`At most 32 cipher suites; got ${suites.length}.`, { count: suites.length });
  const groups: number[] = [];
  for (const curve of options.curves ?? []) {
    const id = MBEDTLS_GROUPS[curve];
    if (id === undefined) bad(`Curve ${JSON.stringify(curve)} is not compiled into this mbedTLS build; choose from ${Object.keys(MBEDTLS_GROUPS).join(', ')}.`, { curve });
    if (groups.indexOf(id) < 0) groups.push(id);
  }
  const min = options.minVersion ?? 'TLSv1.2';
  const max = options.maxVersion ?? 'TLSv1.3';
  if (VERSION_MINOR[min] === undefined || VERSION_MINOR[max] === undefined || VERSION_MINOR[min] > VERSION_MINOR[max]) {
    bad(`TLS versions must satisfy TLSv1.2 <= min <= max <= TLSv1.3; got ${String(min)}..${String(max)}.`, { minVersion: min, maxVersion: max });
  }
  const readAhead = options.readAhead ?? 256 * 1024;
  if (!(readAhead > 0)) bad(`readAhead must be a positive number of bytes; got ${String(readAhead)}.`, { readAhead });
  return {
    sni: options.sni !== false,
    recordBuffer,
    maxFragmentLength: mfl,
    mflCode: mfl !== null ? MFL_CODES[mfl] : 0,
    suites,
    groups,
    clock: options.clock ?? { now: () => Date.now() },
    minMinor: VERSION_MINOR[min],
    maxMinor: VERSION_MINOR[max],
    readAhead,
  };
}
