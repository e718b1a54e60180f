// Node adapters: transports (node:tls, TCP, in-memory, mbedTLS-wasm), clock, crypto, file-backed flash, SimDevice.
export * from './clock.js';
export * from './crypto.js';
export * from './file-flash.js';
export * from './sim-device.js';
export * from './interruptible-transport.js';
export * from './transports/mbedtls.js';
export * from './transports/memory.js';
export * from './transports/tcp.js';
export * from './transports/tls.js';
