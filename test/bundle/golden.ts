// The golden bundle of the reference note (docs/bundle-format.md, "Byte-level example"): 281 bytes, Ed25519 over a
// test seed 00..1f. Signing is deterministic, so the packer must reproduce these bytes exactly.

/** Hex of the golden bundle. */
export const GOLDEN_HEX =
  '4f54414201010000000000edd28443a10132a1044856475aa75463474c5898a5' +
  '0101021a674190300365312e322e30048263657674636476740582a601676d61' +
  '696e2d66770265312e322e300310045820503563c1bda45327ff4617750a06bd' +
  '8143fcd4e7929934b7cf1e826c1ba60c90051ab225246f0602a6016777696669' +
  '2d66770265302e392e31030804582086912194063de377f14ee690d64e798822' +
  'ea3a58d224d8a88a1c255774bc6e5f051abca5986006015840a4005ea034725d' +
  '8dbbe353b6c0263bb1a78cd1ec1c9699941850fd9b58ff7b2650811325f77e16' +
  '4dd35247ed4211f1ec6dcfb364ce60bb7dde13a3e78ff4be0600000010a0a1a2' +
  'a3a4a5a6a7a8a9aaabacadaeaf000000085051525354555657';

/** The test seed 00 01 .. 1f (not a real key). */
export const GOLDEN_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);

/** Its Ed25519 public key. */
export const GOLDEN_PUBLIC_HEX = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';

/** The parts and manifest fields of the golden bundle. */
export const GOLDEN_MAIN = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
export const GOLDEN_WIFI = Uint8Array.from({ length: 8 }, (_, i) => 0x50 + i);
export const GOLDEN_INPUT = {
  sequence: 1732350000,
  releaseVersion: '1.2.0',
  hardwareVersions: ['evt', 'dvt'],
  parts: [
    { softwareType: 'main-fw', version: '1.2.0', data: GOLDEN_MAIN, order: 2 },
    { softwareType: 'wifi-fw', version: '0.9.1', data: GOLDEN_WIFI, order: 1 },
  ],
};
