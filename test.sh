#!/usr/bin/env bash
# The README's test command: sets up what the tests use, then runs them all.
# Idempotent: installs only what is missing (Debian packages, moto and
# schemathesis and python-swiftclient from PyPI, playwright-core from npm, pinned), starts
# PostgreSQL and an S3-compatible server on loopback if they are not
# running, and leaves them running. Extra arguments go to `cargo test`
# (`./test.sh -p custos-format`, `./test.sh -p custos --test it crash::`).
set -euo pipefail
cd "$(dirname "$0")"

# Packages need root; a developer's machine may have sudo instead.
SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
fi
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian tools the tests call: age (decrypt as an outsider would), ffmpeg/ffprobe
# (is it H.264 of the right length?), openssl (Ed25519 check of the test
# vectors), script (a terminal for age's passphrase prompt), python3.
missing=()
command -v age >/dev/null 2>&1 || missing+=(age)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# Debian's Chromium plays footage in a <video> (driven by playwright-core).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt_install "${missing[@]}"
fi

# PostgreSQL: the PostgreSQL catalog runs the same story tests as SQLite
# (crates/custos-catalog-postgres/tests). This machine kind has a server on
# 127.0.0.1:5432 with trust auth and a `test` database; start it if it is down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  for version in $(ls /etc/postgresql 2>/dev/null); do
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break
    sleep 1
  done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not running on 127.0.0.1:5432"; exit 1; }

# An S3-compatible server on loopback (moto's, in memory) for the S3 blob
# store's tests, with the bucket they use. Left running, like PostgreSQL.
command -v moto_server >/dev/null 2>&1 || python3 -m pip install -q 'moto[server]==5.2.1'
command -v curl >/dev/null 2>&1 || apt_install curl
if ! curl -s -o /dev/null http://127.0.0.1:9000/; then
  nohup moto_server -H 127.0.0.1 -p 9000 >"${TMPDIR:-/tmp}/custos-moto.log" 2>&1 &
  for _ in $(seq 1 30); do
    curl -s -o /dev/null http://127.0.0.1:9000/ && break
    sleep 1
  done
fi
curl -sf -X PUT http://127.0.0.1:9000/custos-test -o /dev/null \
  || { echo "no S3-compatible server on 127.0.0.1:9000"; exit 1; }

# schemathesis (PyPI) checks the API against its OpenAPI document as an outside
# witness (crates/custos/tests/it/schemathesis.rs).
python3 -m pip install -q 'schemathesis==4.32.5'

# python-swiftclient (PyPI): a Swift client nobody here wrote drives the
# Axis content destination (crates/custos/tests/it/axis_swift.rs).
python3 -m pip install -q 'python-swiftclient==4.11.0'

# playwright-core only (it never downloads a browser), pinned by the lockfile.
npm ci --prefix crates/custos/tests/browser --no-audit --no-fund --loglevel=error

cargo test --workspace --locked "$@"
