import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { handleAdmin } from './admin-api.js';
import { handleCdn } from './cdn.js';
import { knownNames, type BackendContext, type BackendSettings } from './context.js';
import { makeDirectories } from '../tools/make-directories.js';
import { handleLatest } from './device-api.js';
import { FaultSet } from './faults.js';
import { errorBody, sendError } from './http-util.js';
import { PayloadStore } from './payload-store.js';
import { ReleaseAdmin } from './release-admin.js';
import { checkSettings } from './settings-check.js';
import { StateStore } from './state-store.js';
import { loadTlsIdentities, type TlsIdentities } from './tls-identity.js';
import { UrlSigner } from './url-signing.js';
import { lockDirectory, type DirLock } from '../tools/dir-lock.js';
import { otaError } from '../util/errors.js';

/** How to start the mock backend. Every field is optional. */
export interface BackendOptions {
  /** Where state, payloads and the test CA live. Default: a fresh temp directory, deleted by close(). */
  dataDir?: string;
  /** Listen address of both listeners. Default 127.0.0.1. */
  host?: string;
  /** Port of the device + admin API. Default 0 (any free port). */
  port?: number;
  /** Port of the CDN. Default 0. */
  cdnPort?: number;
  /** Plain HTTP instead of HTTPS on both listeners. */
  http?: boolean;
  /** Device API key; default: the stored one, or a new random one. */
  projectKey?: string;
  /** Admin API token; default: the stored one, or a new random one. */
  orgToken?: string;
  /** Organization and project slugs of the admin routes. Default "acme" / "smart-sensor" (or the stored ones). */
  org?: string;
  project?: string;
  /** Refuse TLS clients that send no SNI (both listeners), as the real CDN does. */
  requireSni?: boolean;
  /** Lifetime of signed payload links, seconds. Default 21600 (6 h). */
  urlLifetimeSeconds?: number;
  /** Device API requests per device per UTC day before 204 rate-limited. Default 100. */
  dailyRequestLimit?: number;
  /** Status of an expired payload link. Default 403. */
  expiredLinkStatus?: number;
  /** Send ETag and Last-Modified on the CDN (unverified on Memfault's; false tests clients without them). Default true. */
  cdnValidators?: boolean;
  /** Largest payload upload, bytes. Default 512 MiB. */
  maxUploadBytes?: number;
  /** Largest admin JSON body, bytes. Default 1 MiB. */
  maxJsonBytes?: number;
  /** Largest request head, bytes (431 beyond). Default 8 KiB. */
  maxHeaderBytes?: number;
  /** Wall clock in milliseconds, for expiry and daily limits. Default Date.now. */
  now?: () => number;
  /** Receives one line per notable event (never secrets). Default: nothing. */
  log?: (line: string) => void;
}

/** A running backend: its addresses, credentials, fault controls and release management. */
export interface Backend {
  /** Device API and admin API, e.g. https://127.0.0.1:41234 */
  baseUrl: string;
  /** Payload CDN (a second listener with its own certificate and root), e.g. https://127.0.0.1:41235 */
  cdnBaseUrl: string;
  /** PEM file with every root a client needs (API root + CDN root); undefined with `http`. */
  caPath?: string;
  /** The two roots separately (PEM text), for clients that pin per host. */
  apiCaPem?: string;
  cdnCaPem?: string;
  /** Both roots as DER, what a device bundles (the portable transports take `ca: Uint8Array[]`). Empty with `http`. */
  trustedRootsDer: Uint8Array[];
  projectKey: string;
  orgToken: string;
  org: string;
  project: string;
  dataDir: string;
  /** Fault rules: add/remove/clear/list (see FaultSpec). */
  faults: FaultSet;
  /** Release management: uploadPayload, deploy, abortRollout, deactivate, createCohort, createDevice, moveDevice, devices, cohorts, releases, deployments. */
  admin: ReleaseAdmin;
  /** Changes settings at run time (e.g. shorter link lifetime, lower daily limit). */
  configure(settings: Partial<BackendSettings>): void;
  /** Stops both listeners, flushes state, and deletes the data directory when it was a temp one. */
  close(): Promise<void>;
}

/** Creates the data directory when missing; refuses a path that exists and is not a directory. Returns it. */
function checkDataDir(dataDir: string): string {
  let isDirectory: boolean | null = null;
  try {
    isDirectory = statSync(dataDir).isDirectory();
  } catch {
    isDirectory = null;
  }
  if (isDirectory === false) {
    throw otaError('backend-data-dir-invalid', `the data directory ${dataDir} is a file, not a directory; pass another --data (or dataDir)`, false, { path: dataDir });
  }
  try {
    makeDirectories(dataDir);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw otaError('backend-data-dir-invalid', `cannot create the data directory ${dataDir} (${code}): a parent is missing, not a directory, or not writable; pass another --data (or dataDir)`,
      false, { path: dataDir }, cause);
  }
  return dataDir;
}

function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function onClientError(error: Error & { code?: string }, socket: Socket): void {
  // Only HTTP parse errors get an answer; TLS failures and resets just close.
  if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage || !(error.code ?? '').startsWith('HPE_')) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = errorBody(status, tooLarge ? 'Request header fields too large' : 'Malformed HTTP request');
  socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function makeServer(tls: { certPem: string; keyPem: string } | null, maxHeaderBytes: number, requireSni: boolean, route: (req: IncomingMessage, res: ServerResponse) => void, log: (line: string) => void): Server {
  const options = { maxHeaderSize: maxHeaderBytes, keepAlive: true };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      route(req, res);
    } catch (error) {
      // A bug must cost one request, never the server (and the tests and demo running on it).
      log(`internal error on ${req.method} ${(req.url ?? '').split('?')[0]}: ${error instanceof Error ? error.stack : JSON.stringify(error)}`);
      if (!res.headersSent) sendError(res, 500, 'Internal error in the mock backend');
      else res.destroy();
    }
  };
  const server: Server = tls
    ? createHttpsServer({ ...options, cert: tls.certPem, key: tls.keyPem }, handler)
    : createHttpServer(options, handler);
  server.keepAliveTimeout = 10_000;
  server.on('clientError', onClientError);
  if (tls && requireSni) {
    server.on('secureConnection', (socket: TLSSocket) => {
      // The real CDN refuses a ClientHello without SNI; Node has no hook before the handshake completes, so
      // the connection is closed before any HTTP byte is read.
      if (!(socket as TLSSocket & { servername?: string | false }).servername) socket.destroy();
    });
  }
  return server;
}

/** Starts the mock backend (device API + admin API on one listener, the payload CDN on a second). */
export async function startBackend(options: BackendOptions = {}): Promise<Backend> {
  const settings: BackendSettings = {
    urlLifetimeSeconds: options.urlLifetimeSeconds ?? 6 * 3600,
    dailyRequestLimit: options.dailyRequestLimit ?? 100,
    expiredLinkStatus: options.expiredLinkStatus ?? 403,
    cdnValidators: options.cdnValidators ?? true,
    maxUploadBytes: options.maxUploadBytes ?? 512 * 1024 * 1024,
    maxJsonBytes: options.maxJsonBytes ?? 1024 * 1024,
  };
  checkSettings(settings);
  const tempDir = options.dataDir ? null : mkdtempSync(join(tmpdir(), 'ota-backend-'));
  const dataDir = options.dataDir ?? (tempDir as string);
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  // A second backend on the same data directory would silently lose the first one's acknowledged changes.
  let lock: DirLock | null = null;
  let store: StateStore;
  let payloads: PayloadStore;
  try {
    if (tempDir === null) {
      lock = lockDirectory(checkDataDir(dataDir), 'backend ("ota serve" or startBackend)');
    }
    payloads = new PayloadStore(dataDir);
    store = new StateStore(dataDir, { org: options.org, project: options.project, projectKey: options.projectKey, orgToken: options.orgToken },
      undefined, (loaded) => payloads.checkArtifacts(loaded.releases, join(dataDir, 'state.json')));
    payloads.sweepTemp();
  } catch (error) {
    lock?.release();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw error;
  }
  const tls: TlsIdentities | null = options.http ? null : loadTlsIdentities(join(dataDir, 'tls'), host, tempDir !== null);
  const ctx: BackendContext = {
    store, payloads, settings, log,
    signer: new UrlSigner(store.state.urlSecret),
    faults: new FaultSet(),
    now: options.now ?? Date.now,
    cdnBaseUrl: '',
    baseUrl: '',
    known: knownNames(store),
    reindex: () => { ctx.known = knownNames(store); },
    requestCounts: new Map(),
  };
  const admin = new ReleaseAdmin(ctx);
  const maxHeaderBytes = options.maxHeaderBytes ?? 8 * 1024;
  const api = makeServer(tls ? tls.api : null, maxHeaderBytes, Boolean(options.requireSni), (req, res) => {
    const url = splitUrl(req.url ?? '/');
    if (url.path === '/api/v0/releases/latest/url') handleLatest(ctx, req, res, url.query, false);
    else if (url.path === '/api/v0/releases/latest') handleLatest(ctx, req, res, url.query, true);
    // Only the admin API's own prefixes ask for the org token: a device that mistypes its route (`/latest/url/`,
    // `/api/v0/release/latest`) gets a 404 naming the device routes, not a 401 about a token it never has.
    else if (url.path.startsWith('/api/v0/organizations/') || url.path.startsWith('/api/v0/mock/')) void handleAdmin(ctx, admin, req, res, url.path, url.query);
    else {
      req.resume();
      sendError(res, 404, `No route ${url.path.slice(0, 200)}; the device API is /api/v0/releases/latest/url and /api/v0/releases/latest`);
    }
  }, log);
  const cdn = makeServer(tls ? tls.cdn : null, maxHeaderBytes, Boolean(options.requireSni), (req, res) => {
    const url = splitUrl(req.url ?? '/');
    req.resume();
    handleCdn(ctx, req, res, url.path, url.query);
  }, log);
  const scheme = tls ? 'https' : 'http';
  try {
    const apiPort = await listen(api, options.port ?? 0, host);
    const cdnPort = await listen(cdn, options.cdnPort ?? 0, host);
    ctx.baseUrl = `${scheme}://${urlHost(host)}:${apiPort}`;
    ctx.cdnBaseUrl = `${scheme}://${urlHost(host)}:${cdnPort}`;
  } catch (error) {
    api.close();
    cdn.close();
    await store.close();
    lock?.release();
    throw error;
  }
  log(`backend listening: api ${ctx.baseUrl}, cdn ${ctx.cdnBaseUrl}, data ${dataDir}`);
  let closed: Promise<void> | null = null;
  return {
    baseUrl: ctx.baseUrl,
    cdnBaseUrl: ctx.cdnBaseUrl,
    caPath: tls ? tls.bundlePath : undefined,
    apiCaPem: tls ? tls.api.caPem : undefined,
    cdnCaPem: tls ? tls.cdn.caPem : undefined,
    trustedRootsDer: tls ? [tls.api.caDer, tls.cdn.caDer] : [],
    projectKey: store.state.projectKey,
    orgToken: store.state.orgToken,
    org: store.state.org,
    project: store.state.project,
    dataDir,
    faults: ctx.faults,
    admin,
    configure(change) {
      checkSettings(change);
      Object.assign(settings, change);
    },
    close() {
      if (!closed) {
        closed = Promise.all([api, cdn].map((server) => new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }))).then(() => store.close()).then(() => {
          lock?.release();
          if (tempDir) rmSync(tempDir, { recursive: true, force: true });
        });
      }
      return closed;
    },
  };
}
