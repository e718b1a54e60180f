/*
 * ota-agent's mbedTLS 3.6 configuration for the wasm32-wasi TLS client (mbedtls/glue.c).
 *
 * Written from scratch to look like a device build: a TLS 1.2 + 1.3 client with ECDHE, AES-GCM and
 * ChaCha20-Poly1305, RSA and ECDSA certificates, no file system, no sockets, no OS entropy, no debug strings.
 * Everything a firmware team commonly switches is either here or a runtime option of the glue; see
 * docs/mbedtls.md for the list and why each one is set.
 */
#ifndef OTA_MBEDTLS_CONFIG_H
#define OTA_MBEDTLS_CONFIG_H

/* ---- platform: the host (JavaScript) supplies time and entropy ------------------------------------ */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_TIME_ALT
#define MBEDTLS_PLATFORM_MS_TIME_ALT
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT
#include <stddef.h>
void *ota_calloc(size_t count, size_t size);
void ota_free_counted(void *ptr);
long long ota_platform_time(long long *out);

/* The glue's clock, so libc time() (a WASI clock import) is never linked. */
#define MBEDTLS_PLATFORM_STD_TIME ota_platform_time
/* Counted allocations: lets the tests prove that 100 connections leak nothing. */
#define MBEDTLS_PLATFORM_CALLOC_MACRO ota_calloc
#define MBEDTLS_PLATFORM_FREE_MACRO ota_free_counted

/*
 * The input record buffer (MBEDTLS_SSL_IN_CONTENT_LEN on a device) is a per-session runtime value here, so
 * one wasm build reproduces every firmware's buffer size. mbedTLS only uses the macro in run-time
 * expressions (buffer allocation, "requesting more data than fits" checks, MFL limits); in its two
 * preprocessor sanity checks the identifier evaluates to 0 and they pass. The glue sets the variable
 * before every call into the session that owns it.
 */
extern unsigned int ota_in_content_len;
#define MBEDTLS_SSL_IN_CONTENT_LEN ota_in_content_len
#define MBEDTLS_SSL_OUT_CONTENT_LEN 16384

/*
 * wasm loads and stores at any alignment at full speed, but mbedTLS's alignment.h only knows x86 and Arm, so its
 * XOR and load helpers fall back to byte loops here. Declaring the fact cuts AES-GCM's CPU per byte by about a third
 * (measured: 42 -> 26 ms per MiB on this machine) and changes no result.
 */
#define MBEDTLS_EFFICIENT_UNALIGNED_ACCESS

/* ---- symmetric crypto and hashes ------------------------------------------------------------------ */
#define MBEDTLS_AES_C
#define MBEDTLS_GCM_C
#define MBEDTLS_GCM_LARGE_TABLE
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C

/* ---- public key --------------------------------------------------------------------------------- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C

/* ---- certificates ------------------------------------------------------------------------------ */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
/* TLS 1.3 with an RSA server certificate signs with RSASSA-PSS; without this OpenSSL answers alert 40. */
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT

/* ---- randomness and PSA (TLS 1.3 runs on PSA; the glue calls psa_crypto_init first) --------------- */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_PSA_CRYPTO_C

/* ---- TLS client ------------------------------------------------------------------------------- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_SSL_ALPN
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
/* Compiled in; the glue can leave the extension out of the ClientHello at run time (the `sni` option),
 * which puts on the wire exactly what a firmware with this line removed sends. */
#define MBEDTLS_SSL_SERVER_NAME_INDICATION

#endif /* OTA_MBEDTLS_CONFIG_H */
