#!/usr/bin/env bash
# Refreshes certs/ from Debian's ca-certificates package: the device bundle (DigiCert Global Root G2, Amazon Root
# CA 1 — the roots of memfault-firmware-sdk's root_certs.h) and the legacy DigiCert Global Root CA, as PEM and DER.
# Refuses to write a certificate whose SHA-256 differs from the pin in certs/manifest.json: a changed root is a
# decision for a person, not for a script. Usage: scripts/refresh-certs.sh [SOURCE_DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
src="${1:-/usr/share/ca-certificates/mozilla}"
out="$here/certs"
manifest="$out/manifest.json"

declare -A pins=(
  [DigiCert_Global_Root_G2]="CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F"
  [Amazon_Root_CA_1]="8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E"
  [DigiCert_Global_Root_CA]="43:48:A0:E9:44:4C:78:CB:26:5E:05:8D:5E:89:44:B4:D8:4F:96:62:BD:26:DB:25:7F:89:34:A4:43:C7:01:61"
)
order=(DigiCert_Global_Root_G2 Amazon_Root_CA_1 DigiCert_Global_Root_CA)

if [ -f "$manifest" ]; then
  # The manifest is the source of truth for pins once it exists.
  for name in "${order[@]}"; do
    pin="$(node -e 'const m=require(process.argv[1]);const c=m.certificates.find(c=>c.name===process.argv[2]);process.stdout.write(c?c.sha256:"")' "$manifest" "$name")"
    if [ -n "$pin" ]; then pins[$name]="$pin"; fi
  done
fi

version="$(dpkg-query -W -f '${Version}' ca-certificates 2>/dev/null || echo unknown)"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for name in "${order[@]}"; do
  file="$src/$name.crt"
  [ -f "$file" ] || { echo "refresh-certs: $file not found; install Debian's ca-certificates or pass its directory" >&2; exit 1; }
  openssl x509 -in "$file" -out "$tmp/$name.pem"
  openssl x509 -in "$file" -outform DER -out "$tmp/$name.der"
  got="$(openssl x509 -in "$file" -noout -fingerprint -sha256 | sed 's/^.*=//')"
  if [ "$got" != "${pins[$name]}" ]; then
    echo "refresh-certs: $name has SHA-256 $got, pinned ${pins[$name]}; not updating. Review the change and edit the pin deliberately." >&2
    exit 1
  fi
done

for name in "${order[@]}"; do
  cp "$tmp/$name.pem" "$out/$name.pem"
  cp "$tmp/$name.der" "$out/$name.der"
done
cat "$out/DigiCert_Global_Root_G2.pem" "$out/Amazon_Root_CA_1.pem" > "$out/device-bundle.pem"

node - "$out" "$version" <<'NODE'
const { X509Certificate } = require('node:crypto');
const { readFileSync, writeFileSync } = require('node:fs');
const [out, version] = process.argv.slice(2);
const entry = (name, role) => {
  const cert = new X509Certificate(readFileSync(`${out}/${name}.pem`));
  const cn = /CN=([^\n]+)/.exec(cert.subject)[1];
  return { name, commonName: cn, role, pem: `${name}.pem`, der: `${name}.der`, sha256: cert.fingerprint256,
    notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString() };
};
const manifest = {
  comment: 'Pinned roots. device: what the agent trusts (memfault-firmware-sdk root_certs.h order). legacy: kept for older endpoints, never in the device bundle. Refresh with scripts/refresh-certs.sh.',
  source: `Debian ca-certificates ${version}, /usr/share/ca-certificates/mozilla/`,
  deviceBundle: ['DigiCert_Global_Root_G2', 'Amazon_Root_CA_1'],
  certificates: [entry('DigiCert_Global_Root_G2', 'device'), entry('Amazon_Root_CA_1', 'device'), entry('DigiCert_Global_Root_CA', 'legacy')],
};
writeFileSync(`${out}/manifest.json`, JSON.stringify(manifest, null, 2) + '\n');
NODE
echo "certs/ refreshed from ca-certificates $version"
