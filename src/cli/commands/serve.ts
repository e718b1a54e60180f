import { startBackend, type Backend } from '../../backend/index.js';
import { writeFileAtomic } from '../../backend/atomic-file.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { dataDirOf, SERVER_FILE, type ServerRecord } from '../admin-client.js';
import { intOption, stringOption, UsageError } from '../args.js';
import type { CliIo, Command, ParsedArgs } from '../command.js';
import { EXIT_OK } from '../exit-codes.js';
import { otaError } from '../../util/errors.js';
import { isIP } from 'node:net';

const isIpLiteral = (host: string): boolean => isIP(host.replace(/^\[|\]$/g, '')) !== 0;

/** Starts the backend for `ota serve` and records how to reach it in `<data>/server.json`; returns the running backend. */
export async function serveBackend(args: ParsedArgs, io: CliIo): Promise<Backend> {
  const http = Boolean(args.options.http);
  const port = intOption(args, 'port', 0, 65535) ?? (http ? 8080 : 8443);
  const cdnPort = intOption(args, 'cdn-port', 0, 65535) ?? (port === 0 ? 0 : port + 1);
  if (port !== 0 && cdnPort === port) throw new UsageError('--cdn-port must differ from --port');
  const host = stringOption(args, 'host') ?? '127.0.0.1';
  if (args.options['require-sni'] && isIpLiteral(host)) {
    // TLS clients send no SNI to an IP address (RFC 6066 §3), and every URL this server hands out names its host.
    throw new UsageError(`--require-sni needs a host name in --host, got the address ${host}: clients send no SNI to an IP ` +
      'address, so every request (uploads, device checks, downloads) would be refused; pass --host localhost');
  }
  const dataDir = dataDirOf(args, io);
  const backend = await startBackend({
    dataDir, http, port, cdnPort,
    host,
    projectKey: stringOption(args, 'project-key'),
    orgToken: stringOption(args, 'org-token'),
    org: stringOption(args, 'org'),
    project: stringOption(args, 'project'),
    requireSni: Boolean(args.options['require-sni']),
    urlLifetimeSeconds: intOption(args, 'url-lifetime', 1, 7 * 24 * 3600),
    dailyRequestLimit: intOption(args, 'daily-limit', 1, 1_000_000_000),
    expiredLinkStatus: intOption(args, 'expired-link-status', 400, 599),
    cdnValidators: args.options['no-cdn-validators'] ? false : undefined,
    // The backend logs only what needs a look (a 500 and its stack; never a secret or a query string); the
    // "listening" line repeats the banner.
    log: (line) => { if (!line.startsWith('backend listening:')) io.err(`ota serve: ${line}\n`); },
  }).catch((error: Error & { code?: string; port?: number }) => {
    if (error.code === 'EADDRINUSE') {
      throw otaError('port-in-use', `port ${error.port ?? port} is already in use (another \`ota serve\`?); pass --port P --cdn-port Q, or --port 0 for any free ports`, false);
    }
    if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
      throw new UsageError(`cannot listen on --host ${host} (${error.code}): it is not an address of this machine` +
        `${error.code === 'EADDRNOTAVAIL' ? '' : ' or a name that resolves'}; pass --host 127.0.0.1, or 0.0.0.0 for every interface`);
    }
    if (error.code === 'EACCES') {
      throw new UsageError(`not allowed to listen on port ${error.port ?? port} of ${host} (EACCES; ports below 1024 need privileges); pass --port 8443 or --port 0`);
    }
    // Usage errors: nothing was started and nothing in the data directory was changed.
    if (error.code === 'dir-locked') {
      const pid = (error as { details?: { pid?: number } }).details?.pid;
      throw new UsageError(`another \`ota serve\` (or backend, pid ${pid}) is already using the data directory ${dataDir}; ` +
        'stop it first, or pass another --data (or OTA_DATA)');
    }
    if (error.code === 'backend-data-dir-invalid') throw new UsageError(error.message.replace('(or dataDir)', '(or OTA_DATA)'));
    throw error;
  });
  const record: ServerRecord = {
    baseUrl: backend.baseUrl, cdnBaseUrl: backend.cdnBaseUrl, caPath: backend.caPath, org: backend.org, project: backend.project,
    projectKey: backend.projectKey, orgToken: backend.orgToken,
  };
  writeFileAtomic(join(dataDir, SERVER_FILE), JSON.stringify(record, null, 2));
  if (args.options.json) io.out(JSON.stringify(record) + '\n');
  else {
    io.out([
      `ota mock backend (data in ${dataDir})`,
      `  base URL     ${backend.baseUrl}   (device API /api/v0/releases/latest/url and the admin API)`,
      `  CDN          ${backend.cdnBaseUrl}`,
      `  org          ${backend.org}, project ${backend.project}`,
      `  CA           ${backend.caPath ?? '(plain HTTP)'}`,
      `  secrets      project key and org token in ${join(dataDir, SERVER_FILE)} (mode 0600), never printed;`,
      '               every ota command given this data directory (--data or OTA_DATA) reads them from there',
      '',
      `export OTA_DATA=${dataDir}`,
      'Ctrl-C stops it; state survives a restart.',
      '',
    ].join('\n'));
  }
  return backend;
}

/** `ota serve`: runs the mock backend until interrupted. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the mock backend (device API, CDN, admin API); prints its URLs and CA path, keeps its secrets in <data>/server.json',
  usage: '[--port P] [--cdn-port Q] [--host 127.0.0.1] [--data DIR] [--http] [--project-key K] [--org-token T] [--org SLUG] ' +
    '[--project SLUG] [--require-sni] [--url-lifetime S] [--daily-limit N] [--expired-link-status S] [--no-cdn-validators] [--json]',
  options: {
    port: { kind: 'string', description: 'port of the device/admin API (default 8443, or 8080 with --http; 0 = any)', valueName: 'P' },
    'cdn-port': { kind: 'string', description: 'port of the payload CDN (default port + 1)', valueName: 'P' },
    host: { kind: 'string', description: 'listen address (default 127.0.0.1)', valueName: 'HOST' },
    data: { kind: 'string', description: 'data directory (default .ota-backend)', env: 'OTA_DATA', valueName: 'DIR' },
    http: { kind: 'boolean', description: 'plain HTTP instead of HTTPS with the generated test CA' },
    'project-key': { kind: 'string', description: 'project key to accept (default: stored or random)', env: 'MEMFAULT_PROJECT_KEY', valueName: 'KEY' },
    'org-token': { kind: 'string', description: 'organization token to accept (default: stored or random)', env: 'MEMFAULT_ORG_TOKEN', valueName: 'TOKEN' },
    org: { kind: 'string', description: 'organization slug (default acme)', env: 'MEMFAULT_ORG', valueName: 'SLUG' },
    project: { kind: 'string', description: 'project slug (default smart-sensor)', env: 'MEMFAULT_PROJECT', valueName: 'SLUG' },
    'require-sni': { kind: 'boolean', description: 'refuse TLS clients that send no SNI, as the real CDN does' },
    'url-lifetime': { kind: 'string', description: 'lifetime of signed payload links, seconds (default 21600)', valueName: 'S' },
    'expired-link-status': { kind: 'string', description: 'status for an expired payload link (default 403; the real one is unverified)', valueName: 'S' },
    'no-cdn-validators': { kind: 'boolean', description: 'the CDN sends no ETag or Last-Modified, so If-Range never matches (whether the real one sends them is unverified)' },
    'daily-limit': { kind: 'string', description: 'device API requests per device per day before 204 rate-limited (default 100)', valueName: 'N' },
    json: { kind: 'boolean', description: 'print the connection details, secrets included, as one JSON line (for scripts)' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
    const backend = await serveBackend(args, io);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await backend.close();
    // server.json says where a running server answers: a stale one would send the next command to closed ports.
    rmSync(join(backend.dataDir, SERVER_FILE), { force: true });
    io.err('ota serve: stopped\n');
    return EXIT_OK;
  },
};
