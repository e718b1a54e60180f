// The payload server of `npm run bench:download`, in its own process so it does not share the client's event loop:
// node:https serving /1m and /64m (random bytes) from memory with Content-Length, Range and ETag.
// argv: JSON {certPem, keyPem}. Prints {"port":N,"crc1m":…,"crc64m":…} on stdout once listening.
import { createServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const { certPem, keyPem } = JSON.parse(process.argv[2]) as { certPem: string; keyPem: string };
const payloads: { [path: string]: Buffer } = { '/1m': randomBytes(1 << 20), '/64m': randomBytes(64 << 20) };

const server = createServer({ cert: certPem, key: keyPem, keepAlive: true }, (req, res) => {
  const body = payloads[req.url ?? ''];
  if (!body) {
    res.writeHead(404).end();
    return;
  }
  const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
  const start = range ? Number(range[1]) : 0;
  const headers: { [name: string]: string } = { 'Content-Length': String(body.length - start), ETag: '"bench"', 'Content-Type': 'application/octet-stream' };
  if (range) headers['Content-Range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
  res.writeHead(range ? 206 : 200, headers);
  res.end(start > 0 ? body.subarray(start) : body);
});
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as { port: number }).port;
  process.stdout.write(JSON.stringify({ port, crc1m: crc32(payloads['/1m']), crc64m: crc32(payloads['/64m']) }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
