// The shared transport conformance suite, unchanged, against the mbedTLS-in-wasm transport.
import { beforeAll } from 'vitest';
import { MbedTlsTransport } from '../../src/node/transports/mbedtls.js';
import { describeTransportConformance } from '../transport/conformance.js';
import { ensureMbedTlsBuilt } from './helpers.js';

beforeAll(() => {
  ensureMbedTlsBuilt();
});

describeTransportConformance('mbedTLS (wasm)', (options) => {
  const nowMs = options.nowMs;
  return new MbedTlsTransport({
    ca: options.ca,
    sni: options.omitSni !== true,
    clock: nowMs !== undefined ? { now: () => nowMs } : undefined,
  });
}, { omitSni: true, injectedClock: true });
