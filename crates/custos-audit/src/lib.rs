//! The audit log's format: what an entry is, how entries form an RFC 6962
//! Merkle tree, how the server signs checkpoints of that tree (C2SP
//! `tlog-checkpoint` in a `signed-note`), the inclusion and consistency proofs,
//! and the verification `custos audit verify` runs.
//!
//! Like `custos-format`, this crate does no I/O: the catalog stores entries
//! and checkpoints, the server appends, and an offline verifier needs only
//! this crate and the log's public key. `docs/FORMAT.md` §11 is the normative
//! text.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod csv;
pub mod entry;
pub mod merkle;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, NoteSigner, NoteVerifier};
pub use entry::{excerpt, is_hostile_char, AuditEntry, AuditEvent, Outcome, AUDIT_ENTRY_FORMAT};
pub use merkle::{Frontier, Hash};
pub use verify::{verify_log, StoredCheckpoint, StoredEntry, Tampering, VerifiedLog};

pub use verify::LogVerifier;

/// Places `events` at the end of the log whose right edge is `frontier`:
/// returns the rows to store and the signed checkpoint covering them. The
/// caller stores both in one transaction (group commit: one checkpoint per
/// batch, so no stored entry is ever outside a signed checkpoint).
pub fn append_batch(
    frontier: &mut Frontier,
    events: impl IntoIterator<Item = AuditEvent>,
    signer: &NoteSigner,
) -> Result<(Vec<StoredEntry>, StoredCheckpoint), custos_format::FormatError> {
    let mut next = frontier.clone();
    let mut rows = Vec::new();
    for event in events {
        let entry = AuditEntry {
            index: next.size(),
            event,
        };
        let bytes = entry.to_bytes()?;
        let leaf_hash = merkle::leaf_hash(&bytes);
        next.push(leaf_hash);
        rows.push(StoredEntry {
            index: entry.index,
            bytes,
            leaf_hash,
        });
    }
    let checkpoint = StoredCheckpoint {
        size: next.size(),
        note: signer.sign(next.size(), next.root()),
    };
    *frontier = next;
    Ok((rows, checkpoint))
}

/// Fuzz entry point (`fuzz/fuzz_targets/audit_entry.rs`): bytes as a stored
/// entry, and as a checkpoint note with its verifier key (split at the
/// first `\0`): parsed and checked or refused, never a panic; an entry that
/// parses re-encodes to exactly its bytes.
#[doc(hidden)]
pub fn fuzz_entry_and_checkpoint(data: &[u8]) {
    if let Ok(entry) = AuditEntry::parse(data) {
        assert_eq!(entry.to_bytes().expect("a parsed entry encodes"), data);
    }
    let (verifier, note) = match data.iter().position(|b| *b == 0) {
        Some(i) => {
            let Some(verifier) = std::str::from_utf8(&data[..i])
                .ok()
                .and_then(|k| NoteVerifier::parse(k).ok())
            else {
                return;
            };
            (verifier, &data[i + 1..])
        }
        None => (fuzz_signer().verifier(), data),
    };
    if let Ok(note) = std::str::from_utf8(note) {
        let _ = verifier.open(note);
    }
}

/// The fixed signer whose checkpoints seed the fuzzer (`fuzz/seeds/audit_entry`).
#[doc(hidden)]
pub fn fuzz_signer() -> NoteSigner {
    NoteSigner::new(
        "fuzz.custos.invalid/audit",
        custos_format::SigningKey::from_seed(&[7u8; 32]),
    )
    .expect("a valid origin")
}
