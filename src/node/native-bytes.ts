// Byte comparison on Node's native code, for the hot read-back check of SlotTarget.

/** Whether two byte ranges are equal, compared natively (tens of GB/s; the portable byte loop does a few hundred MB/s). */
export function nativeBytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
