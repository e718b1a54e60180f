// The self-updating Espruino application (upload as "app.a.js"; the loader in .bootcde requires it). Version 1.
// It confirms itself once it has run a while (its own health check), then polls the device API; a verified update
// is written to the other bank (app.b.js), the boot pointer flips to it as a trial, and load() restarts into it.
// If the new version never confirms, the loader reverts to this file after three boots.
var VERSION = "1.0.0";
var CONFIG = {
  baseUrl: "https://device.example.com",  // plain http:// works too: trust comes from the HMAC, not from TLS
  projectKey: "YOUR_PROJECT_KEY",
  serial: getSerial(),
  hardwareVersion: "espruino-wifi",
  // The per-device HMAC-SHA256 key bundles are MACed with (ota keys generate --type hmac -o device.key): 64 hex digits.
  hmacKey: "REPLACE_WITH_64_HEX_DIGITS"
};

var ota = require("ota-agent");
// initialVersion: what this file is while no update has written the boot pointer yet (it is reported as current_version).
var target = new ota.StorageFileTarget({ softwareType: "espruino-app", banks: ["app.a.js", "app.b.js"], capacity: 16384,
  initialVersion: VERSION });
// The agent's journal: two 8 KiB Storage files (otaj0, otaj1) used as flash sectors (its records reach about 4 KB).
var journal = new ota.Journal(new ota.StorageFlash({ prefix: "otaj", sectorSize: 8192, sectors: 2 }));

var agent = ota.createEspruinoAgent({
  api: { baseUrl: CONFIG.baseUrl, projectKey: CONFIG.projectKey },
  device: { serial: CONFIG.serial, hardwareVersion: CONFIG.hardwareVersion },
  softwareType: "espruino-app",
  targets: [target],
  journal: journal,
  hmacKey: ota.fromHex(CONFIG.hmacKey),
  // The application's verdict on a trial boot: here, "it started and the network came up".
  selfTest: function () { return Promise.resolve(true); },
  onEvent: function (e) {
    if (e.type === "warning") print("ota WARNING " + e.code + ": " + e.message);
    else if (e.type !== "state" && e.type !== "download-progress") print("ota " + e.type + (e.code ? " " + e.code : "") + (e.version ? " " + e.version : ""));
  }
});

function main() {
  print("app " + VERSION + " running; " + ota.memoryReport().free + " blocks free");
  // The default policy polls hourly after a jittered first check; start() also resumes an interrupted download.
  agent.start();
}

// Connect WiFi first on boards that need it (ESP32/ESP8266: require("Wifi"); Espruino WiFi: require("EspruinoWiFi")).
main();
