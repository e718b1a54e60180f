import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendContext } from './context.js';
import { actingRules } from './acting-rules.js';
import { answerStatusFault, faultOf, sendWithFaults } from './fault-response.js';
import { sendError } from './http-util.js';
import { ifRangeMatches, parseRange } from './range.js';

const PAYLOAD_PATH = /^\/([^/?]{1,128})\/([0-9]{1,12})\/([0-9a-f]{64})$/;

/**
 * The payload CDN: `GET`/`HEAD /<project>/<artifact-id>/<sha256>?token=…&expires=…`. Checks the signature and
 * expiry, then serves the content-addressed file straight from disk with ETag, Last-Modified, Accept-Ranges and
 * single-range support (206 / 416), honouring If-Range; applies the faults scoped to `cdn` (and to the device the
 * link was issued to).
 */
export function handleCdn(ctx: BackendContext, req: IncomingMessage, res: ServerResponse, path: string, query: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(res, 405, `${req.method} is not allowed on the CDN; use GET or HEAD`, { Allow: 'GET, HEAD' });
    return;
  }
  const match = PAYLOAD_PATH.exec(path);
  if (!match) {
    sendError(res, 404, 'No such object');
    return;
  }
  const params = new URLSearchParams(query);
  const token = params.get('token');
  const check = ctx.signer.verify(path, token, params.get('expires'), Math.floor(ctx.now() / 1000));
  const serial = ctx.signer.serialOf(token);
  // Rules are used up only by a request they act on: peek first, take once the answer is known.
  const pending = ctx.faults.matching('cdn', serial);
  const statusFault = faultOf(pending, 'status');
  if (statusFault !== undefined) {
    answerStatusFault(res, ctx.faults.take('cdn', serial, (rule) => rule.id === statusFault.id));
    return;
  }
  if (check === 'missing' || check === 'forged') {
    sendError(res, 403, check === 'missing' ? 'This link needs its token and expires parameters' : 'The link signature does not match');
    return;
  }
  if (check === 'expired') {
    sendError(res, ctx.settings.expiredLinkStatus, 'This link has expired; ask the device API for a new one');
    return;
  }
  const sha256 = match[3];
  const info = ctx.payloads.stat(sha256);
  if (!info) {
    sendError(res, 404, 'No such object');
    return;
  }
  const etagFault = faultOf(pending, 'etag');
  const etag = etagFault ? etagFault.etag ?? `"${sha256.slice(0, 32)}-changed-${etagFault.id}"` : `"${sha256}"`;
  const lastModified = new Date(Math.floor(info.mtimeMs / 1000) * 1000).toUTCString();
  const validators = ctx.settings.cdnValidators;
  const headers: { [name: string]: string } = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
  };
  if (validators) {
    headers.ETag = etag;
    headers['Last-Modified'] = lastModified;
  }
  const ignoreRange = faultOf(pending, 'ignore-range') !== undefined;
  const rangeHeader = req.headers.range;
  // Without validators of its own, no If-Range can match (RFC 9110 §13.1.5): the whole payload is sent.
  const ifRange = req.headers['if-range'] as string | undefined;
  const rangeKept = validators ? ifRangeMatches(ifRange, etag, lastModified) : ifRange === undefined;
  const honoured = !rangeKept ? { kind: 'none' as const } : parseRange(rangeHeader, info.size);
  const range = ignoreRange ? { kind: 'none' as const } : honoured;
  const file = ctx.payloads.pathOf(sha256);
  const head = req.method === 'HEAD';
  if (range.kind === 'unsatisfiable') {
    if (etagFault !== undefined && validators) ctx.faults.take('cdn', serial, (rule) => rule.id === etagFault.id);
    headers['Content-Range'] = `bytes */${info.size}`;
    sendError(res, 416, `Range ${JSON.stringify(rangeHeader)} is outside the ${info.size}-byte object`, headers);
    return;
  }
  const start = range.kind === 'range' ? range.start : 0;
  const end = range.kind === 'range' ? range.end : info.size - 1;
  const acting = actingRules(pending, { start, end, head, ranged: honoured.kind !== 'none', validators });
  const faults = ctx.faults.take('cdn', serial, (rule) => acting.indexOf(rule.id) >= 0);
  if (range.kind === 'range') {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
    headers['Content-Length'] = String(range.end - range.start + 1);
    void sendWithFaults(res, 206, headers, { path: file, start: range.start, end: range.end }, faults, range.start, head);
    return;
  }
  headers['Content-Length'] = String(info.size);
  // Uploads refuse empty payloads, but a file emptied on disk must still get a well-formed (empty) answer.
  const whole = info.size === 0 ? { bytes: Buffer.alloc(0) } : { path: file, start: 0, end: info.size - 1 };
  void sendWithFaults(res, 200, headers, whole, faults, 0, head);
}
