#!/usr/bin/env bash
# Prints the Debian packages the test suite needs beyond a stock node machine, one line, space separated.
# openssl: ECDSA test certificates; curl: the download benchmark's reference; the rest build mbedTLS to wasm
# (mbedtls/build.sh): dpkg-dev unpacks the pinned source package that `apt-get source` fetches (and brings bzip2 and
# patch), clang-14 + lld-14 + libclang-rt-14-dev-wasm32 compile and link for wasm32-wasi against wasi-libc, make drives it.
echo "openssl curl ca-certificates dpkg-dev clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 make"
