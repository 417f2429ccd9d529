//! Every way of changing a stored log is caught, and the report names the
//! first bad entry.

use custos_audit::checkpoint::default_origin;
use custos_audit::merkle::{self, Frontier};
use custos_audit::*;
use custos_format::{SigningKey, UtcMillis};

fn signer() -> NoteSigner {
    let key = SigningKey::from_seed(&[3; 32]);
    NoteSigner::new(&default_origin(&key.verifying_key()), key).unwrap()
}

fn event(i: u64) -> AuditEvent {
    AuditEvent::new(
        UtcMillis::from_millis(1_790_000_000_000 + i as i64).unwrap(),
        format!("user:u{}", i % 3),
        "recording.play",
        Outcome::Ok,
    )
    .object(format!("recording:{i}"))
    .purpose("investigation", "PV-1")
}

/// A log of `sizes` batches (one checkpoint each).
fn log(batches: &[usize]) -> (Vec<StoredEntry>, Vec<StoredCheckpoint>) {
    let s = signer();
    let mut f = Frontier::new();
    let (mut rows, mut cps) = (Vec::new(), Vec::new());
    let mut i = 0;
    for &n in batches {
        let events: Vec<_> = (i..i + n as u64).map(event).collect();
        i += n as u64;
        let (r, c) = append_batch(&mut f, events, &s).unwrap();
        rows.extend(r);
        cps.push(c);
    }
    (rows, cps)
}

fn verify(rows: &[StoredEntry], cps: &[StoredCheckpoint]) -> Result<VerifiedLog, Tampering> {
    verify_log(&signer().verifier(), rows, cps)
}

#[test]
fn an_untouched_log_verifies_and_matches_its_merkle_root() {
    let (rows, cps) = log(&[1, 5, 1, 10, 3]);
    let v = verify(&rows, &cps).unwrap();
    assert_eq!(v.size, 20);
    assert_eq!(v.checkpoints, 5);
    let leaves: Vec<_> = rows.iter().map(|r| r.leaf_hash).collect();
    assert_eq!(v.root, merkle::root(&leaves));
    assert!(verify(&[], &[]).is_ok());
}

/// Editing an entry and (as a careful forger would) its stored leaf hash.
fn edit(row: &mut StoredEntry, from: &str, to: &str, fix_leaf: bool) {
    let text = String::from_utf8(row.bytes.clone()).unwrap();
    assert!(text.contains(from), "{text}");
    row.bytes = text.replacen(from, to, 1).into_bytes();
    if fix_leaf {
        row.leaf_hash = merkle::leaf_hash(&row.bytes);
    }
}

#[test]
fn an_edited_entry_is_named() {
    let (rows, cps) = log(&[1, 5, 1, 10, 3]);
    let mut careless = rows.clone();
    edit(&mut careless[8], "investigation", "complaint", false);
    assert_eq!(
        verify(&careless, &cps),
        Err(Tampering::Altered { index: 8 })
    );

    let mut careful = rows.clone();
    edit(&mut careful[8], "investigation", "complaint", true);
    let err = verify(&careful, &cps).unwrap_err();
    // Entry 8 lies in the batch of entries 7..17: the report names its start.
    assert_eq!(err, Tampering::RootMismatch { first: 7, size: 17 });
    assert_eq!(err.first_bad_entry(), Some(7));

    // With one entry per batch (the usual case at low load), exactly.
    let (rows, cps) = log(&[1; 12]);
    let mut careful = rows.clone();
    edit(&mut careful[5], "user:u2", "user:u1", true);
    assert_eq!(
        verify(&careful, &cps).unwrap_err().first_bad_entry(),
        Some(5)
    );

    // Spelling the same content differently is an edit too.
    let mut respelled = rows.clone();
    edit(&mut respelled[2], "\"index\":2", "\"index\": 2", true);
    assert!(matches!(
        verify(&respelled, &cps),
        Err(Tampering::Malformed { index: 2, .. })
    ));
}

#[test]
fn a_deleted_entry_is_named() {
    let (mut rows, cps) = log(&[1, 5, 1, 10, 3]);
    rows.remove(4);
    assert_eq!(verify(&rows, &cps), Err(Tampering::Missing { index: 4 }));
}

#[test]
fn deleting_from_the_end_is_caught() {
    let (mut rows, cps) = log(&[1, 5, 1, 10, 3]);
    rows.truncate(18);
    assert_eq!(
        verify(&rows, &cps),
        Err(Tampering::Truncated {
            size: 18,
            checkpoint: 20
        })
    );
}

#[test]
fn an_inserted_entry_is_named() {
    let (rows, cps) = log(&[1, 5, 1, 10, 3]);
    // Inserted at the end, correctly formed, but no checkpoint signs it.
    let mut at_end = rows.clone();
    let mut f = Frontier::new();
    for r in &rows {
        f.push(r.leaf_hash);
    }
    let forger = NoteSigner::new(signer().origin(), SigningKey::from_seed(&[4; 32])).unwrap();
    let (extra, forged_cp) = append_batch(&mut f, [event(99)], &forger).unwrap();
    at_end.extend(extra.clone());
    assert_eq!(
        verify(&at_end, &cps),
        Err(Tampering::Unsigned { index: 20 })
    );
    // A checkpoint signed with another key does not help.
    let mut cps_forged = cps.clone();
    cps_forged.push(forged_cp);
    assert!(matches!(
        verify(&at_end, &cps_forged),
        Err(Tampering::BadCheckpoint { size: 21, .. })
    ));
    // Inserted in the middle, renumbering the rest.
    let mut middle: Vec<StoredEntry> = rows[..6].to_vec();
    let mut inserted = rows[6].clone();
    edit(&mut inserted, "recording:6", "recording:666", true);
    middle.push(inserted);
    for r in &rows[6..] {
        let mut r = r.clone();
        r.index += 1;
        middle.push(r);
    }
    let err = verify(&middle, &cps).unwrap_err();
    assert_eq!(err.first_bad_entry(), Some(6), "{err}");
}

#[test]
fn reordered_entries_are_named() {
    let (mut rows, cps) = log(&[1, 5, 1, 10, 3]);
    let (a, b) = (rows[10].clone(), rows[11].clone());
    rows[10] = StoredEntry { index: 10, ..b };
    rows[11] = StoredEntry { index: 11, ..a };
    assert_eq!(
        verify(&rows, &cps),
        Err(Tampering::Misplaced {
            row: 10,
            claimed: 11
        })
    );
}

#[test]
fn forged_or_garbled_checkpoints_are_refused() {
    let (rows, mut cps) = log(&[1, 5, 1, 10, 3]);
    let last = cps.len() - 1;
    cps[last].note = cps[last].note.replacen("\n20\n", "\n19\n", 1);
    assert!(matches!(
        verify(&rows, &cps),
        Err(Tampering::BadCheckpoint { size: 20, .. })
    ));
    let (rows, mut cps) = log(&[1, 5, 1, 10, 3]);
    cps[last].note.truncate(30);
    assert!(verify(&rows, &cps).is_err());
    let (rows, mut cps) = log(&[1, 5, 1, 10, 3]);
    cps[1].note = "garbage".into();
    assert!(verify(&rows, &cps).is_err());
    // Any change to the newest checkpoint's root is refused even where the
    // entries were left alone.
    let (rows, mut cps) = log(&[2, 2]);
    let other = signer().sign(4, [0; 32]);
    cps[1].note = other;
    assert!(matches!(
        verify(&rows, &cps),
        Err(Tampering::RootMismatch { first: 2, size: 4 })
    ));
}

#[test]
fn proofs_from_stored_leaves_verify_against_a_checkpoint() {
    let (rows, cps) = log(&[3, 4, 9]);
    let v = signer().verifier();
    let leaves: Vec<_> = rows.iter().map(|r| r.leaf_hash).collect();
    let old = v.open(&cps[1].note).unwrap();
    let new = v.open(&cps[2].note).unwrap();
    for (i, leaf) in leaves.iter().enumerate() {
        let proof = merkle::inclusion_proof(i, &leaves).unwrap();
        assert!(merkle::verify_inclusion(
            i as u64, 16, leaf, &proof, &new.root
        ));
    }
    let proof = merkle::consistency_proof(old.size as usize, &leaves).unwrap();
    assert!(merkle::verify_consistency(
        old.size, new.size, &old.root, &new.root, &proof
    ));
}
