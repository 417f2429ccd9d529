#!/bin/sh
# Checks the committed vectors with standard tools only (openssl, sha256sum,
# age): what a court's expert can do without any Custos code. See docs/FORMAT.md.
set -eu
cd "$(dirname "$0")"
for stem in recording-1 recording-2-truncated; do
  # 1. The camera's Ed25519 signature over the manifest's exact bytes.
  openssl pkeyutl -verify -pubin -inkey device.pub.pem -rawin \
    -in "$stem.manifest.json" -sigfile "$stem.manifest.sig" >/dev/null
  # 2. The manifest's hash, which the next manifest names (the chain).
  [ "$(sha256sum "$stem.manifest.json" | cut -d' ' -f1)" = "$(cat "$stem.manifest.sha256")" ]
  # 3. The ciphertext is exactly what the manifest names.
  python3 - "$stem" <<'PY'
import hashlib, json, sys
stem = sys.argv[1]
m = json.load(open(f"{stem}.manifest.json"))
ct = open(f"{stem}.age", "rb").read()
assert len(ct) == m["ciphertext"]["length"], "ciphertext length"
assert hashlib.sha256(ct).hexdigest() == m["ciphertext"]["sha256"], "ciphertext sha256"
PY
done
# 4. The chain: recording 2 names recording 1's manifest hash.
grep -q "\"previous_manifest_sha256\":\"$(cat recording-1.manifest.sha256)\"" recording-2-truncated.manifest.json
# 5. The content decrypts with the evidence key; the truncated one yields its
#    authenticated prefix and age reports the truncation.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
age -d -i evidence-identity.txt -o "$tmp/1" recording-1.age
cmp "$tmp/1" content.bin
if age -d -i evidence-identity.txt -o "$tmp/2" recording-2-truncated.age 2>/dev/null; then
  echo "truncated stream decrypted as if complete" >&2; exit 1
fi
[ "$(wc -c < "$tmp/2")" -eq 131072 ]
cmp -n 131072 "$tmp/2" content.bin
echo "all vectors verified with standard tools"
