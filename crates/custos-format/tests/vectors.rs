//! Committed test vectors (`test-vectors/` at the repository root), so a
//! second implementation can check itself against ours byte for byte.
//! Regenerate with `CUSTOS_REGENERATE_VECTORS=1 cargo test -p custos-format --test vectors`
//! (only when the format version changes).

use std::path::PathBuf;

use custos_format::verify::{check_chain, decrypt_recording, verify_recording};
use custos_format::*;
use uuid::Uuid;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("test-vectors/{name}: {e}"))
}

/// The content both recordings hold: 200,000 bytes, so the age stream has
/// three full 64 KiB chunks and a final partial one.
fn content() -> Vec<u8> {
    (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

const DEVICE_SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn base_manifest(
    seq: u64,
    prev: [u8; 32],
    ct: Ciphertext,
    pt: Option<Plaintext>,
    recipient: &str,
) -> Manifest {
    let truncated = pt.is_none();
    let t = |ms: i64| UtcMillis::from_millis(1_795_424_400_000 + ms).unwrap();
    Manifest {
        format: MANIFEST_FORMAT.into(),
        recording_id: Uuid::parse_str(if seq == 1 {
            "01a207a2-3280-7000-8000-0000000000a1"
        } else {
            "01a207a2-3280-7000-8000-0000000000a2"
        })
        .unwrap(),
        device_id: "cam-vector".into(),
        sequence: seq,
        previous_manifest_sha256: prev,
        officer_id: Some("boa-0001".into()),
        started_at: t(0),
        triggered_at: t(30_000),
        ended_at: t(42_500),
        trigger: Trigger::RecordButton,
        stop_reason: if truncated {
            StopReason::PowerLoss
        } else {
            StopReason::StopButton
        },
        prerecord_seconds: 30,
        prerecord_included_ms: 30_000,
        video: VideoParams {
            codec: "h264".into(),
            container: "fmp4".into(),
            width: 1280,
            height: 720,
            fps: 30,
            max_fragment_ms: 1000,
        },
        gps: vec![GpsPoint {
            at: t(30_000),
            lat_e7: 518_850_000,
            lon_e7: 44_930_000,
            accuracy_m: 5,
        }],
        bookmarks: vec![Bookmark {
            at: t(31_000),
            label: Some("mondelinge waarschuwing — Ordnungsamt Bocholt".into()),
        }],
        display_events: vec![DisplayEvent {
            at: t(29_000),
            on: true,
        }],
        encryption: Encryption {
            scheme: "age-v1".into(),
            recipient: recipient.into(),
        },
        ciphertext: ct,
        plaintext: pt,
        firmware: "custos-camera/0.1.0".into(),
        truncated,
    }
}

#[test]
fn committed_vectors_verify_and_reproduce() {
    if std::env::var_os("CUSTOS_REGENERATE_VECTORS").is_some() {
        regenerate();
    }
    let identity: age::x25519::Identity = String::from_utf8(read("evidence-identity.txt"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .parse()
        .unwrap();
    let key = VerifyingKey::from_pem(&String::from_utf8(read("device.pub.pem")).unwrap()).unwrap();
    let seed: [u8; 32] = hex::decode(DEVICE_SEED_HEX).unwrap().try_into().unwrap();
    assert_eq!(SigningKey::from_seed(&seed).verifying_key(), key);
    assert_eq!(
        String::from_utf8(read("device.pub.hex")).unwrap().trim(),
        key.to_hex()
    );

    let mut chain = Vec::new();
    for (stem, complete) in [("recording-1", true), ("recording-2-truncated", false)] {
        let bytes = read(&format!("{stem}.manifest.json"));
        let sig = read(&format!("{stem}.manifest.sig"));
        let ciphertext = read(&format!("{stem}.age"));
        let signed = SignedManifest::parse(&bytes, &sig).unwrap();
        verify_recording(&signed, &key, &ciphertext[..]).unwrap();
        // Canonical encoding and Ed25519 are deterministic: we reproduce both.
        assert_eq!(signed.manifest().to_canonical_bytes().unwrap(), bytes);
        assert_eq!(SigningKey::from_seed(&seed).sign(&bytes).to_vec(), sig);
        assert_eq!(
            String::from_utf8(read(&format!("{stem}.manifest.sha256")))
                .unwrap()
                .trim(),
            hex::encode(signed.sha256())
        );
        let mut out = Vec::new();
        let outcome = decrypt_recording(&signed, &ciphertext[..], &identity, &mut out).unwrap();
        assert_eq!(outcome.complete, complete);
        assert_eq!(out, content()[..out.len()]);
        if complete {
            assert_eq!(out.len(), 200_000);
        } else {
            assert_eq!(out.len() as u64, 2 * AGE_CHUNK_SIZE);
        }
        chain.push(signed);
    }
    assert_eq!(check_chain(None, &chain), vec![]);
}

fn regenerate() {
    let d = dir();
    std::fs::create_dir_all(&d).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(d.join(name), bytes).unwrap();
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    write(
        "evidence-identity.txt",
        format!(
            "# TEST KEY ONLY — never use in a deployment\n# public key: {recipient}\n{}\n",
            identity.to_string().expose_secret()
        )
        .as_bytes(),
    );
    let seed: [u8; 32] = hex::decode(DEVICE_SEED_HEX).unwrap().try_into().unwrap();
    let key = SigningKey::from_seed(&seed);
    write("device.pub.pem", key.verifying_key().to_pem().as_bytes());
    write(
        "device.pub.hex",
        format!("{}\n", key.verifying_key().to_hex()).as_bytes(),
    );
    write("device.seed.hex", format!("{DEVICE_SEED_HEX}\n").as_bytes());
    write("content.bin", &content());

    let mut w = RecordingWriter::new(Vec::new(), &identity.to_public()).unwrap();
    w.append(&content()).unwrap();
    let (ct1, c1, p1) = w.finish().unwrap();
    let s1 = SignedManifest::sign(
        base_manifest(1, GENESIS_HASH, c1, Some(p1), &recipient),
        &key,
    )
    .unwrap();
    // A power-loss recording: a stream cut inside its third chunk.
    let mut w = RecordingWriter::new(Vec::new(), &identity.to_public()).unwrap();
    w.append(&content()).unwrap();
    let (full, _, _) = w.finish().unwrap();
    let header = full.len() - (200_000 + 4 * 16);
    let ct2 = full[..header + 2 * AGE_ENCRYPTED_CHUNK_SIZE as usize + 1000].to_vec();
    let c2 = Ciphertext {
        length: ct2.len() as u64,
        sha256: sha256(&ct2),
    };
    let s2 =
        SignedManifest::sign(base_manifest(2, s1.sha256(), c2, None, &recipient), &key).unwrap();
    for (stem, s, ct) in [
        ("recording-1", &s1, &ct1),
        ("recording-2-truncated", &s2, &ct2),
    ] {
        write(&format!("{stem}.manifest.json"), s.bytes());
        write(&format!("{stem}.manifest.sig"), s.signature());
        write(
            &format!("{stem}.manifest.sha256"),
            format!("{}\n", hex::encode(s.sha256())).as_bytes(),
        );
        write(&format!("{stem}.age"), ct);
    }
}

/// The same vectors checked without any Custos code: openssl, sha256sum, age.
#[test]
fn committed_vectors_verify_with_standard_tools() {
    let out = std::process::Command::new("sh")
        .arg(dir().join("check-with-standard-tools.sh"))
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "needs openssl, python3 and the age CLI (./test.sh installs them)\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
