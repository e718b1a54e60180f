// A program that hashes one large input on the worker and then has nothing left to do: it must exit by itself.
import { workerHashes } from '../../src/node/worker-hashes.js';

workerHashes.start();
const hash = workerHashes.sha256();
hash.update(new Uint8Array(1024 * 1024).fill(7));
process.stdout.write(Buffer.from(hash.digest()).toString('hex'));
