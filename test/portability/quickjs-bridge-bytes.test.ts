// The host bridge hands the guest exactly the bytes of a chunk. Transport chunks are views into recycled 16 KiB
// receive buffers (src/node/transports/socket-connection.ts), so a bridge that passes `view.buffer` (or
// `Buffer#slice().buffer`, which shares memory) gives the guest the whole buffer: stale bytes past the chunk's end,
// which the HTTP parser then takes as body when the connection dropped mid-body.
import { describe, expect, it } from 'vitest';
import { GuestVm, HostBytes } from './quickjs/guest-vm.js';
import type { HostOps } from './quickjs/guest-vm.js';
import { nodeGuest } from './quickjs/host-ops.js';
import { GUEST_PORTS } from './quickjs/guest-ports.js';

const CHUNK = Uint8Array.from([0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x31]);

/** A read op whose chunk is a view in the middle of a larger, poisoned buffer, as a pooled transport returns it. */
function ops(): HostOps {
  return {
    connect: () => 1,
    read: () => {
      const backing = Buffer.alloc(16 * 1024, 0xee);
      backing.set(CHUNK, 100);
      return new HostBytes(backing.subarray(100, 100 + CHUNK.length));
    },
    close: () => null,
  };
}

const GLUE = GUEST_PORTS + String.raw`
guest.readOnce = function () {
  return hostTransport.connect({ host: 'h', port: 1, tls: false, timeoutMs: 1000 }).then(function (connection) {
    return connection.read();
  }).then(function (chunk) {
    return { length: chunk.length, hex: hex(chunk) };
  });
};
`;

const expected = { length: CHUNK.length, hex: Buffer.from(CHUNK).toString('hex') };

describe('the QuickJS host bridge', () => {
  it('hands the Node reference guest exactly the chunk, not the buffer behind it', async () => {
    const guest = nodeGuest(GLUE, ops(), {});
    expect(await guest.readOnce(null)).toEqual(expected);
  });

  it('hands the VM guest exactly the chunk, not the buffer behind it', async () => {
    const vm = await GuestVm.create({ bundle: '', name: 'empty.js', glue: GLUE, ops: ops(), memoryLimit: 8 * 1024 * 1024 });
    try {
      expect(await vm.call('readOnce', null)).toEqual(expected);
    } finally {
      vm.dispose();
    }
  });
});
