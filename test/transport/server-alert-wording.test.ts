import { describe, expect, it } from 'vitest';
import { serverAlertError } from '../../src/http/transport-errors.js';

// Both transports classify a fatal alert from the server with serverAlertError. An alert after the handshake used to be
// worded as a refused handshake ("check the name, the TLS versions and the cipher suites"), and was final, when the
// server had in fact accepted this client and given up mid-body.

describe('serverAlertError', () => {
  it('words an alert during the handshake as a refusal of this client, and final', () => {
    const error = serverAlertError(80, 'cdn.example', 443, 'cdn.example');
    expect(error).toMatchObject({ code: 'tls-handshake-refused', retryable: false });
    expect(error.message).toContain('TLS handshake with cdn.example:443 refused by the server with alert 80 (internal_error)');
  });

  it('words an alert after the handshake as the server aborting a working connection, and retryable', () => {
    for (const alert of [80, 40, 20, 51]) {
      const error = serverAlertError(alert, 'cdn.example', 443, 'cdn.example', true);
      expect(error.retryable, String(alert)).toBe(true);
      expect(error.message).toMatch(/^TLS connection to cdn\.example:443 aborted by the server with alert \d+ \(\w+\) after the handshake had succeeded/);
      expect(error.message).not.toContain('handshake with');
      expect(error.details).toMatchObject({ alert, afterHandshake: true });
    }
  });

  it('keeps certificate_required final after the handshake: TLS 1.3 asks for the client certificate then', () => {
    const error = serverAlertError(116, 'cdn.example', 443, 'cdn.example', true);
    expect(error).toMatchObject({ code: 'tls-client-cert-required', retryable: false });
  });
});
