// .bootcde: the tiny loader of the self-updating app. It finds the newest valid boot-pointer record (ota0.json /
// ota1.json, highest seq; a torn write fails to parse and is skipped; one naming a missing file is ignored), counts a boot of an unconfirmed trial and,
// once the trial has had maxAttempts boots without a confirm, reverts to the fallback file. Then it requires the
// active application file. Same record format as src/espruino/boot-pointer.ts. ES5, no hoisting needed.
(function () {
  var S = require("Storage");
  var best = null;
  for (var i = 0; i < 2; i++) {
    var r = S.readJSON("ota" + i + ".json", true);
    if (r && typeof r.seq == "number" && typeof r.active == "string" && (!best || r.seq > best.seq)) best = r;
  }
  // A record naming a file that is not there (left from an earlier install) boots app.a.js, as StorageFileTarget assumes.
  if (best && S.read(best.active) === undefined) best = null;
  if (best && best.trial) {
    if (best.attempts >= best.maxAttempts && best.fallback) {
      best = { seq: best.seq, active: best.fallback, version: best.fallbackVersion, trial: false, attempts: 0,
        maxAttempts: best.maxAttempts, fallback: null, fallbackVersion: null };
    }
    best.seq++;
    if (best.trial) best.attempts++;
    S.writeJSON("ota" + (best.seq % 2) + ".json", best);
  }
  var file = best ? best.active : "app.a.js";
  if (S.read(file) === undefined) print("ota boot: " + file + " is missing; upload app.a.js");
  else require(file);
})();
