// Guest functions that drive the bundle's HTTP parser and bundle unpacker on hex-encoded inputs and return plain
// JSON. The same source runs in the QuickJS VMs (over the built bundles) and in Node (over the TypeScript modules),
// so a property test compares the two outcome for outcome. ES5 plus Promise.

/** Defines guest.parseResponse and guest.unpackBundle; expects OtaAgent, hex, unhex and guest in scope. */
export const GUEST_DRIVERS = String.raw`
guest.parseResponse = function (input) {
  var A = OtaAgent;
  var parser = new A.ResponseParser({ maxHeadBytes: input.maxHeadBytes, maxHeaders: input.maxHeaders }, false);
  var out = { status: null, headers: null, body: '', trailers: null, done: false, error: null };
  try {
    for (var c = 0; c < input.chunks.length && !out.done; c++) {
      var data = unhex(input.chunks[c]);
      var pos = 0;
      while (pos < data.length && !out.done) {
        pos = parser.execute(data, pos, data.length);
        if (parser.event === A.EVENT_HEAD) {
          out.status = parser.head.status;
          out.headers = parser.head.headers;
        } else if (parser.event === A.EVENT_BODY) {
          out.body += hex(data.subarray(parser.bodyStart, parser.bodyEnd));
        } else if (parser.event === A.EVENT_DONE) {
          out.done = true;
        } else if (parser.event !== A.EVENT_NEED_MORE && parser.event !== 0) {
          throw { code: 'driver-unknown-event', message: String(parser.event), retryable: false };
        } else if (pos < data.length) {
          throw { code: 'driver-stalled', message: 'NEED_MORE before the end of the chunk', retryable: false };
        }
      }
    }
    if (!out.done && input.eof) {
      parser.finish();
      out.done = parser.done();
    }
    if (out.done) out.trailers = parser.trailers;
  } catch (error) {
    out.error = error && typeof error.code === 'string' ? error.code : 'non-ota-throw:' + String(error);
  }
  return out;
};

function guestTarget(softwareType, capacity, hashes) {
  var data = new Uint8Array(capacity);
  var staged = null;
  return {
    softwareType: softwareType,
    bytes: function () { return staged === null ? null : hex(data.subarray(0, staged.size)); },
    capacity: function () { return capacity; },
    status: function () { return Promise.resolve({ softwareType: softwareType, runningVersion: '1.0.0', trial: false }); },
    begin: function (part, resumeAt) {
      var offset = resumeAt;
      staged = null;
      return Promise.resolve({
        write: function (chunk) {
          data.set(chunk, offset);
          offset += chunk.length;
          return Promise.resolve();
        },
        durableOffset: function () { return offset; },
        finish: function () {
          var view = data.subarray(0, part.size);
          if (offset !== part.size) return Promise.reject(OtaAgent.otaError('image-incomplete', 'short', true));
          if (part.crc32 !== undefined && OtaAgent.crc32Update(0, view, 0, view.length) !== part.crc32) {
            return Promise.reject(OtaAgent.otaError('image-crc-mismatch', 'crc', true));
          }
          if (part.sha256 !== undefined) {
            var h = hashes.sha256();
            h.update(view);
            if (hex(h.digest()) !== hex(part.sha256)) return Promise.reject(OtaAgent.otaError('image-digest-mismatch', 'sha', true));
          }
          staged = part;
          return Promise.resolve();
        }
      });
    },
    activate: function () { return Promise.resolve(); },
    confirm: function () { return Promise.resolve(); }
  };
}

guest.unpackBundle = function (input) {
  var hashes = guestHashes();
  var targets = [];
  for (var i = 0; i < input.targets.length; i++) targets.push(guestTarget(input.targets[i].softwareType, input.targets[i].capacity, hashes));
  var verifiers = [OtaAgent.hmacVerifier(hashes, unhex(input.hmacKey), input.keyId === null ? null : unhex(input.keyId))];
  var unpacker = new OtaAgent.BundleUnpacker({
    device: { hardwareVersion: input.hardwareVersion, targets: targets, installedSequence: input.installedSequence },
    trust: { verifiers: verifiers, allowUnsigned: false },
    hashes: hashes
  });
  var chunks = input.chunks;
  function next(i) {
    if (i >= chunks.length) return unpacker.end();
    return unpacker.push(unhex(chunks[i])).then(function () { return next(i + 1); });
  }
  return next(0).then(function (result) {
    var parts = [];
    for (var p = 0; p < result.parts.length; p++) {
      parts.push({ softwareType: result.parts[p].softwareType, version: result.parts[p].version, order: result.parts[p].order,
        bytes: result.parts[p].target.bytes() });
    }
    return { error: null, sequence: result.sequence, headerDigest: result.headerDigest, parts: parts };
  }, function (error) {
    return { error: error && typeof error.code === 'string' ? error.code : 'non-ota-throw:' + String(error), parts: [] };
  });
};
`;
