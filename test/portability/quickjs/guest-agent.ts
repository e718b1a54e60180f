// Guest code that runs one complete update with the bundle's agent: HttpClient over the host transport bridge,
// the journal and an A/B image target over host flash (a SimFlash in Node), the host clock. The target is guest
// code itself (the same in the VM and in the Node reference run): slot A runs, slot B is staged, erase before
// write, read-back verification with the bundle's hashes. ES5 plus Promise.

/** Defines guest.runUpdate; expects OtaAgent, guestHashes, hostTransport, hostFlash, hostClock, hex, unhex. */
export const GUEST_AGENT = String.raw`
function flashTarget(flash, softwareType, runningVersion, hashes) {
  var half = flash.geometry.sectors.length / 2;
  var sectorSize = flash.geometry.sectors[0].size;
  var state = { running: 0, runningVersion: runningVersion, trial: false, staged: null, pending: null };
  function base(slot) { return slot * half * sectorSize; }
  var target = {
    softwareType: softwareType,
    state: state,
    capacity: function () { return half * sectorSize; },
    status: function () { return Promise.resolve({ softwareType: softwareType, runningVersion: state.runningVersion, trial: state.trial }); },
    begin: function (part, resumeAt) {
      var slot = 1 - state.running;
      var offset = resumeAt;
      var erasedEnd = Math.ceil(resumeAt / sectorSize) * sectorSize;
      state.staged = null;
      function eraseTo(end) {
        if (erasedEnd >= end) return Promise.resolve();
        return flash.erase(base(slot) + erasedEnd, sectorSize).then(function () { erasedEnd += sectorSize; return eraseTo(end); });
      }
      return Promise.resolve({
        write: function (chunk) {
          var at = offset;
          return eraseTo(at + chunk.length).then(function () { return flash.write(base(slot) + at, chunk); })
            .then(function () { offset = at + chunk.length; });
        },
        // Durable progress in whole 256-byte program pages, as a page-buffered flash writer reports it.
        durableOffset: function () { return offset === part.size ? offset : offset - offset % 256; },
        finish: function () {
          return flash.read(base(slot), part.size).then(function (image) {
            if (offset !== part.size) throw OtaAgent.otaError('image-incomplete', 'short', true);
            var h = hashes.sha256();
            h.update(image);
            if (part.sha256 !== undefined && hex(h.digest()) !== hex(part.sha256)) throw OtaAgent.otaError('image-digest-mismatch', 'sha', true);
            if (part.crc32 !== undefined && OtaAgent.crc32Update(0, image, 0, image.length) !== part.crc32) throw OtaAgent.otaError('image-crc-mismatch', 'crc', true);
            state.staged = { slot: slot, version: part.version, size: part.size };
          });
        }
      });
    },
    activate: function () {
      if (state.staged === null) return Promise.reject(OtaAgent.otaError('image-not-verified', 'nothing staged', false));
      state.pending = state.staged;
      return Promise.resolve();
    },
    confirm: function () { state.trial = false; return Promise.resolve(); },
    reboot: function () {
      if (state.pending !== null) {
        state.running = state.pending.slot;
        state.runningVersion = state.pending.version;
        state.trial = true;
        state.pending = null;
      }
    },
    stagedImage: function () {
      var s = state.staged;
      return s === null ? Promise.resolve(null) : flash.read(base(s.slot), s.size).then(function (b) { return hex(b); });
    }
  };
  return target;
}

guest.runUpdate = function (input) {
  var hashes = guestHashes();
  var events = [];
  var outcomes = [];
  var journal = new OtaAgent.Journal(hostFlash('journal'));
  var target = flashTarget(hostFlash('main'), input.softwareType, input.currentVersion, hashes);
  var client = new OtaAgent.HttpClient({ transport: hostTransport, clock: hostClock, bufferSize: input.bufferSize });
  var trust = { verifiers: [OtaAgent.hmacVerifier(hashes, unhex(input.hmacKey), null)], allowUnsigned: false };
  var agent = null;
  function makeAgent() {
    agent = OtaAgent.createAgent({
      api: { baseUrl: input.baseUrl, projectKey: input.projectKey },
      device: { serial: input.serial, hardwareVersion: input.hardwareVersion },
      softwareType: input.softwareType,
      transport: { http: OtaAgent.apiOverHttp(client), fetcher: OtaAgent.fetcherOverHttp(client) },
      targets: [target],
      journal: journal,
      clock: hostClock,
      random: function () { return 0.5; },
      policy: input.policy,
      onEvent: function (e) {
        if (e.type === 'download-progress' || e.type === 'state') return;
        events.push(e.type === 'error' ? e.type + ':' + e.code : e.type === 'download-resumed' ? e.type + '@' + (e.offset > 0) : e.type);
      },
      selfTest: function () { return Promise.resolve(true); },
      reboot: function () { target.reboot(); outcomes.push('reboot'); makeAgent(); return Promise.resolve(); },
      formats: [OtaAgent.bundleFormat({ trust: trust, hashes: hashes, hardwareVersion: input.hardwareVersion,
        installedSequence: function () { return 0; } })]
    });
  }
  makeAgent();
  function cycle(n) {
    if (n >= input.maxCycles) return Promise.resolve();
    return agent.runOnce().then(function (result) {
      outcomes.push(result.outcome + (result.error ? ':' + result.error.code : ''));
      if (result.outcome === 'confirmed' || result.outcome === 'up-to-date' || result.outcome === 'halted') return undefined;
      return cycle(n + 1);
    });
  }
  return cycle(0).then(function () { return target.stagedImage(); }).then(function (staged) {
    return { events: events, outcomes: outcomes, staged: staged, running: target.state.runningVersion, trial: target.state.trial };
  });
};
`;
