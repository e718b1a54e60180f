// How the bundle layer authenticates a header without knowing the algorithm or the implementation behind it.
// Ed25519 on node:crypto, HMAC-SHA256 over any HashFactory, a secure element: each is one small object.

/** The COSE structure a key authenticates: COSE_Sign1 ("Signature1") or COSE_Mac0 ("MAC0"). */
export type CoseStructure = 'Signature1' | 'MAC0';

/** One trusted key. A device holds a list of them; the bundle's kid and alg pick one. */
export interface SignatureVerifier {
  /** Which COSE structure this key checks: public-key signatures or MACs. */
  structure: CoseStructure;
  /** Key identifier (COSE label 4); a bundle that names another kid skips this key. Null matches any kid. */
  keyId: Uint8Array | null;
  /** True when `alg` (a COSE algorithm id from the protected header) is one this key verifies. */
  accepts(alg: number): boolean;
  /** Resolves true when `tag` authenticates `message` under `alg`; resolves false (never rejects) on a bad tag. */
  verify(alg: number, message: Uint8Array, tag: Uint8Array): Promise<boolean>;
}
