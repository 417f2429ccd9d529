//! The format's promises, each checked against forgeries, truncations and garbage.

use std::io::Cursor;

use custos_format::verify::{check_chain, decrypt_recording, verify_recording, ChainFinding};
use custos_format::*;
use uuid::Uuid;

fn t(ms: i64) -> UtcMillis {
    UtcMillis::from_millis(1_795_000_000_000 + ms).unwrap()
}

fn evidence_identity() -> age::x25519::Identity {
    // Fixed so failures reproduce; a test key, never a deployment's.
    "AGE-SECRET-KEY-1N4YFMUG7AAJY9XPNAEENG3NGAX8GRRE44Z0STRPMR2L2V6GKMY8Q62LGPA"
        .parse()
        .unwrap()
}

fn manifest(seq: u64, prev: [u8; 32], ct: Ciphertext, pt: Option<Plaintext>) -> Manifest {
    let truncated = pt.is_none();
    Manifest {
        format: MANIFEST_FORMAT.into(),
        recording_id: Uuid::from_u128(0x0190_abcd_ef00_7000_8000_0000_0000_0000 | seq as u128),
        device_id: "cam-007".into(),
        sequence: seq,
        previous_manifest_sha256: prev,
        officer_id: Some("boa-1234".into()),
        started_at: t(0),
        triggered_at: t(30_000),
        ended_at: t(95_000),
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
            width: 1920,
            height: 1080,
            fps: 30,
            max_fragment_ms: 2000,
        },
        gps: vec![GpsPoint {
            at: t(31_000),
            lat_e7: 518_926_000,
            lon_e7: 44_867_000,
            accuracy_m: 5,
        }],
        bookmarks: vec![Bookmark {
            at: t(40_000),
            label: Some("Waarschuwing gegeven — ‘ü’".into()),
        }],
        display_events: vec![
            DisplayEvent {
                at: t(10_000),
                on: true,
            },
            DisplayEvent {
                at: t(60_000),
                on: false,
            },
        ],
        encryption: Encryption {
            scheme: "age-v1".into(),
            recipient: evidence_identity().to_public().to_string(),
        },
        ciphertext: ct,
        plaintext: pt,
        firmware: "custos-camera/0.1.0".into(),
        truncated,
    }
}

fn encrypt(plaintext: &[u8]) -> (Vec<u8>, Ciphertext, Plaintext) {
    let mut w = RecordingWriter::new(Vec::new(), &evidence_identity().to_public()).unwrap();
    // Odd-sized appends, as fragments arrive.
    for part in plaintext.chunks(70_001) {
        w.append(part).unwrap();
    }
    w.finish().unwrap()
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn manifest_round_trips_canonically_and_signature_verifies() {
    let (_, ct, pt) = encrypt(&plaintext(10));
    let m = manifest(1, GENESIS_HASH, ct, Some(pt));
    let key = SigningKey::from_seed(&[7u8; 32]);
    let signed = SignedManifest::sign(m.clone(), &key).unwrap();
    let parsed = SignedManifest::parse(signed.bytes(), signed.signature()).unwrap();
    assert_eq!(parsed.manifest(), &m);
    parsed.verify(&key.verifying_key()).unwrap();
    // Keys sorted, no whitespace, non-ASCII kept as UTF-8 (RFC 8785).
    let text = std::str::from_utf8(signed.bytes()).unwrap();
    assert!(text.starts_with("{\"bookmarks\":[{\"at\":"), "{text}");
    assert!(text.contains("‘ü’"));
    assert!(!text.contains(' ') || text.contains("Waarschuwing gegeven"));
}

#[test]
fn non_canonical_and_invalid_manifests_are_refused() {
    let (_, ct, pt) = encrypt(&plaintext(10));
    let m = manifest(1, GENESIS_HASH, ct, Some(pt));
    let bytes = m.to_canonical_bytes().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let pretty = serde_json::to_vec_pretty(&m).unwrap();
    assert!(matches!(
        Manifest::from_canonical_bytes(&pretty),
        Err(FormatError::NotCanonical)
    ));
    let upper_hex = text.replace(
        &hex::encode(m.ciphertext.sha256),
        &hex::encode_upper(m.ciphertext.sha256),
    );
    assert!(Manifest::from_canonical_bytes(upper_hex.as_bytes()).is_err());
    let extra = text.replacen('{', "{\"aaa\":1,", 1);
    assert!(matches!(
        Manifest::from_canonical_bytes(extra.as_bytes()),
        Err(FormatError::Syntax(_))
    ));
    let future = text.replace(MANIFEST_FORMAT, "custos.recording-manifest/2");
    assert!(matches!(
        Manifest::from_canonical_bytes(future.as_bytes()),
        Err(FormatError::UnsupportedFormat(_))
    ));
    let float = text.replace("\"sequence\":1", "\"sequence\":1.0");
    assert!(Manifest::from_canonical_bytes(float.as_bytes()).is_err());
    let big = text.replace("\"sequence\":1", "\"sequence\":9007199254740993");
    assert!(Manifest::from_canonical_bytes(big.as_bytes()).is_err());
    let uuid_upper = text.replace(
        &m.recording_id.to_string(),
        &m.recording_id.to_string().to_uppercase(),
    );
    assert!(Manifest::from_canonical_bytes(uuid_upper.as_bytes()).is_err());

    // Semantic rules.
    let mut bad = m.clone();
    bad.recording_id = Uuid::from_u128(0x0190_0000_0000_4000_8000_0000_0000_0001);
    assert!(bad.to_canonical_bytes().is_err(), "v4 uuid");
    let mut bad = m.clone();
    bad.sequence = 2;
    assert!(bad.to_canonical_bytes().is_err(), "genesis hash on seq 2");
    let mut bad = m.clone();
    bad.ended_at = t(-1);
    assert!(bad.to_canonical_bytes().is_err(), "ends before start");
    let mut bad = m.clone();
    bad.device_id = "../etc".into();
    assert!(bad.to_canonical_bytes().is_err(), "path in id");
    let mut bad = m.clone();
    bad.plaintext = None;
    assert!(
        bad.to_canonical_bytes().is_err(),
        "untruncated without plaintext digest"
    );
    let mut bad = m.clone();
    bad.gps[0].lat_e7 = 900_000_001;
    assert!(bad.to_canonical_bytes().is_err(), "latitude");
    let mut bad = m;
    bad.encryption.recipient = "age1notakey".into();
    assert!(bad.to_canonical_bytes().is_err(), "recipient");
}

#[test]
fn every_truncation_and_garbage_is_an_error_not_a_panic() {
    let (_, ct, pt) = encrypt(&plaintext(10));
    let bytes = manifest(1, GENESIS_HASH, ct, Some(pt))
        .to_canonical_bytes()
        .unwrap();
    for cut in 0..bytes.len() {
        assert!(
            Manifest::from_canonical_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // Every single-byte flip either fails to parse or changes the content,
    // in which case the signature check catches it (tested below).
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..2000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut garbled = bytes.clone();
        let i = (rng % garbled.len() as u64) as usize;
        garbled[i] ^= 1 << (rng >> 60 & 7);
        verify::fuzz_manifest_parse(&garbled);
    }
    for garbage in [&b""[..], b"null", b"[]", b"{}", b"\xff\xfe", &[0u8; 100]] {
        assert!(Manifest::from_canonical_bytes(garbage).is_err());
        verify::fuzz_manifest_parse(garbage);
    }
}

#[test]
fn forged_signatures_and_edited_manifests_fail() {
    let (_, ct, pt) = encrypt(&plaintext(10));
    let key = SigningKey::from_seed(&[7u8; 32]);
    let other = SigningKey::from_seed(&[8u8; 32]);
    let signed = SignedManifest::sign(manifest(1, GENESIS_HASH, ct, Some(pt)), &key).unwrap();
    assert!(matches!(
        signed.verify(&other.verifying_key()),
        Err(FormatError::SignatureInvalid)
    ));
    let mut sig = *signed.signature();
    sig[5] ^= 1;
    let forged = SignedManifest::parse(signed.bytes(), &sig).unwrap();
    assert!(matches!(
        forged.verify(&key.verifying_key()),
        Err(FormatError::SignatureInvalid)
    ));
    assert!(matches!(
        SignedManifest::parse(signed.bytes(), &sig[..63]),
        Err(FormatError::SignatureMalformed(_))
    ));
    // Edit the officer, keep the signature.
    let edited = String::from_utf8(signed.bytes().to_vec())
        .unwrap()
        .replace("boa-1234", "boa-9999");
    let parsed = SignedManifest::parse(edited.as_bytes(), signed.signature()).unwrap();
    assert!(matches!(
        parsed.verify(&key.verifying_key()),
        Err(FormatError::SignatureInvalid)
    ));
}

#[test]
fn ciphertext_tampering_is_detected() {
    let content = plaintext(300_000);
    let (ciphertext, ct, pt) = encrypt(&content);
    let key = SigningKey::from_seed(&[7u8; 32]);
    let signed = SignedManifest::sign(manifest(1, GENESIS_HASH, ct, Some(pt)), &key).unwrap();
    let vk = key.verifying_key();
    verify_recording(&signed, &vk, Cursor::new(&ciphertext)).unwrap();

    let mut out = Vec::new();
    let outcome = decrypt_recording(
        &signed,
        Cursor::new(&ciphertext),
        &evidence_identity(),
        &mut out,
    )
    .unwrap();
    assert!(outcome.complete);
    assert_eq!(out, content);

    let mut flipped = ciphertext.clone();
    flipped[ciphertext.len() / 2] ^= 0x01;
    assert!(matches!(
        verify_recording(&signed, &vk, Cursor::new(&flipped)),
        Err(FormatError::CiphertextHash)
    ));
    assert!(decrypt_recording(
        &signed,
        Cursor::new(&flipped),
        &evidence_identity(),
        Vec::new()
    )
    .is_err());

    let truncated = &ciphertext[..ciphertext.len() - 1000];
    assert!(matches!(
        verify_recording(&signed, &vk, Cursor::new(truncated)),
        Err(FormatError::CiphertextLength { .. })
    ));

    // Swap the first two 64 KiB chunks: the digest catches it, and so does age.
    let header_len = header_len_of(&ciphertext);
    let c = AGE_ENCRYPTED_CHUNK_SIZE as usize;
    let mut swapped = ciphertext.clone();
    let (a, b) = (header_len, header_len + c);
    let first = ciphertext[a..a + c].to_vec();
    swapped.copy_within(b..b + c, a);
    swapped[b..b + c].copy_from_slice(&first);
    assert_ne!(swapped, ciphertext);
    assert!(matches!(
        verify_recording(&signed, &vk, Cursor::new(&swapped)),
        Err(FormatError::CiphertextHash)
    ));
    assert!(matches!(
        decrypt_recording(
            &signed,
            Cursor::new(&swapped),
            &evidence_identity(),
            Vec::new()
        ),
        Err(FormatError::Decrypt(_))
    ));
}

/// The age header ends after the line starting with `---`.
fn header_len_of(ciphertext: &[u8]) -> usize {
    let pos = ciphertext.windows(4).position(|w| w == b"\n---").unwrap();
    pos + 1
        + ciphertext[pos + 1..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
        + 1
}

#[test]
fn truncated_recording_yields_its_authenticated_prefix() {
    let content = plaintext(500_000);
    let (ciphertext, _, _) = encrypt(&content);
    let cut =
        &ciphertext[..header_len_of(&ciphertext) + 3 * AGE_ENCRYPTED_CHUNK_SIZE as usize + 100];
    let ct = Ciphertext {
        length: cut.len() as u64,
        sha256: sha256(cut),
    };
    let key = SigningKey::from_seed(&[7u8; 32]);
    let signed = SignedManifest::sign(manifest(1, GENESIS_HASH, ct, None), &key).unwrap();
    verify_recording(&signed, &key.verifying_key(), Cursor::new(cut)).unwrap();
    let mut out = Vec::new();
    let outcome =
        decrypt_recording(&signed, Cursor::new(cut), &evidence_identity(), &mut out).unwrap();
    assert!(!outcome.complete);
    assert_eq!(out.len() as u64, 3 * AGE_CHUNK_SIZE);
    assert_eq!(out, content[..out.len()]);
}

#[test]
fn chain_findings_name_gaps_replays_and_broken_links() {
    let key = SigningKey::from_seed(&[7u8; 32]);
    let (_, ct, pt) = encrypt(&plaintext(10));
    let mut chain = Vec::new();
    let mut prev = GENESIS_HASH;
    for seq in 1..=5 {
        let s =
            SignedManifest::sign(manifest(seq, prev, ct.clone(), Some(pt.clone())), &key).unwrap();
        prev = s.sha256();
        chain.push(s);
    }
    assert_eq!(check_chain(None, &chain), vec![]);
    // Resending the same manifests is not a finding.
    let mut twice = chain.clone();
    twice.extend(chain.iter().cloned());
    assert_eq!(check_chain(None, &twice), vec![]);
    // A missing recording.
    let gap: Vec<_> = chain
        .iter()
        .filter(|m| m.manifest().sequence != 3)
        .cloned()
        .collect();
    assert_eq!(
        check_chain(None, &gap),
        vec![ChainFinding::Gap { from: 3, to: 3 }]
    );
    // Continuing from a known head.
    assert_eq!(
        check_chain(Some((2, chain[1].sha256())), &chain[2..]),
        vec![]
    );
    assert_eq!(
        check_chain(Some((2, [9u8; 32])), &chain[2..]),
        vec![ChainFinding::BrokenLink { sequence: 3 }]
    );
    // An old recording sent again after the head moved on.
    assert_eq!(
        check_chain(Some((5, chain[4].sha256())), &chain[1..2]),
        vec![ChainFinding::Replay { sequence: 2 }]
    );
    // A different manifest with a reused sequence number.
    let mut fork = manifest(4, chain[2].sha256(), ct.clone(), Some(pt.clone()));
    fork.officer_id = Some("someone-else".into());
    let fork = SignedManifest::sign(fork, &key).unwrap();
    let mut forked = chain.clone();
    forked.push(fork);
    assert!(check_chain(None, &forked).contains(&ChainFinding::Replay { sequence: 4 }));
}
