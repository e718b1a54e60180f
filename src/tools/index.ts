// Host-side tools: bundle packer, signing keys, certificate tools, test PKI.
export * from './bundle.js';
export * from './certs.js';
export * from './dir-lock.js';
export * from './file-checks.js';
export * from './keys.js';
export * from './make-directories.js';
export * from './pki.js';
