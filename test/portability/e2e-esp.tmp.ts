import { startBackend } from '/work/main/src/backend/index.js';
import { createBundle } from '/work/main/src/tools/bundle.js';
import { hmacSigner } from '/work/main/src/tools/keys.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, copyFileSync, writeFileSync } from 'node:fs';
const key = new Uint8Array(32).fill(0x3c);
const image = Buffer.from('print("hello from app 1.0.0");\n' + '// padding '.repeat(300));
const backend = await startBackend({ http: true });
const bundle = createBundle({ sequence: 1, releaseVersion: '1.0.0', hardwareVersions: ['evt'], parts: [{ softwareType: 'app', version: '1.0.0', data: new Uint8Array(image) }] }, hmacSigner(key));
await backend.admin.uploadPayload(bundle, { hardwareVersion: 'evt', softwareType: 'app', softwareVersion: '1.0.0' });
backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default' });
const dir = mkdtempSync('/tmp/esp-e2e-');
copyFileSync('/tmp/exp/dist/ota-agent.espruino.js', dir + '/ota-agent.js');
writeFileSync(dir + '/up.js', `var fs=require("fs"),S=require("Storage");var size=fs.statSync("ota-agent.js").size,f=E.openFile("ota-agent.js","r"),at=0;while(at<size){var c=f.read(512);S.write("ota-agent",c,at,size);at+=c.length;}f.close();S.write("app.a.js",'print("app 0.9")');print("UP");`);
writeFileSync(dir + '/run.js', `
var ota = require("ota-agent");
print("mem", JSON.stringify(process.memory()));
var target = new ota.StorageFileTarget({ softwareType: "app", banks: ["app.a.js", "app.b.js"], capacity: 16384 });
var journal = new ota.Journal(new ota.StorageFlash({ prefix: "otaj", sectorSize: 4096, sectors: 2 }));
var agent = ota.createEspruinoAgent({
  api: { baseUrl: "${backend.baseUrl}", projectKey: "${backend.projectKey}" },
  device: { serial: "ESP-1", hardwareVersion: "evt" }, softwareType: "app", targets: [target], journal: journal,
  hmacKey: ota.fromHex("${Buffer.from(key).toString('hex')}"),
  policy: { backoffBaseMs: 10, backoffMaxMs: 50, progressIntervalMs: 0 },
  onEvent: function (e) { print("EVENT " + e.type + (e.code ? " " + e.code : "") + (e.message && e.type==='error' ? " " + e.message : "")); },
  reboot: function () { print("REBOOT requested"); return Promise.resolve(); }
});
agent.runOnce().then(function (r) { print("CYCLE " + JSON.stringify(r)); print("mem", JSON.stringify(process.memory())); return target.status(); })
  .then(function (s) { print("STATUS " + JSON.stringify(s)); print("DONE"); }, function (e) { print("FAIL " + JSON.stringify(e)); print("DONE"); });
`);
function run(file: string, ms: number) {
  return new Promise<string>((resolve) => {
    const c = spawn('/work/espruino-build/v8190/bin/espruino', [file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; c.stdout.on('data', (d) => { out += d; if (out.includes('DONE') || out.includes('UP')) { c.kill('SIGKILL'); } }); c.stderr.on('data', (d) => out += d);
    const t = setTimeout(() => c.kill('SIGKILL'), ms); c.on('exit', () => { clearTimeout(t); resolve(out); });
  });
}
console.log((await run('up.js', 30000)).slice(-100));
console.log((await run('run.js', 60000)).split('\n').filter((l) => !/^\s*$|espruino\.com|\||Donate|Open Source|only by sales|2v29/.test(l)).join('\n').slice(-3000));
await backend.close();
