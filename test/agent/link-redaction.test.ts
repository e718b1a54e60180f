import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetcherOverHttp } from '../../src/agent/http-adapter.js';
import { HttpClient } from '../../src/http/client.js';
import { systemClock } from '../../src/node/clock.js';
import { TcpTransport } from '../../src/node/transports/tcp.js';
import { text } from './fakes.js';
import { Rig } from './rig.js';

// The query of a signed CDN link is a credential valid for hours: no event of a failing download (error details,
// messages) may carry it. The download goes through the real HTTP client and ranged downloader to a local server.

const TOKEN = 'SECRET-TOKEN-ab12cd34';
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A CDN on 127.0.0.1 answering every request with `status` (and `headers`). */
async function cdn(status: number, headers: (port: number) => { [name: string]: string }): Promise<number> {
  const server = createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    res.writeHead(status, { 'content-length': '0', ...headers(port) });
    res.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function rigFor(link: string): Rig {
  const client = new HttpClient({ transport: new TcpTransport(), clock: systemClock, keepAlive: false });
  return new Rig({}, (url) => url.includes('current_version=0.0.1') ? text(200, link) : text(204, ''), { fetcher: fetcherOverHttp(client) });
}

function expectNoToken(r: Rig, code: string): void {
  const errors = r.events.filter((e) => e.type === 'error');
  expect(errors.map((e) => e.code)).toContain(code);
  expect(JSON.stringify(r.events)).not.toContain(TOKEN);
  expect(JSON.stringify(r.events)).not.toContain('token=');
}

describe('a signed link never reaches events', () => {
  it('503 with Retry-After (download-server-busy): details.url keeps scheme, host and path only', async () => {
    const port = await cdn(503, () => ({ 'retry-after': '30' }));
    const r = rigFor(`http://127.0.0.1:${port}/a/b/fw-1?token=${TOKEN}&expires=1900000000`);
    const result = await r.agent.runOnce();
    expect(result.error?.code).toBe('download-server-busy');
    expectNoToken(r, 'download-server-busy');
    expect(result.error?.details?.url).toBe(`http://127.0.0.1:${port}/a/b/fw-1`);
    expect(JSON.stringify(result.error)).not.toContain(TOKEN);
  });

  it('403 (download-url-rejected), asked again and refused again', async () => {
    const port = await cdn(403, () => ({}));
    const r = rigFor(`http://127.0.0.1:${port}/a/b/fw-1?token=${TOKEN}`);
    expect((await r.agent.runOnce()).error?.code).toBe('download-url-rejected');
    expectNoToken(r, 'download-url-rejected');
  });

  it('a redirect loop: the HTTP client names the URL in its message; the agent cuts the query', async () => {
    const port = await cdn(302, (p) => ({ location: `http://127.0.0.1:${p}/a/b/fw-1?token=${TOKEN}` }));
    const r = rigFor(`http://127.0.0.1:${port}/a/b/fw-1?token=${TOKEN}`);
    const result = await r.agent.runOnce();
    expect(result.outcome).toBe('failed');
    expect(result.error?.message).toContain(`127.0.0.1:${port}/a/b/fw-1`);
    expectNoToken(r, result.error!.code);
  });

  it('a link the HTTP client cannot parse (bad port): message and details without the query', async () => {
    const r = rigFor(`http://127.0.0.1:99999/a/b/fw-1?token=${TOKEN}`);
    const result = await r.agent.runOnce();
    expect(result.error?.code).toBe('http-bad-url');
    expectNoToken(r, 'http-bad-url');
  });
});
