// For the Espruino bundle in QuickJS: an Espruino runtime whose require("crypto").SHA256 and E are host bridges,
// so the bundle's own Espruino adapters (nativeHashes) run in the VM with Node doing the one-shot hash.
import { createHash } from 'node:crypto';

/** Guest code defining guestHashes() over the Espruino adapters, plus guestRuntime. */
export const ESPRUINO_GUEST_RUNTIME = String.raw`
var guestRuntime = {
  require: function (name) {
    if (name === 'crypto') return { SHA256: function (data) { return unhex(JSON.parse(__hostSync('sha256', JSON.stringify({ hex: hex(data) })))).buffer; } };
    return undefined;
  },
  E: {
    toUint8Array: function (s) { var u = new Uint8Array(s.length); for (var i = 0; i < s.length; i++) u[i] = s.charCodeAt(i) & 255; return u; },
    toString: function (u) { var s = ''; for (var i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); return s; },
    CRC32: function (d) { return OtaAgent.crc32Update(0, d, 0, d.length); }
  },
  setTimeout: function () { throw new Error('no timers in the VM'); },
  clearTimeout: function () {},
  memory: function () { return { free: 0, total: 0 }; }
};
function guestHashes() { return OtaAgent.nativeHashes({ runtime: guestRuntime }); }
`;

/** Guest code defining guestHashes() over the ES2020 bundle's portable SHA-256. */
export const ES2020_GUEST_RUNTIME = 'function guestHashes() { return OtaAgent.portableHashes; }';

/** The host side of the sha256 bridge. */
export function sha256Op(args: { hex: string }): string {
  return createHash('sha256').update(Buffer.from(args.hex, 'hex')).digest('hex');
}
