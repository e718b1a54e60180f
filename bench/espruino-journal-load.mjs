// Memory of Journal.load() on a real Espruino interpreter: the peak variable blocks above the baseline while a journal
// of 10 and of 40 records is loaded (150-byte payloads, two 8 KiB StorageFlash banks), sampled at every flash read.
// A load that keeps one record in memory has the same peak for both; one that keeps every record grows with them.
//   ESPRUINO_BIN=/path/to/espruino node bench/espruino-journal-load.mjs [--bundle dist/ota-agent.espruino.js]
// Prints a table and one JSON line. Build the bundle first (npm run build).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const UPLOAD = `
var fs = require("fs"), S = require("Storage");
var size = fs.statSync("ota-agent.js").size, f = E.openFile("ota-agent.js", "r"), at = 0;
S.erase("ota-agent");
while (at < size) { var c = f.read(512); S.write("ota-agent", c, at, size); at += c.length; }
f.close();
print("UPLOADED " + JSON.stringify({ size: size }));
`;
/** Fills a journal with `records` records, then loads it afresh, sampling process.memory() at every flash read. */
const PROBE = (records) => `
var ota = require("ota-agent");
var flash = new ota.StorageFlash({ prefix: "jp", sectors: 2, sectorSize: 8192 });
var j = new ota.Journal(flash);
var payload = new Uint8Array(150); for (var i = 0; i < 150; i++) payload[i] = i & 255;
var n = 0;
function appendMany() { return new Promise(function (res, rej) { function next() { if (n >= ${records}) return res(); n++; j.append(payload).then(next, rej); } next(); }); }
j.load().then(appendMany).then(function () {
  var j2 = new ota.Journal(flash);
  var base = process.memory().usage; var peak = base; var reads = 0;
  var read = flash.read;
  flash.read = function (o, l, into) { reads++; var u = process.memory().usage; if (u > peak) peak = u; return read.call(flash, o, l, into); };
  return j2.load().then(function (p) { var after = process.memory().usage; print("JP " + JSON.stringify({ records: ${records}, reads: reads, base: base, peakDelta: peak - base, len: p ? p.length : -1 })); });
}).then(null, function (e) { print("JP " + JSON.stringify({ error: String(e && e.code || e) })); });
`;
/** Runs `script` in the interpreter in `dir` and resolves the text after the first `marker` line. */
function run(bin, dir, script, marker) {
  writeFileSync(join(dir, 'run.js'), script);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['run.js'], { cwd: dir });
    let out = '';
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('timeout ' + out.slice(-500))); }, 120000);
    child.stdout.on('data', (d) => { out += d; const m = out.split('\n').find((l) => l.includes(marker + ' ')); if (m) { clearTimeout(t); child.kill('SIGKILL'); resolve(m.slice(m.indexOf(marker + ' ') + marker.length + 1).trim()); } });
    child.on('exit', () => { clearTimeout(t); reject(new Error('exit ' + out.slice(-800))); });
  });
}
const bin = process.env.ESPRUINO_BIN;
if (!bin) {
  console.error('Set ESPRUINO_BIN to an Espruino 2v29 Linux build (see docs/portability.md).');
  process.exit(3);
}
const at = process.argv.indexOf('--bundle');
const bundle = at >= 0 ? process.argv[at + 1] : 'dist/ota-agent.espruino.js';
const peaks = {};
for (const records of [10, 40]) {
  const dir = mkdtempSync(join(tmpdir(), 'ota-journal-load-'));
  try {
    copyFileSync(bundle, join(dir, 'ota-agent.js'));
    await run(bin, dir, UPLOAD, 'UPLOADED');
    const result = JSON.parse(await run(bin, dir, PROBE(records), 'JP'));
    if (result.error || result.len !== 150) throw new Error(`journal load failed: ${JSON.stringify(result)}`);
    peaks[records] = result.peakDelta;
    console.log(`  ${String(records).padStart(2)} records: peak ${result.peakDelta} blocks above the baseline (${result.reads} flash reads)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(JSON.stringify({ peakBlocks10: peaks[10], peakBlocks40: peaks[40], ratio40over10: Number((peaks[40] / peaks[10]).toFixed(2)) }));
