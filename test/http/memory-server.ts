// A scripted HTTP/1.1 server over in-memory connections: parses each request head (and body), hands it to a
// responder that writes raw bytes, and keeps serving the connection until either side closes it.
import { MemoryTransport, type MemoryConnection } from '../../src/node/transports/memory.js';
import type { ConnectOptions } from '../../src/http/transport.js';

/** One request as the server saw it. */
export interface SeenRequest {
  method: string;
  target: string;
  headers: { [lowerName: string]: string };
  body: Buffer;
  /** Index of the connection it came on (0-based, in connect order). */
  connection: number;
  /** Host/port the client connected to. */
  options: ConnectOptions;
}

/** Writes the answer to `request` on `conn`; may close or destroy it. */
export type Responder = (request: SeenRequest, conn: MemoryConnection) => void | Promise<void>;

/** An in-memory HTTP server and the transport that reaches it. */
export function memoryHttpServer(respond: Responder): { transport: MemoryTransport; requests: SeenRequest[] } {
  const requests: SeenRequest[] = [];
  let connections = 0;
  const transport = new MemoryTransport((conn, options) => {
    const index = connections++;
    let buffer = Buffer.alloc(0);
    const serve = async (): Promise<void> => {
      for (let guard = 0; guard < 10_000; guard++) {
        let headEnd = buffer.indexOf('\r\n\r\n');
        while (headEnd < 0) {
          const chunk = await conn.read().catch(() => null);
          if (chunk === null) return;
          buffer = Buffer.concat([buffer, Buffer.from(chunk)]);
          headEnd = buffer.indexOf('\r\n\r\n');
        }
        const head = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
        buffer = buffer.subarray(headEnd + 4);
        const [method, target] = head[0].split(' ');
        const headers: { [name: string]: string } = {};
        for (const line of head.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        while (buffer.length < length) {
          const chunk = await conn.read().catch(() => null);
          if (chunk === null) return;
          buffer = Buffer.concat([buffer, Buffer.from(chunk)]);
        }
        const body = buffer.subarray(0, length);
        buffer = buffer.subarray(length);
        const request = { method, target, headers, body, connection: index, options };
        requests.push(request);
        await respond(request, conn);
        if (conn.isClosed()) return;
      }
    };
    void serve();
  });
  return { transport, requests };
}

/** A response with Content-Length. */
export function fixed(status: number, body: string | Uint8Array, headers: { [name: string]: string } = {}): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body);
  let head = `HTTP/1.1 ${status} X\r\nContent-Length: ${bytes.length}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), bytes]);
}
