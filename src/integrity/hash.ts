/** An incremental hash: feed bytes in order, then take the digest once. */
export interface Hash {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/** Makes SHA-256 hashes. Node injects node:crypto; the portable fallback is ./sha256.ts. */
export interface HashFactory {
  sha256(): Hash;
}
