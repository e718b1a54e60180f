// Guest-side glue evaluated in the QuickJS VM after a bundle: the bundle's ports (Transport, Flash, Clock) built over
// the host bridge, and __callJson, which runs a guest function and hands its result back as a JSON string.
// Written in ES5 plus Promise so it runs beside the Espruino ES5 file unchanged.

/** The glue script. */
export const GUEST_PORTS = String.raw`
function __call(op, args, bytes) {
  return __host(op, JSON.stringify(args === undefined ? null : args), bytes).then(function (value) {
    return typeof value === 'string' ? JSON.parse(value) : value;
  }, function (error) {
    throw typeof error === 'string' ? JSON.parse(error) : error;
  });
}
function __copyOut(bytes) {
  var copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}
function __callJson(name, json) {
  return Promise.resolve(null).then(function () {
    return guest[name](JSON.parse(json));
  }).then(function (value) {
    return JSON.stringify(value === undefined ? null : value);
  }, function (error) {
    var shaped = error && typeof error === 'object' && typeof error.code === 'string'
      ? { code: error.code, message: error.message, retryable: error.retryable, details: error.details }
      : { code: 'guest-throw', message: String(error && error.message ? error.message : error) + (error && error.stack ? ' ' + error.stack : '') };
    throw JSON.stringify(shaped);
  });
}
var guest = {};
var hostTransport = {
  connect: function (options) {
    return __call('connect', { host: options.host, port: options.port, tls: options.tls, servername: options.servername, timeoutMs: options.timeoutMs })
      .then(function (id) {
        return {
          info: { protocol: 'host-bridge' },
          write: function (data) { return __call('write', { id: id }, __copyOut(data)).then(function () {}); },
          read: function () {
            return __call('read', { id: id }).then(function (chunk) { return chunk === null ? null : new Uint8Array(chunk); });
          },
          close: function () { __call('close', { id: id }); }
        };
      });
  }
};
function hostFlash(name) {
  var geometry = JSON.parse(__hostSync('flashGeometry', JSON.stringify({ name: name })));
  return {
    geometry: geometry,
    read: function (offset, length) {
      return __call('flashRead', { name: name, offset: offset, length: length }).then(function (b) { return new Uint8Array(b); });
    },
    write: function (offset, data) { return __call('flashWrite', { name: name, offset: offset }, __copyOut(data)).then(function () {}); },
    erase: function (offset, length) { return __call('flashErase', { name: name, offset: offset, length: length }).then(function () {}); }
  };
}
var hostClock = {
  now: function () { return JSON.parse(__hostSync('now', '{}')); },
  sleep: function (ms) { return __call('sleep', { ms: ms }).then(function () {}); }
};
function hostEvent(event) { __hostSync('event', JSON.stringify(event)); }
function hex(bytes) {
  var s = '';
  for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return s;
}
function unhex(text) {
  var out = new Uint8Array(text.length / 2);
  for (var i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}
`;
