// A complete update by the agent inside a real Espruino interpreter, against the mock backend over plain HTTP
// (Espruino's TLS authenticates nothing anyway; the bundle's HMAC does). Boot 1 checks, downloads, verifies, stages
// and asks for a reboot; boot 2 runs the example's .bootcde loader (which starts the trial), then the agent confirms.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend } from '../../src/backend/index.js';
import { createBundle } from '../../src/tools/bundle.js';
import { hmacSigner } from '../../src/tools/keys.js';

/** What the two boots printed. */
export interface EspruinoAgentRun {
  boot1: string[];
  boot2: string[];
  appImage: Uint8Array;
  /**
   * Free variable blocks per boot: after loading the agent, the lowest seen at an agent event (after a GC), and that
   * lowest per phase (the phase a `state` event entered; events only, so a peak inside a step can be lower still).
   */
  free: { afterLoad: number; lowest: number; byPhase: { [phase: string]: number } }[];
}

function freeOf(out: string): { afterLoad: number; lowest: number; byPhase: { [phase: string]: number } } {
  const match = /FREE (\d+) (\d+)( \{.*\})?/.exec(out);
  return match === null ? { afterLoad: -1, lowest: -1, byPhase: {} }
    : { afterLoad: Number(match[1]), lowest: Number(match[2]), byPhase: match[3] ? JSON.parse(match[3]) : {} };
}

function run(bin: string, dir: string, file: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(bin, [file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const stop = (): void => { child.kill('SIGKILL'); };
    child.stdout.on('data', (d) => { out += d; if (/\b(DONE|UP)\b/.test(out)) stop(); });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(stop, timeoutMs);
    child.on('exit', () => { clearTimeout(timer); resolve(out); });
  });
}

/** The agent's boot script; `selfTest` is the JavaScript expression the application's self-test returns. */
function agentScript(baseUrl: string, projectKey: string, key: Uint8Array, selfTest: string): string {
  return `
var ota = require("ota-agent");
// Free blocks after a garbage collection at each event: what the update leaves at the points it reports.
var loadFree = process.memory().free, lowFree = loadFree, phase = "start", phases = {};
function low(e) { var f = process.memory().free; if (f < lowFree) lowFree = f; if (e.type === "state") phase = e.phase;
  if (!(phases[phase] <= f)) phases[phase] = f; }
var target = new ota.StorageFileTarget({ softwareType: "app", banks: ["app.a.js", "app.b.js"], capacity: 16384 });
var journal = new ota.Journal(new ota.StorageFlash({ prefix: "otaj", sectorSize: 8192, sectors: 2 }));
var agent = ota.createEspruinoAgent({
  api: { baseUrl: "${baseUrl}", projectKey: "${projectKey}" },
  device: { serial: "ESPRUINO-1", hardwareVersion: "evt" }, softwareType: "app", targets: [target], journal: journal,
  hmacKey: ota.fromHex("${Buffer.from(key).toString('hex')}"),
  policy: { backoffBaseMs: 10, backoffMaxMs: 50, progressIntervalMs: 0 },
  selfTest: function () { return ${selfTest}; },
  onEvent: function (e) { low(e); if (e.type !== "state" && e.type !== "download-progress") print("EVENT " + e.type + (e.code ? " " + e.code : "")); },
  reboot: function () { print("EVENT reboot-requested"); return Promise.resolve(); }
});
agent.state().then(function (s) { print("JOURNAL " + s.phase); return agent.runOnce(); })
  .then(function (r) { print("CYCLE " + r.outcome + (r.error ? " " + r.error.code : "")); return target.status(); })
  .then(function (s) { print("STATUS " + JSON.stringify(s)); print("FREE " + loadFree + " " + lowFree + " " + JSON.stringify(phases)); print("DONE"); },
    function (e) { print("FAIL " + (e && e.code)); print("FREE " + loadFree + " " + lowFree); print("DONE"); });
`;
}

/** The upload script: the agent as Storage file "ota-agent", the first application as app.a.js, then `extra`. */
function uploadScript(extra: string): string {
  return 'var fs=require("fs"),S=require("Storage");var size=fs.statSync("ota-agent.js").size,' +
    'f=E.openFile("ota-agent.js","r"),at=0;while(at<size){var c=f.read(512);S.write("ota-agent",c,at,size);at+=c.length;}' +
    'f.close();S.write("app.a.js","print(\\"APP 0.9.0 running\\")");' + extra + 'print("UP");';
}

const escape = String.fromCharCode(27) + '[J';
function keep(out: string): string[] {
  return out.split('\n').map((l) => l.split(escape).join('').replace(/\r|>/g, '').trim()).filter((l) => /^(EVENT|CYCLE|STATUS|FAIL|APP|JOURNAL|ota boot)/.test(l));
}

/**
 * A trial the application's self-test rejects, on a device whose boot pointer is left from an earlier install (it
 * names app.b.js, which is gone): boot 1 runs app.a.js and stages 1.0.0 into app.b.js, boot 2 runs the trial, whose
 * self-test can never answer (so fails), and boot 3 runs app.a.js again. Each boot runs examples/espruino/boot.js first, as .bootcde would.
 */
export async function runRevertOnEspruino(bin: string, bundlePath: string): Promise<string[][]> {
  const key = new Uint8Array(32).fill(0x5c);
  const backend = await startBackend({ http: true });
  const dir = mkdtempSync(join(tmpdir(), 'ota-espruino-revert-'));
  try {
    const bundle = createBundle({ sequence: 1, releaseVersion: '1.0.0', hardwareVersions: ['evt'],
      parts: [{ softwareType: 'app', version: '1.0.0', data: new Uint8Array(Buffer.from('print("APP 1.0.0 running");\n')) }] }, hmacSigner(key));
    await backend.admin.uploadPayload(bundle, { hardwareVersion: 'evt', softwareType: 'app', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default' });
    copyFileSync(bundlePath, join(dir, 'ota-agent.js'));
    const leftover = JSON.stringify({ seq: 7, active: 'app.b.js', version: '9.9.9', trial: false, attempts: 0, maxAttempts: 3,
      fallback: null, fallbackVersion: null, staged: null, stagedVersion: null });
    writeFileSync(join(dir, 'up.js'), uploadScript('S.writeJSON("ota1.json",' + leftover + ');'));
    await run(bin, dir, 'up.js', 60000);
    const loader = readFileSync('examples/espruino/boot.js', 'utf8');
    writeFileSync(join(dir, 'boot.js'), loader + '\n' + agentScript(backend.baseUrl, backend.projectKey, key,
      // A promise that can never answer: on Espruino 2v29 one whose executor keeps no resolve function has no \`then\`.
      'new Promise(function () { print("SELFTEST pending"); })'));
    const boots: string[][] = [];
    for (let i = 0; i < 3; i++) boots.push(keep(await run(bin, dir, 'boot.js', 120000)));
    return boots;
  } finally {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the two boots with `bundlePath` as Storage file "ota-agent"; fits an Espruino with 8,190 variables (Espruino WiFi). */
export async function runAgentOnEspruino(bin: string, bundlePath: string): Promise<EspruinoAgentRun> {
  const key = new Uint8Array(32).fill(0x3c);
  const app = new Uint8Array(Buffer.from('print("APP 1.0.0 running");\n' + '// padding '.repeat(300)));
  const backend = await startBackend({ http: true });
  const dir = mkdtempSync(join(tmpdir(), 'ota-espruino-agent-'));
  try {
    const bundle = createBundle({ sequence: 1, releaseVersion: '1.0.0', hardwareVersions: ['evt'],
      parts: [{ softwareType: 'app', version: '1.0.0', data: app }] }, hmacSigner(key));
    await backend.admin.uploadPayload(bundle, { hardwareVersion: 'evt', softwareType: 'app', softwareVersion: '1.0.0' });
    backend.admin.deploy({ releaseVersion: '1.0.0', cohort: 'default' });
    copyFileSync(bundlePath, join(dir, 'ota-agent.js'));
    writeFileSync(join(dir, 'up.js'), uploadScript(''));
    await run(bin, dir, 'up.js', 60000);
    // A plain boolean, as an application may well answer.
    writeFileSync(join(dir, 'boot1.js'), agentScript(backend.baseUrl, backend.projectKey, key, 'true'));
    const boot1 = await run(bin, dir, 'boot1.js', 120000);
    // Boot 2: the example's loader first (as .bootcde would run it), then the agent continues the trial.
    const loader = readFileSync('examples/espruino/boot.js', 'utf8');
    writeFileSync(join(dir, 'boot2.js'), loader + '\n' + agentScript(backend.baseUrl, backend.projectKey, key, 'true'));
    const boot2 = await run(bin, dir, 'boot2.js', 120000);
    const readBack = join(dir, 'read.js');
    // In 64-byte pieces: the whole file as one hex string (or an array of its characters) does not fit 8,190 variables.
    writeFileSync(readBack, 'var S=require("Storage"),n=S.read("app.b.js").length;for(var at=0;at<n;at+=64){var c=S.read("app.b.js",at,64),h="";' +
      'for(var i=0;i<c.length;i++)h+=(256+c.charCodeAt(i)).toString(16).substr(1);print("HEX "+h);}print("DONE");');
    const hex = (await run(bin, dir, 'read.js', 60000)).split('\n').filter((l) => l.includes('HEX ')).map((l) => l.slice(l.indexOf('HEX ') + 4).trim()).join('');
    const appImage = new Uint8Array(Buffer.from(hex, 'hex'));
    return { boot1: keep(boot1), boot2: keep(boot2), appImage, free: [freeOf(boot1), freeOf(boot2)] };
  } finally {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
