/*
 * Sans-IO glue between mbedTLS 3.6 and JavaScript (src/node/mbedtls/session.ts).
 *
 * The module never touches a socket or a clock of its own: the host feeds received ciphertext into a
 * session's input buffer, takes ciphertext to send out of its output buffer, and supplies random bytes and
 * the time through three imports. One wasm instance can hold many sessions one after another; every
 * allocation mbedTLS makes is counted so tests can prove a closed session leaves nothing behind.
 */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS /* the received/sent alert and the SNI switch need two private fields */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/x509_crt.h"
#include "psa/crypto.h"

#define EXPORT(name) __attribute__((export_name(#name)))
#define IMPORT(name) __attribute__((import_module("ota"), import_name(#name)))

/* ---- host imports --------------------------------------------------------------------------------- */

/** Fills buf with len cryptographically secure random bytes. */
IMPORT(random) void host_random(unsigned char *buf, size_t len);
/** Seconds since 1970 by the host's (possibly injected) clock. */
IMPORT(now_s) double host_now_s(void);
/** Milliseconds by the host's clock (TLS 1.3 ticket ages; monotonic enough for mbedTLS). */
IMPORT(now_ms) double host_now_ms(void);

/* ---- platform hooks named in mbedtls_config.h ------------------------------------------------------- */

unsigned int ota_in_content_len = 16384;

static size_t heap_bytes;
static size_t heap_blocks;

/* Each block carries its size in front so frees can be counted; 16 bytes keeps the payload aligned. */
#define HEAP_HEADER 16

void *ota_calloc(size_t count, size_t size) {
    if (size != 0 && count > (SIZE_MAX - HEAP_HEADER) / size) {
        return NULL;
    }
    size_t total = count * size;
    unsigned char *block = calloc(1, total + HEAP_HEADER);
    if (block == NULL) {
        return NULL;
    }
    memcpy(block, &total, sizeof(total));
    heap_bytes += total;
    heap_blocks += 1;
    return block + HEAP_HEADER;
}

void ota_free_counted(void *ptr) {
    if (ptr == NULL) {
        return;
    }
    unsigned char *block = (unsigned char *) ptr - HEAP_HEADER;
    size_t total;
    memcpy(&total, block, sizeof(total));
    heap_bytes -= total;
    heap_blocks -= 1;
    free(block);
}

long long ota_platform_time(long long *out) {
    long long now = (long long) host_now_s();
    if (out != NULL) {
        *out = now;
    }
    return now;
}

mbedtls_ms_time_t mbedtls_ms_time(void) {
    return (mbedtls_ms_time_t) host_now_ms();
}

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen) {
    (void) data;
    host_random(output, len);
    *olen = len;
    return 0;
}

/* ---- sessions ------------------------------------------------------------------------------------- */

#define MAX_SUITES 32
#define MAX_GROUPS 8
#define IN_CAP (16384 + 1024)
#define OUT_CAP (16384 + 1024)
#define IO_CAP 16384

typedef struct {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    unsigned int in_content_len;
    int sni;
    int suite_count;
    int suites[MAX_SUITES + 1];
    int group_count;
    uint16_t groups[MAX_GROUPS + 1];
    const char *alpn[2];
    int alert_received;
    int alert_sent;
    size_t in_start;
    size_t in_end;
    int in_eof;
    size_t out_len;
    unsigned char in[IN_CAP];
    unsigned char out[OUT_CAP];
    unsigned char io[IO_CAP];
} session;

static int psa_ready;

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
    session *s = ctx;
    size_t space = OUT_CAP - s->out_len;
    if (space == 0) {
        return MBEDTLS_ERR_SSL_WANT_WRITE; /* the host has not drained the ciphertext yet: backpressure */
    }
    size_t n = len < space ? len : space;
    memcpy(s->out + s->out_len, buf, n);
    s->out_len += n;
    return (int) n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
    session *s = ctx;
    size_t avail = s->in_end - s->in_start;
    if (avail == 0) {
        return s->in_eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    }
    size_t n = len < avail ? len : avail;
    memcpy(buf, s->in + s->in_start, n);
    s->in_start += n;
    if (s->in_start == s->in_end) {
        s->in_start = 0;
        s->in_end = 0;
    }
    return (int) n;
}

/*
 * The alert mbedTLS sends on its own initiative. Most fatal alerts go through mbedtls_ssl_pend_fatal_alert (seen in
 * leave() via alert_type), but certificate verification and a few others call mbedtls_ssl_send_alert_message
 * directly; the link wraps those calls (-Wl,--wrap) so the glue sees them too. The session is the first member of
 * `session`, so the context pointer is the session pointer.
 */
int __real_mbedtls_ssl_send_alert_message(mbedtls_ssl_context *ssl, unsigned char level, unsigned char message);

int __wrap_mbedtls_ssl_send_alert_message(mbedtls_ssl_context *ssl, unsigned char level, unsigned char message) {
    if (ssl != NULL && level == MBEDTLS_SSL_ALERT_LEVEL_FATAL) {
        ((session *) (void *) ssl)->alert_sent = message;
    }
    return __real_mbedtls_ssl_send_alert_message(ssl, level, message);
}

/* Every entry point selects the session's record buffer size first (see mbedtls_config.h). */
static void enter(session *s) {
    ota_in_content_len = s->in_content_len;
    if (!s->ssl.send_alert) {
        s->ssl.alert_type = 0;
    }
}

/* Notes the alert a failed call received from the peer or queued for it. */
static int leave(session *s, int ret) {
    if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && s->ssl.in_msg != NULL) {
        s->alert_received = s->ssl.in_msg[1];
    }
    if (ret < 0 && ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE &&
        s->ssl.alert_type != 0) {
        s->alert_sent = s->ssl.alert_type;
    }
    return ret;
}

/** Allocates host-visible scratch memory (strings, certificates). */
EXPORT(ota_alloc) void *ota_alloc(size_t size) {
    return ota_calloc(1, size);
}

/** Frees memory from ota_alloc. */
EXPORT(ota_dealloc) void ota_dealloc(void *ptr) {
    ota_free_counted(ptr);
}

/** Bytes currently allocated through the counted allocator. */
EXPORT(ota_heap_bytes) size_t ota_heap_bytes(void) {
    return heap_bytes;
}

/** Blocks currently allocated through the counted allocator. */
EXPORT(ota_heap_blocks) size_t ota_heap_blocks(void) {
    return heap_blocks;
}

/** The IANA id of a ciphersuite by its mbedTLS name ("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"), or 0. */
EXPORT(ota_ciphersuite_id) int ota_ciphersuite_id(const char *name) {
    return mbedtls_ssl_get_ciphersuite_id(name);
}

/** The mbedTLS name of a ciphersuite id, or "unknown". */
EXPORT(ota_ciphersuite_name_of) const char *ota_ciphersuite_name_of(int id) {
    return mbedtls_ssl_get_ciphersuite_name(id);
}

/** A new, unconfigured session, or NULL when memory is exhausted. */
EXPORT(ota_session_new) session *ota_session_new(void) {
    if (!psa_ready) {
        if (psa_crypto_init() != PSA_SUCCESS) {
            return NULL;
        }
        psa_ready = 1;
    }
    session *s = ota_calloc(1, sizeof(session));
    if (s == NULL) {
        return NULL;
    }
    mbedtls_ssl_init(&s->ssl);
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_x509_crt_init(&s->ca);
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    s->in_content_len = 16384;
    s->alert_received = -1;
    s->alert_sent = -1;
    return s;
}

/** Adds one trusted root (DER) to a session before ota_setup. */
EXPORT(ota_add_ca) int ota_add_ca(session *s, const unsigned char *der, size_t len) {
    return mbedtls_x509_crt_parse_der(&s->ca, der, len);
}

/** Restricts the offered ciphersuites (call once per suite, in preference order, before ota_setup). */
EXPORT(ota_add_ciphersuite) int ota_add_ciphersuite(session *s, int id) {
    if (s->suite_count >= MAX_SUITES || mbedtls_ssl_ciphersuite_from_id(id) == NULL) {
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    }
    s->suites[s->suite_count++] = id;
    s->suites[s->suite_count] = 0;
    return 0;
}

/** Restricts the offered key-exchange groups by TLS id (23 secp256r1, 24 secp384r1, 29 x25519). */
EXPORT(ota_add_group) int ota_add_group(session *s, int id) {
    if (s->group_count >= MAX_GROUPS || id <= 0 || id > 0xffff) {
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    }
    s->groups[s->group_count++] = (uint16_t) id;
    s->groups[s->group_count] = 0;
    return 0;
}

/**
 * Configures the session as a verifying client of `hostname` (never NULL: it is both SNI and the name the
 * certificate must carry). Versions are minor numbers (3 = TLS 1.2, 4 = TLS 1.3); mfl_code is RFC 6066's
 * (0 none, 1..4 = 512..4096); in_content_len is the input record buffer; sni 0 leaves server_name out of the
 * ClientHello while still verifying the name, as a firmware built without MBEDTLS_SSL_SERVER_NAME_INDICATION.
 */
EXPORT(ota_setup) int ota_setup(session *s, const char *hostname, int min_minor, int max_minor, int mfl_code,
                                unsigned int in_content_len, int sni) {
    int ret;
    if (hostname == NULL || hostname[0] == '\0') {
        return MBEDTLS_ERR_SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME;
    }
    if (in_content_len < 512 || in_content_len > 16384) {
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    }
    s->in_content_len = in_content_len;
    s->sni = sni;
    enter(s);
    ret = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
                                (const unsigned char *) "ota-agent", 9);
    if (ret != 0) {
        return ret;
    }
    ret = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        return ret;
    }
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
    mbedtls_ssl_conf_min_tls_version(&s->conf, (mbedtls_ssl_protocol_version) (0x0300 | min_minor));
    mbedtls_ssl_conf_max_tls_version(&s->conf, (mbedtls_ssl_protocol_version) (0x0300 | max_minor));
    if (s->suite_count > 0) {
        mbedtls_ssl_conf_ciphersuites(&s->conf, s->suites);
    }
    if (s->group_count > 0) {
        mbedtls_ssl_conf_groups(&s->conf, s->groups);
    }
    ret = mbedtls_ssl_conf_max_frag_len(&s->conf, (unsigned char) mfl_code);
    if (ret != 0) {
        return ret;
    }
    s->alpn[0] = "http/1.1";
    s->alpn[1] = NULL;
    ret = mbedtls_ssl_conf_alpn_protocols(&s->conf, s->alpn);
    if (ret != 0) {
        return ret;
    }
    ret = mbedtls_ssl_setup(&s->ssl, &s->conf);
    if (ret != 0) {
        return ret;
    }
    ret = mbedtls_ssl_set_hostname(&s->ssl, hostname);
    if (ret != 0) {
        return ret;
    }
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    return 0;
}

/** Where the host writes received ciphertext; compacts the buffer first. */
EXPORT(ota_in_ptr) unsigned char *ota_in_ptr(session *s) {
    if (s->in_start > 0) {
        memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
        s->in_end -= s->in_start;
        s->in_start = 0;
    }
    return s->in + s->in_end;
}

/** How many bytes may be written at ota_in_ptr. */
EXPORT(ota_in_space) size_t ota_in_space(session *s) {
    return IN_CAP - (s->in_end - s->in_start);
}

/** Commits n bytes the host wrote at ota_in_ptr. */
EXPORT(ota_in_commit) void ota_in_commit(session *s, size_t n) {
    s->in_end += n;
}

/** Marks the end of the peer's byte stream (TCP FIN). */
EXPORT(ota_in_eof) void ota_in_eof(session *s) {
    s->in_eof = 1;
}

/** Ciphertext waiting to be sent. */
EXPORT(ota_out_ptr) unsigned char *ota_out_ptr(session *s) {
    return s->out;
}

/** Length of the ciphertext at ota_out_ptr. */
EXPORT(ota_out_len) size_t ota_out_len(session *s) {
    return s->out_len;
}

/** Drops n sent bytes from the front of the output buffer. */
EXPORT(ota_out_consume) void ota_out_consume(session *s, size_t n) {
    memmove(s->out, s->out + n, s->out_len - n);
    s->out_len -= n;
}

/** The plaintext staging buffer for ota_read and ota_write. */
EXPORT(ota_io_ptr) unsigned char *ota_io_ptr(session *s) {
    return s->io;
}

/** Capacity of the plaintext staging buffer. */
EXPORT(ota_io_cap) size_t ota_io_cap(void) {
    return IO_CAP;
}

/**
 * Runs the handshake as far as the buffered input allows: 0 when done, WANT_READ/WANT_WRITE to be called
 * again, or an mbedTLS error. Steps one message at a time so SNI can be left out of (every) ClientHello.
 */
EXPORT(ota_handshake) int ota_handshake(session *s) {
    int ret = 0;
    enter(s);
    while (s->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        int hide = !s->sni && (s->ssl.state == MBEDTLS_SSL_HELLO_REQUEST || s->ssl.state == MBEDTLS_SSL_CLIENT_HELLO);
        char *hostname = s->ssl.hostname;
        if (hide) {
            s->ssl.hostname = NULL;
        }
        ret = mbedtls_ssl_handshake_step(&s->ssl);
        if (hide) {
            s->ssl.hostname = hostname;
        }
        if (ret != 0) {
            break;
        }
    }
    return leave(s, ret);
}

/** 1 once the handshake is over. */
EXPORT(ota_handshake_over) int ota_handshake_over(session *s) {
    return s->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER;
}

/**
 * Decrypts up to len (1..IO_CAP) bytes into the staging buffer: count, 0 at close_notify, CONN_EOF when the
 * stream ended without close_notify (a truncation: mbedtls_ssl_read reports that as 0 too), or an error.
 */
EXPORT(ota_read) int ota_read(session *s, size_t len) {
    enter(s);
    if (len == 0) {
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    }
    int ret = mbedtls_ssl_read(&s->ssl, s->io, len < IO_CAP ? len : IO_CAP);
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        return 0;
    }
    if (ret == 0) {
        return MBEDTLS_ERR_SSL_CONN_EOF;
    }
    return leave(s, ret);
}

/** Plaintext bytes already decrypted and waiting inside mbedTLS. */
EXPORT(ota_bytes_avail) size_t ota_bytes_avail(session *s) {
    return mbedtls_ssl_get_bytes_avail(&s->ssl);
}

/** Encrypts up to len bytes from the staging buffer: count consumed, or WANT_WRITE (retry same data), or error. */
EXPORT(ota_write) int ota_write(session *s, size_t len) {
    enter(s);
    return leave(s, mbedtls_ssl_write(&s->ssl, s->io, len < IO_CAP ? len : IO_CAP));
}

/** Queues close_notify. */
EXPORT(ota_close_notify) int ota_close_notify(session *s) {
    enter(s);
    return leave(s, mbedtls_ssl_close_notify(&s->ssl));
}

/** Frees a session and everything it owns. */
EXPORT(ota_session_free) void ota_session_free(session *s) {
    if (s == NULL) {
        return;
    }
    enter(s);
    mbedtls_ssl_free(&s->ssl);
    mbedtls_ssl_config_free(&s->conf);
    mbedtls_x509_crt_free(&s->ca);
    mbedtls_ctr_drbg_free(&s->drbg);
    mbedtls_entropy_free(&s->entropy);
    ota_free_counted(s);
}

/** The certificate verification flags (MBEDTLS_X509_BADCERT_*), unsigned. */
EXPORT(ota_verify_result) uint32_t ota_verify_result(session *s) {
    return mbedtls_ssl_get_verify_result(&s->ssl);
}

/** "TLSv1.2" or "TLSv1.3" once the handshake is done. */
EXPORT(ota_version) const char *ota_version(session *s) {
    return mbedtls_ssl_get_version(&s->ssl);
}

/** The negotiated ciphersuite's mbedTLS name. */
EXPORT(ota_ciphersuite) const char *ota_ciphersuite(session *s) {
    return mbedtls_ssl_get_ciphersuite(&s->ssl);
}

/** The negotiated ALPN protocol, or NULL. */
EXPORT(ota_alpn) const char *ota_alpn(session *s) {
    return mbedtls_ssl_get_alpn_protocol(&s->ssl);
}

/** The fatal alert received from the peer, or -1. */
EXPORT(ota_alert_received) int ota_alert_received(session *s) {
    return s->alert_received;
}

/** The fatal alert this side sent, or -1. */
EXPORT(ota_alert_sent) int ota_alert_sent(session *s) {
    return s->alert_sent;
}

/** Largest record payload this session accepts (the buffer size or the negotiated fragment length). */
EXPORT(ota_max_in_record) int ota_max_in_record(session *s) {
    enter(s);
    return mbedtls_ssl_get_max_in_record_payload(&s->ssl);
}

/* The chain the server sent: the finished session's, or during (and after a failed) handshake the one being
 * negotiated, so a verification error can name the certificates involved. */
static const mbedtls_x509_crt *peer_cert_at(session *s, int index) {
    const mbedtls_ssl_session *sess = s->ssl.session != NULL ? s->ssl.session : s->ssl.session_negotiate;
    const mbedtls_x509_crt *crt = sess != NULL ? sess->peer_cert : NULL;
    for (int i = 0; crt != NULL && i < index; i++) {
        crt = crt->next;
    }
    return crt != NULL && crt->raw.p != NULL ? crt : NULL;
}

/** Certificate `index` (0 = leaf) of the chain the server sent (DER), or NULL. */
EXPORT(ota_peer_cert) const unsigned char *ota_peer_cert(session *s, int index) {
    const mbedtls_x509_crt *crt = peer_cert_at(s, index);
    return crt != NULL ? crt->raw.p : NULL;
}

/** Length of ota_peer_cert(s, index). */
EXPORT(ota_peer_cert_len) size_t ota_peer_cert_len(session *s, int index) {
    const mbedtls_x509_crt *crt = peer_cert_at(s, index);
    return crt != NULL ? crt->raw.len : 0;
}
