// Espruino's TLS (libs/network/network.c) hard-codes MBEDTLS_SSL_VERIFY_NONE and sends no SNI: HTTPS there keeps
// passive eavesdroppers out but authenticates nobody. Devices learn it at start-up, not from a silent log line.

/** An event an Espruino adapter reports to the application. */
export interface EspruinoEvent {
  type: 'warning';
  code: string;
  message: string;
}

/** The start-up warning about Espruino's unauthenticated TLS. */
export const TLS_UNAUTHENTICATED_WARNING: EspruinoEvent = {
  type: 'warning',
  code: 'espruino-tls-unauthenticated',
  message: 'Espruino TLS checks no certificate and sends no SNI: anyone on the path can pose as the server. Only signed ' +
    'bundles (HMAC-SHA256 manifests) are trusted: keep hmacKey set, allowUnsigned off.',
};
