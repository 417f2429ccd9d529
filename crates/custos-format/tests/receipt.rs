//! Server receipts: what lets a camera delete a recording, and every way a
//! receipt can fail to.

use custos_format::*;
use uuid::Uuid;

fn t(ms: i64) -> UtcMillis {
    UtcMillis::from_millis(1_795_424_400_000 + ms).unwrap()
}

fn manifest(seq: u64, prev: [u8; 32], ciphertext: &[u8]) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT.into(),
        recording_id: Uuid::from_u128(0x01a2_07a2_3280_7000_8000_0000_0000_0000 | seq as u128),
        device_id: "cam-1".into(),
        sequence: seq,
        previous_manifest_sha256: prev,
        officer_id: None,
        started_at: t(0),
        triggered_at: t(0),
        ended_at: t(1000),
        trigger: Trigger::RecordButton,
        stop_reason: StopReason::StopButton,
        prerecord_seconds: 0,
        prerecord_included_ms: 0,
        video: VideoParams {
            codec: "h264".into(),
            container: "fmp4".into(),
            width: 640,
            height: 360,
            fps: 30,
            max_fragment_ms: 1000,
        },
        gps: vec![],
        bookmarks: vec![],
        display_events: vec![],
        encryption: Encryption {
            scheme: "age-v1".into(),
            recipient: age::x25519::Identity::generate().to_public().to_string(),
        },
        ciphertext: Ciphertext {
            length: ciphertext.len() as u64,
            sha256: sha256(ciphertext),
        },
        plaintext: Some(Plaintext {
            length: 1,
            sha256: [1; 32],
        }),
        firmware: "test".into(),
        truncated: false,
    }
}

#[test]
fn a_receipt_confirms_exactly_its_recording() {
    let camera = SigningKey::from_seed(&[1; 32]);
    let server = SigningKey::from_seed(&[2; 32]);
    let impostor = SigningKey::from_seed(&[3; 32]);
    let m1 = SignedManifest::sign(manifest(1, GENESIS_HASH, b"one"), &camera).unwrap();
    let m2 = SignedManifest::sign(manifest(2, m1.sha256(), b"two"), &camera).unwrap();

    let r1 =
        SignedReceipt::sign(Receipt::for_manifest(&m1, t(5000), "rotterdam"), &server).unwrap();
    let confirmed = r1.confirm(&server.verifying_key(), &m1).unwrap();
    assert_eq!(confirmed.receipt().recording_id, m1.manifest().recording_id);

    // Round trip through bytes, as it travels and is stored.
    let again = SignedReceipt::parse(r1.bytes(), r1.signature()).unwrap();
    assert!(again.confirm(&server.verifying_key(), &m1).is_ok());

    assert_eq!(
        r1.confirm(&impostor.verifying_key(), &m1).unwrap_err(),
        ReceiptMismatch::Signature
    );
    assert_eq!(
        r1.confirm(&server.verifying_key(), &m2).unwrap_err(),
        ReceiptMismatch::Recording
    );
    let forged =
        SignedReceipt::sign(Receipt::for_manifest(&m1, t(5000), "rotterdam"), &impostor).unwrap();
    assert_eq!(
        forged.confirm(&server.verifying_key(), &m1).unwrap_err(),
        ReceiptMismatch::Signature
    );

    // Same recording id, but the server accepted a different manifest or ciphertext.
    let mut other = Receipt::for_manifest(&m1, t(5000), "rotterdam");
    other.manifest_sha256 = [9; 32];
    let other = SignedReceipt::sign(other, &server).unwrap();
    assert_eq!(
        other.confirm(&server.verifying_key(), &m1).unwrap_err(),
        ReceiptMismatch::Manifest
    );
    let mut short = Receipt::for_manifest(&m1, t(5000), "rotterdam");
    short.ciphertext_length -= 1;
    let short = SignedReceipt::sign(short, &server).unwrap();
    assert_eq!(
        short.confirm(&server.verifying_key(), &m1).unwrap_err(),
        ReceiptMismatch::Ciphertext
    );

    // An edited receipt no longer verifies.
    let edited = String::from_utf8(r1.bytes().to_vec())
        .unwrap()
        .replace("rotterdam", "bocholt00");
    let edited = SignedReceipt::parse(edited.as_bytes(), r1.signature()).unwrap();
    assert_eq!(
        edited.confirm(&server.verifying_key(), &m1).unwrap_err(),
        ReceiptMismatch::Signature
    );
}

#[test]
fn receipt_garbage_and_truncations_are_refused() {
    let camera = SigningKey::from_seed(&[1; 32]);
    let server = SigningKey::from_seed(&[2; 32]);
    let m1 = SignedManifest::sign(manifest(1, GENESIS_HASH, b"one"), &camera).unwrap();
    let r1 =
        SignedReceipt::sign(Receipt::for_manifest(&m1, t(5000), "rotterdam"), &server).unwrap();
    let bytes = r1.bytes();
    for cut in 0..bytes.len() {
        assert!(
            SignedReceipt::parse(&bytes[..cut], r1.signature()).is_err(),
            "cut {cut}"
        );
    }
    assert!(SignedReceipt::parse(bytes, &r1.signature()[..10]).is_err());
    // A manifest is not a receipt, and vice versa.
    assert!(matches!(
        SignedReceipt::parse(m1.bytes(), m1.signature()),
        Err(FormatError::UnsupportedFormat(_))
    ));
    assert!(matches!(
        SignedManifest::parse(bytes, r1.signature()),
        Err(FormatError::UnsupportedFormat(_))
    ));
    let spaced = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replacen(',', ", ", 1);
    assert!(matches!(
        SignedReceipt::parse(spaced.as_bytes(), r1.signature()),
        Err(FormatError::NotCanonical)
    ));
    let mut bad = Receipt::for_manifest(&m1, t(5000), "no/slashes");
    assert!(SignedReceipt::sign(bad.clone(), &server).is_err());
    bad.server_id = "ok".into();
    bad.sequence = 0;
    assert!(SignedReceipt::sign(bad, &server).is_err());
}

/// A deletion receipt: canonical bytes a second implementation can match,
/// told apart from an ingest receipt by its `format`, and confirmed on
/// exactly the same conditions.
#[test]
fn a_deletion_receipt_is_canonical_and_confirms_exactly_its_recording() {
    let camera = SigningKey::from_seed(&[1; 32]);
    let server = SigningKey::from_seed(&[2; 32]);
    let impostor = SigningKey::from_seed(&[3; 32]);
    let fixed = DeletionReceipt {
        format: DELETION_RECEIPT_FORMAT.into(),
        recording_id: Uuid::from_u128(0x01a2_07a2_3280_7000_8000_0000_0000_0001),
        device_id: "cam-1".into(),
        sequence: 1,
        manifest_sha256: [0xab; 32],
        ciphertext_sha256: [0xcd; 32],
        ciphertext_length: 1234,
        deleted_at: t(86_400_000),
        reason: "retention-period".into(),
        server_id: "rotterdam".into(),
    };
    let signed = SignedDeletionReceipt::sign(fixed.clone(), &server).unwrap();
    assert_eq!(
        String::from_utf8(signed.bytes().to_vec()).unwrap(),
        format!(
            concat!(
                r#"{{"ciphertext_length":1234,"ciphertext_sha256":"{}","deleted_at":"2026-11-24T09:00:00.000Z","#,
                r#""device_id":"cam-1","format":"custos.deletion-receipt/1","manifest_sha256":"{}","#,
                r#""reason":"retention-period","recording_id":"01a207a2-3280-7000-8000-000000000001","#,
                r#""sequence":1,"server_id":"rotterdam"}}"#
            ),
            "cd".repeat(32),
            "ab".repeat(32)
        )
    );
    let parsed = Handover::parse(signed.bytes(), signed.signature()).unwrap();
    assert!(matches!(parsed, Handover::Deleted(ref r) if *r.content() == fixed));

    let m1 = SignedManifest::sign(manifest(1, GENESIS_HASH, b"one"), &camera).unwrap();
    let m2 = SignedManifest::sign(manifest(2, m1.sha256(), b"two"), &camera).unwrap();
    let deleted = |m: &SignedManifest, key: &SigningKey| {
        Handover::from(
            SignedDeletionReceipt::sign(
                DeletionReceipt::for_manifest(m, t(9000), "retention-period", "rotterdam"),
                key,
            )
            .unwrap(),
        )
    };
    let good = deleted(&m1, &server);
    let confirmed = good.confirm(&server.verifying_key(), &m1).unwrap();
    assert!(confirmed.is_deletion());
    assert_eq!(
        confirmed.ciphertext(),
        (
            m1.manifest().ciphertext.sha256,
            m1.manifest().ciphertext.length
        )
    );
    assert_eq!(
        deleted(&m1, &impostor)
            .confirm(&server.verifying_key(), &m1)
            .unwrap_err(),
        ReceiptMismatch::Signature
    );
    assert_eq!(
        good.confirm(&server.verifying_key(), &m2).unwrap_err(),
        ReceiptMismatch::Recording
    );
    let mut other = DeletionReceipt::for_manifest(&m1, t(9000), "retention-period", "rotterdam");
    other.manifest_sha256 = [9; 32];
    let other = Handover::from(SignedDeletionReceipt::sign(other, &server).unwrap());
    assert_eq!(
        other.confirm(&server.verifying_key(), &m1).unwrap_err(),
        ReceiptMismatch::Manifest
    );
    // An ingest receipt read back through Handover is still one.
    let stored =
        SignedReceipt::sign(Receipt::for_manifest(&m1, t(5000), "rotterdam"), &server).unwrap();
    let back = Handover::parse(stored.bytes(), stored.signature()).unwrap();
    assert!(!back
        .confirm(&server.verifying_key(), &m1)
        .unwrap()
        .is_deletion());

    // Garbage, truncations, edits and a bad reason are refused.
    let Handover::Deleted(signed_good) = &good else {
        unreachable!()
    };
    let bytes = signed_good.bytes();
    for cut in 0..bytes.len() {
        assert!(
            Handover::parse(&bytes[..cut], signed_good.signature()).is_err(),
            "cut {cut}"
        );
    }
    let edited = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("rotterdam", "bocholt00");
    let edited = Handover::parse(edited.as_bytes(), signed_good.signature()).unwrap();
    assert_eq!(
        edited.confirm(&server.verifying_key(), &m1).unwrap_err(),
        ReceiptMismatch::Signature
    );
    let mut bad = fixed;
    bad.reason = "deleted because\n".into();
    assert!(SignedDeletionReceipt::sign(bad, &server).is_err());
    assert!(matches!(
        Handover::parse(m1.bytes(), m1.signature()),
        Err(FormatError::UnsupportedFormat(_))
    ));
}
