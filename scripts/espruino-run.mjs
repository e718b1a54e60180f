// Runs dist/ota-agent.espruino.js in a real Espruino interpreter (a Linux build of 2v29, see docs/portability.md):
// uploads it to Storage as "ota-agent" in chunks (as the IDE does), loads it with require() in a fresh interpreter,
// measures the variable blocks it costs, and runs a device self-test: the Storage target (write, verify in place
// with the native SHA-256, activate, confirm, reject a corrupted image), HMAC-SHA256 over the native hash, and the
// transport reading a stream from a TCP server on 127.0.0.1.
// Usage: ESPRUINO_BIN=/path/to/espruino node scripts/espruino-run.mjs [--bundle FILE] [--bin FILE ...]
// Prints one line per interpreter and, last, one JSON line with every result.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const STREAM_BYTES = 20000;

function argValues(name) {
  const values = [];
  for (let i = 2; i < process.argv.length - 1; i++) if (process.argv[i] === name) values.push(process.argv[i + 1]);
  return values;
}

function crc32(data) {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function streamBytes() {
  const data = Buffer.alloc(STREAM_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
  return data;
}

const UPLOAD = `
var fs = require("fs"), S = require("Storage");
var size = fs.statSync("ota-agent.js").size, f = E.openFile("ota-agent.js", "r"), at = 0;
S.erase("ota-agent");
while (at < size) { var c = f.read(512); S.write("ota-agent", c, at, size); at += c.length; }
f.close();
print("UPLOADED " + JSON.stringify({ size: size, stored: S.read("ota-agent").length }));
`;

/** The device self-test script for a TCP server on `port` and an HMAC vector `hmac` ({key, message, tag} in hex). */
export function selfTest(port, hmac) {
  return `
var r = { errors: [] };
process.memory();
var m0 = process.memory();
var ota = require("ota-agent");
var m1 = process.memory();
r.memory = { total: m1.total, usedBefore: m0.usage, usedAfterLoad: m1.usage, agentBlocks: m1.usage - m0.usage, freeAfterLoad: m1.free, blocksize: m1.blocksize };
r.exports = Object.keys(ota).length;
function fail(where) { return function (e) { r.errors.push(where + ": " + (e && e.code ? e.code : String(e))); }; }
var data = new Uint8Array(3000);
for (var i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 255;
var sha = new Uint8Array(require("crypto").SHA256(data));
var part = { size: data.length, version: "2.0.0", sha256: sha, crc32: E.CRC32(data) };
var target = new ota.StorageFileTarget({ softwareType: "app", banks: ["st.a.js", "st.b.js"], pointerPrefix: "st", capacity: 8192 });
// A flat pump: each step's promise settles before the next starts, so no chain grows with the data (DESIGN.md).
function pump(step) {
  return new Promise(function (resolve, reject) {
    function next() { step().then(function (more) { if (more) next(); else resolve(); }, reject); }
    next();
  });
}
function writeAll(writer, bytes) {
  var at = 0;
  return pump(function () {
    var end = at + 536 < bytes.length ? at + 536 : bytes.length;
    return writer.write(new Uint8Array(bytes.subarray(at, end))).then(function () { at = end; return at < bytes.length; });
  }).then(function () { return writer.finish(); });
}
var events = [];
var transport = new ota.EspruinoTransport({ onEvent: function (e) { events.push(e.code); } });
function readAll(connection) {
  var state = { bytes: 0, chunks: 0, crc: 0 };
  return pump(function () {
    return connection.read().then(function (chunk) {
      if (chunk === null) return false;
      state.bytes += chunk.length; state.chunks++; state.crc = ota.crc32Update(state.crc, chunk, 0, chunk.length);
      return true;
    });
  }).then(function () { return state; });
}
Promise.resolve().then(function () {
  return target.begin(part, 0).then(function (w) { return writeAll(w, data); }).then(function () { return target.activate(); })
    .then(function () { return target.status(); }).then(function (s) {
      // Pending until booted: count one boot as examples/espruino/boot.js does, and the trial runs.
      r.trialBeforeBoot = s.trial; var pointer = new ota.BootPointer(require("Storage"), "st"), rec = pointer.read(); rec.attempts++; pointer.write(rec);
      return target.status(); })
    .then(function (s) { r.trialAfterActivate = s.trial; r.version = s.runningVersion; return target.confirm(); })
    .then(function () { return target.status(); }).then(function (s) { r.trialAfterConfirm = s.trial; r.storageTarget = "ok"; }, fail("storage-target"));
}).then(function () {
  var bad = new Uint8Array(data); bad[1000] ^= 1;
  return target.begin(part, 0).then(function (w) { return writeAll(w, bad); })
    .then(function () { r.corrupted = "accepted"; }, function (e) { r.corrupted = e.code; });
}).then(function () {
  // A consumer hook returning a promise that fails later: the target waits for it and passes the failure on.
  var order = [];
  var co = new ota.FlashRegionTarget({ softwareType: "co", flash: { runtime: ota.deviceRuntime() }, onConfirm: function () {
    return new Promise(function (res, rej) { setTimeout(function () { order.push("hook"); rej({ code: "co-refused" }); }, 20); }); } });
  return co.confirm().then(function () { order.push("resolved"); }, function (e) { order.push("rejected " + e.code); })
    .then(function () { r.hookOrder = order; });
}).then(function () {
  var verifier = ota.hmacVerifier(ota.nativeHashes(), ota.fromHex("${hmac.key}"), null);
  return verifier.verify(5, ota.fromHex("${hmac.message}"), ota.fromHex("${hmac.tag}")).then(function (ok) { r.hmacValid = ok; })
    .then(function () { return verifier.verify(5, ota.fromHex("${hmac.message}"), ota.fromHex("${'00'.repeat(32)}")); })
    .then(function (ok) { r.hmacForged = ok; });
}).then(function () {
  return transport.connect({ host: "127.0.0.1", port: ${port}, tls: false, timeoutMs: 5000 }).then(function (c) {
    return c.write(ota.asciiToBytes("hello")).then(function () { return readAll(c); });
  }).then(function (s) { r.stream = s; r.warnings = events; }, fail("transport"));
}).then(function () {
  var m2 = process.memory();
  r.memory.freeAfterSelfTest = m2.free;
  print("RESULT " + JSON.stringify(r));
}, function (e) { r.errors.push("chain: " + e); print("RESULT " + JSON.stringify(r)); });
`;
}

function runEspruino(bin, dir, script, marker, timeoutMs) {
  writeFileSync(join(dir, 'run.js'), script);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, ['run.js'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin}: no ${marker} line within ${timeoutMs} ms; output:\n${out.slice(-2000)}`));
    }, timeoutMs);
    const check = () => {
      const lines = out.split('\n');
      lines.pop(); // an unfinished line
      // The REPL prefixes output with a prompt and terminal escapes, so the marker may sit mid-line.
      const line = lines.map((l) => l.replace(/\r$/, '')).find((l) => l.includes(marker + ' '));
      if (line === undefined) return false;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolvePromise(JSON.parse(line.slice(line.indexOf(marker + ' ') + marker.length + 1)));
      return true;
    };
    child.stdout.on('data', (d) => { out += d; check(); });
    child.stderr.on('data', (d) => { out += d; });
    child.on('exit', () => {
      if (!check()) {
        clearTimeout(timer);
        reject(new Error(`${bin} exited without a ${marker} line; output:\n${out.slice(-2000)}`));
      }
    });
  });
}

/**
 * Runs the bundle in each interpreter. Returns one result per binary.
 * @param {{ bins: string[], bundle: string }} options
 */
export async function runOnEspruino(options) {
  const stream = streamBytes();
  const server = createServer((socket) => {
    socket.once('data', () => socket.end(stream));
    socket.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const key = Buffer.alloc(32, 0x5a);
  const message = Buffer.from('a manifest to authenticate, as a bundle header carries it');
  const hmac = { key: key.toString('hex'), message: message.toString('hex'), tag: createHmac('sha256', key).update(message).digest('hex') };
  const results = [];
  try {
    for (const bin of options.bins) {
      const dir = mkdtempSync(join(tmpdir(), 'ota-espruino-'));
      try {
        copyFileSync(options.bundle, join(dir, 'ota-agent.js'));
        const uploaded = await runEspruino(bin, dir, UPLOAD, 'UPLOADED', 60000);
        try {
          const result = await runEspruino(bin, dir, selfTest(port, hmac), 'RESULT', 60000);
          results.push({ bin, uploaded, ...result, expectedStream: { bytes: stream.length, crc32: crc32(stream) } });
        } catch (error) {
          const text = String(error.message);
          results.push({ bin, uploaded, outOfMemory: text.includes('OUT OF MEMORY'), errors: [text.split('\n').slice(-12).join('\n')] });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    server.close();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bins = argValues('--bin');
  if (bins.length === 0 && process.env.ESPRUINO_BIN) bins.push(process.env.ESPRUINO_BIN);
  if (bins.length === 0) {
    console.error('Set ESPRUINO_BIN (or pass --bin) to an Espruino Linux build; see docs/portability.md for how to build one.');
    process.exit(3);
  }
  const bundle = resolve(argValues('--bundle')[0] ?? 'dist/ota-agent.espruino.js');
  const results = await runOnEspruino({ bins, bundle });
  for (const r of results) {
    if (r.memory === undefined) {
      console.log(`${r.bin}: ${r.outOfMemory ? 'OUT OF MEMORY while loading the agent' : 'failed'}: ${r.errors[0].split('\n')[0]}`);
      continue;
    }
    console.log(`${r.bin}: ${r.memory.total} vars, agent ${r.memory.agentBlocks} blocks, free ${r.memory.freeAfterLoad} after load, ` +
      `${r.memory.freeAfterSelfTest} after the self-test; errors: ${r.errors.length === 0 ? 'none' : r.errors.join('; ')}`);
  }
  console.log(JSON.stringify(results));
}
