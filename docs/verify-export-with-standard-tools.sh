#!/bin/sh
# Checks an unpacked Custos evidence export with standard tools only:
# openssl (Ed25519), sha256sum, find/sort/cut and python3 for JSON fields and
# the Merkle proofs. No Custos code. See docs/VERIFY.md, which explains each
# step; `custos verify` does the same checks.
#
#   sh verify-export-with-standard-tools.sh PACKAGE_DIR
#
# Exits non-zero at the first failed check, saying which.
set -eu
cd "$1"
fail() { echo "FAILED: $*" >&2; exit 1; }
ed25519_verify() { # KEY.pem FILE SIGNATURE
  openssl pkeyutl -verify -pubin -inkey "$1" -rawin -in "$2" -sigfile "$3" >/dev/null 2>&1
}

# The audit extract of one recording: every entry about it, each in the
# signed log (RFC 6962 inclusion proofs against audit/checkpoint.txt).
CUSTOS_AUDIT_PY="${TMPDIR:-/tmp}/custos-audit.$$.py"
export CUSTOS_AUDIT_PY
trap 'rm -f "$CUSTOS_AUDIT_PY"' EXIT
cat > "$CUSTOS_AUDIT_PY" <<'PY'
import base64, hashlib, json
def check_audit(a, recording_id):
    note = open("audit/checkpoint.txt").read().split("\n")
    size, root = int(note[1]), base64.b64decode(note[2])
    assert a["tree_size"] == size, "audit.json refers to another checkpoint"
    h = lambda b: hashlib.sha256(b).digest()
    for e in a["entries"]:
        assert json.loads(e["entry"]).get("object") == "recording:" + recording_id, "an audit entry about another object"
        index, last, node = e["index"], size - 1, h(b"\0" + e["entry"].encode())
        for p in map(bytes.fromhex, e["inclusion_proof"]):
            if last == 0:
                raise AssertionError("proof too long")
            if index % 2 == 1 or index == last:
                node = h(b"\1" + p + node)
                if index % 2 == 0:
                    while index % 2 == 0 and index != 0:
                        index, last = index >> 1, last >> 1
            else:
                node = h(b"\1" + node + p)
            index, last = index >> 1, last >> 1
        assert last == 0 and node == root, f"audit entry {e['index']} is not in the signed log"
PY
# 1. The server signed the list of every file and its SHA-256.
ed25519_verify server.pub.pem SHA256SUMS SHA256SUMS.sig || fail "SHA256SUMS.sig: not signed by server.pub.pem"
echo "server key SHA-256 (compare with the published one): $(openssl pkey -pubin -in server.pub.pem -outform DER | tail -c 32 | sha256sum | cut -d' ' -f1)"

# 2. Only files and directories: a link could show a file SHA256SUMS does
#    not vouch for (a tar of ours holds none; `custos verify` refuses them too).
[ -z "$(find . ! -type f ! -type d)" ] || fail "links or special files in the package"
# Every listed file is as listed ...
sha256sum -c --strict --quiet SHA256SUMS || fail "a file differs from SHA256SUMS"
# ... and nothing was added.
find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.sig | sed 's|^\./||' | sort > "${TMPDIR:-/tmp}/custos-present.$$"
cut -c67- SHA256SUMS | sort > "${TMPDIR:-/tmp}/custos-listed.$$"
if ! cmp -s "${TMPDIR:-/tmp}/custos-present.$$" "${TMPDIR:-/tmp}/custos-listed.$$"; then
  rm -f "${TMPDIR:-/tmp}/custos-present.$$" "${TMPDIR:-/tmp}/custos-listed.$$"
  fail "files present that SHA256SUMS does not list"
fi
rm -f "${TMPDIR:-/tmp}/custos-present.$$" "${TMPDIR:-/tmp}/custos-listed.$$"

# 3. The audit checkpoint is signed with the log key (a C2SP signed note:
#    the body up to the blank line, then "— NAME base64(4-byte key hash ||
#    64-byte signature)"; the key is the last part of audit/log.vkey after a
#    0x01 algorithm byte). openssl wants the key as PEM.
python3 - <<'PY' || fail "audit/checkpoint.txt: not signed with audit/log.vkey"
import base64, subprocess, tempfile, os
vkey = open("audit/log.vkey").read().strip()
name, keyhash, key = vkey.split("+", 2)
raw = base64.b64decode(key)
assert raw[0] == 1 and len(raw) == 33, "not an Ed25519 note key"
note = open("audit/checkpoint.txt").read()
body, sigs = note.split("\n\n", 1)
body += "\n"
sig = None
for line in sigs.splitlines():
    if line.startswith("\u2014 " + name + " "):
        blob = base64.b64decode(line.split(" ")[2])
        if blob[:4].hex() == keyhash:
            sig = blob[4:]
assert sig is not None and len(sig) == 64, "no signature by the log key"
der = bytes.fromhex("302a300506032b6570032100") + raw[1:]
pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"
with tempfile.TemporaryDirectory() as d:
    for n, data in (("k.pem", pem.encode()), ("b", body.encode()), ("s", sig)):
        open(os.path.join(d, n), "wb").write(data)
    subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", d + "/k.pem",
                    "-rawin", "-in", d + "/b", "-sigfile", d + "/s"],
                   check=True, stdout=subprocess.DEVNULL)
PY

# 4. Each recording (an answer to a subject access request has none).
for dir in recordings/*/; do
  [ -d "$dir" ] || continue
  dir=${dir%/}
  ed25519_verify "$dir/camera.pub.pem" "$dir/manifest.json" "$dir/manifest.sig" \
    || fail "$dir/manifest.sig: not the camera's signature"
  ed25519_verify server.pub.pem "$dir/receipt.json" "$dir/receipt.sig" \
    || fail "$dir/receipt.sig: not the server's signature"
  for side in previous next; do
    if [ -f "$dir/$side.manifest.json" ]; then
      ed25519_verify "$dir/camera.pub.pem" "$dir/$side.manifest.json" "$dir/$side.manifest.sig" \
        || fail "$dir/$side.manifest.sig: not the camera's signature"
    fi
  done
  python3 - "$dir" <<'PY' || fail "$dir: see above"
import base64, hashlib, json, os, sys
d = sys.argv[1]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
m = json.load(open(f"{d}/manifest.json"))
r = json.load(open(f"{d}/receipt.json"))
own = sha(f"{d}/manifest.json")
# The video is what the camera recorded.
v = f"{d}/video.mp4"
if m.get("plaintext"):
    assert sha(v) == m["plaintext"]["sha256"], "video.mp4 is not the camera's original"
    assert os.path.getsize(v) == m["plaintext"]["length"], "video.mp4 has another length"
# The receipt names this manifest and ciphertext.
assert r["manifest_sha256"] == own, "receipt.json names another manifest"
assert r["ciphertext_sha256"] == m["ciphertext"]["sha256"], "receipt.json names another ciphertext"
# The camera's key is the enrolled one.
assert json.load(open(f"{d}/enrollment.json"))["device_id"] == m["device_id"], "enrollment.json is another camera"
# The sequence: the previous recording is the one this manifest follows.
dev, seq = m["device_id"], m["sequence"]
neighbour = lambda s: f"recordings/{dev}-{s:06d}/manifest.json"
if seq > 1:
    if os.path.exists(neighbour(seq - 1)):
        assert sha(neighbour(seq - 1)) == m["previous_manifest_sha256"], "chain broken (previous in the package)"
    elif os.path.exists(f"{d}/previous.manifest.json"):
        p = json.load(open(f"{d}/previous.manifest.json"))
        assert p["sequence"] == seq - 1, "previous.manifest.json is not the previous recording"
        assert sha(f"{d}/previous.manifest.json") == m["previous_manifest_sha256"], "chain broken (previous)"
    elif os.path.exists(f"{d}/previous.deleted.json"):
        t = json.load(open(f"{d}/previous.deleted.json"))
        assert t["sequence"] == seq - 1 and t["manifest_sha256"] == m["previous_manifest_sha256"], "chain broken (deleted previous)"
    else:
        raise AssertionError("the previous recording is not accounted for")
if os.path.exists(f"{d}/next.manifest.json"):
    n = json.load(open(f"{d}/next.manifest.json"))
    assert n["sequence"] == seq + 1 and n["previous_manifest_sha256"] == own, "chain broken (next)"
# Every audit entry is in the signed log (shared with the Axis recordings).
a = json.load(open(f"{d}/audit.json"))
exec(open(os.environ["CUSTOS_AUDIT_PY"]).read())
check_audit(a, m["recording_id"])
print(f"{d}: camera-signed, received, original video, sequence and {len(a['entries'])} audit entries verified")
PY
done

# 4b. Each Axis recording: no camera signature (an Axis camera signs no
# metadata); its objects are the bytes the system controller uploaded, with
# the SHA-256 and MD5 the server took on arrival (docs/FORMAT.md 12.6).
# Only the directories export.json lists, each the recording it names.
python3 - <<'PY' || fail "axis/: see above"
import json, os
listed = {r["dir"] for r in json.load(open("export.json")).get("axis_recordings", [])}
present = {"axis/" + n for n in os.listdir("axis")} if os.path.isdir("axis") else set()
assert present == listed, f"axis/ holds {sorted(present)}, export.json lists {sorted(listed)}"
PY
for dir in axis/*/; do
  [ -d "$dir" ] || continue
  dir=${dir%/}
  python3 - "$dir" <<'PY' || fail "$dir: see above"
import hashlib, json, os, sys
d = sys.argv[1]
x = json.load(open(f"{d}/axis.json"))
e = [r for r in json.load(open("export.json"))["axis_recordings"] if r["dir"] == d][0]
assert (x["recording_id"], x["device_id"], x["sequence"]) == (e["recording_id"], e["device_id"], e["sequence"]), "axis.json is another recording than export.json lists"
assert d == f"axis/{x['device_id']}-{x['sequence']:06d}", "not the recording's own directory"
names = [o["name"] for o in x["objects"]]
assert len(names) == len(set(names)), "an object listed twice"
listed = set()
digest = hashlib.sha256()
for o in sorted(x["objects"], key=lambda o: o["name"].encode()):
    f = o["file"]
    assert f.startswith(d + "/objects/") and f not in listed, f"{f}: not its own file"
    listed.add(f)
    data = open(f, "rb").read()
    assert hashlib.sha256(data).hexdigest() == o["sha256"], f"{f}: not the object that arrived (SHA-256)"
    assert hashlib.md5(data).hexdigest() == o["md5"], f"{f}: not the object that arrived (MD5)"
    assert len(data) == o["length"], f"{f}: another length"
    digest.update(o["name"].encode() + b"\0" + bytes.fromhex(o["sha256"]))
assert digest.hexdigest() == x["content_sha256"], "the objects are not what content_sha256 names"
present = {os.path.join(r, n) for r, _, ns in os.walk(d + "/objects") for n in ns}
assert present == listed, "files under objects/ that axis.json does not name"
meta = json.dumps(x["metadata"], separators=(",", ":"), ensure_ascii=False, sort_keys=True)
assert hashlib.sha256(meta.encode()).hexdigest() == x["metadata_sha256"], "the metadata is not what metadata_sha256 names"
# A clip its camera encrypted (Axis' own encryption) opens with the key
# listed beside it, by OpenSSL, as Axis documents it.
import subprocess
files = {o["name"]: o["file"] for o in x["objects"]}
for k in x.get("clip_keys", []):
    assert k["clip"] in files and k["key_file"] in files, f"{k['clip']}: a key of no object"
    if "error" in k:
        print(f"{d}: {k['clip']} does not open with its key file: {k['error']}")
        continue
    plain = subprocess.run(["openssl", "enc", "-d", "-aes-256-cbc", "-K", k["key"], "-iv", k["iv"], "-in", files[k["clip"]]], check=True, capture_output=True).stdout
    assert len(plain) == k["length"] and hashlib.sha256(plain).hexdigest() == k["sha256"], f"{k['clip']}: its key does not give the clip axis.json names"
    print(f"{d}: {k['clip']}: opens with its key (OpenSSL), {len(plain)} bytes, SHA-256 as named")
exec(open(os.environ["CUSTOS_AUDIT_PY"]).read())
a = json.load(open(f"{d}/audit.json"))
check_audit(a, x["recording_id"])
print(f"{d}: {len(x['objects'])} objects as they arrived (SHA-256, MD5), no camera signature, {len(a['entries'])} audit entries verified")
PY
done
# 5. Each redacted copy: its video is the one its record names (both are
# already covered by the signed SHA256SUMS above).
for dir in derived/*/; do
  [ -d "$dir" ] || continue
  dir=${dir%/}
  want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$dir/derivative.json") \
    || fail "$dir/derivative.json: unreadable"
  got=$(sha256sum "$dir/video.mp4" | cut -d' ' -f1)
  [ "$want" = "$got" ] || fail "$dir/video.mp4: not the copy derivative.json names"
  echo "$dir: redacted copy, SHA-256 as recorded"
done
echo "package verified with standard tools"
