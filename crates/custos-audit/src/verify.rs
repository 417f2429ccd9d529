//! Recomputes a stored log and checks it against its signed checkpoints,
//! streaming (a million entries need no more memory than a few).
//!
//! The newest checkpoint, signature checked, proves every entry it covers
//! (that is the Merkle tree's job). The older checkpoints and the stored leaf
//! hashes only narrow down *where* a log was changed, so that the report can
//! name the first bad entry.

use custos_format::FormatError;

use crate::checkpoint::{Checkpoint, NoteVerifier};
use crate::merkle::{leaf_hash, Frontier, Hash};
use crate::AuditEntry;

/// One row of the stored log.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    /// The row's index (its primary key).
    pub index: u64,
    /// The entry's canonical bytes.
    pub bytes: Vec<u8>,
    /// The leaf hash stored beside it (kept for fast proofs).
    pub leaf_hash: Hash,
}

#[derive(Clone, Debug)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub note: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Tampering {
    #[error("entry {index} is missing: rows were deleted")]
    Missing { index: u64 },
    #[error("row {row} holds entry {claimed}: rows were inserted, renumbered or reordered")]
    Misplaced { row: u64, claimed: u64 },
    #[error("entry {index} is not a valid entry ({reason}): it was altered")]
    Malformed { index: u64, reason: String },
    #[error("entry {index} was altered: its content does not match its leaf hash")]
    Altered { index: u64 },
    #[error(
        "entries {first}..{size} do not match the signed checkpoint of size {size}: \
         entry {first} or one after it was altered, inserted or removed"
    )]
    RootMismatch { first: u64, size: u64 },
    #[error("checkpoint of size {size} is not valid: {reason}")]
    BadCheckpoint { size: u64, reason: String },
    #[error("entries from {index} on are not covered by any signed checkpoint: they were added outside the server")]
    Unsigned { index: u64 },
    #[error("the log holds {size} entries but a signed checkpoint covers {checkpoint}: entries were deleted from its end")]
    Truncated { size: u64, checkpoint: u64 },
}

impl Tampering {
    /// The first entry this finding puts in doubt.
    pub fn first_bad_entry(&self) -> Option<u64> {
        match *self {
            Self::Missing { index }
            | Self::Malformed { index, .. }
            | Self::Altered { index }
            | Self::Unsigned { index } => Some(index),
            Self::Misplaced { row, .. } => Some(row),
            Self::RootMismatch { first, .. } => Some(first),
            Self::Truncated { size, .. } => Some(size),
            Self::BadCheckpoint { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedLog {
    pub size: u64,
    pub root: Hash,
    pub checkpoints: usize,
    /// The newest signed checkpoint's note.
    pub latest: Option<String>,
}

/// Streaming verifier: feed the rows in index order, then [`LogVerifier::finish`].
pub struct LogVerifier {
    verifier: NoteVerifier,
    /// (size, root, note), ascending by size.
    checkpoints: Vec<(u64, Hash, String)>,
    next_checkpoint: usize,
    /// Size of the newest checkpoint that matched.
    good_until: u64,
    frontier: Frontier,
}

impl LogVerifier {
    pub fn new(
        verifier: &NoteVerifier,
        checkpoints: &[StoredCheckpoint],
    ) -> Result<Self, Tampering> {
        let mut parsed: Vec<(u64, Hash, String)> = Vec::with_capacity(checkpoints.len());
        for c in checkpoints {
            let body =
                parse_unverified(verifier, &c.note).map_err(|reason| Tampering::BadCheckpoint {
                    size: c.size,
                    reason,
                })?;
            if body.size != c.size {
                return Err(Tampering::BadCheckpoint {
                    size: c.size,
                    reason: format!("stored as size {} but says {}", c.size, body.size),
                });
            }
            parsed.push((body.size, body.root, c.note.clone()));
        }
        parsed.sort_by_key(|c| c.0);
        parsed.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        if let Some(w) = parsed.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Tampering::BadCheckpoint {
                size: w[0].0,
                reason: "two checkpoints of this size with different roots".into(),
            });
        }
        // The newest checkpoint carries the proof for everything: its
        // signature is always checked.
        if let Some((size, _, note)) = parsed.last() {
            verifier.open(note).map_err(|e| Tampering::BadCheckpoint {
                size: *size,
                reason: e.to_string(),
            })?;
        }
        let mut this = Self {
            verifier: verifier.clone(),
            checkpoints: parsed,
            next_checkpoint: 0,
            good_until: 0,
            frontier: Frontier::new(),
        };
        this.check_checkpoint()?;
        Ok(this)
    }

    pub fn push(&mut self, row: &StoredEntry) -> Result<(), Tampering> {
        let leaf = check_row(row, self.frontier.size())?;
        self.frontier.push(leaf);
        self.check_checkpoint()
    }

    /// Rows that should hold the next entries, checked on `threads` threads
    /// (parsing and hashing dominate `audit verify`); findings are reported
    /// in log order, exactly as [`LogVerifier::push`] one by one would.
    pub fn push_all(&mut self, rows: &[StoredEntry], threads: usize) -> Result<(), Tampering> {
        let start = self.frontier.size();
        let chunk = rows.len().div_ceil(threads.max(1)).max(1);
        let results: Vec<(Vec<Hash>, Option<Tampering>)> = std::thread::scope(|s| {
            let handles: Vec<_> = rows
                .chunks(chunk)
                .enumerate()
                .map(|(i, rows)| {
                    let first = start + (i * chunk) as u64;
                    s.spawn(move || {
                        let mut leaves = Vec::with_capacity(rows.len());
                        for (k, row) in rows.iter().enumerate() {
                            match check_row(row, first + k as u64) {
                                Ok(leaf) => leaves.push(leaf),
                                Err(t) => return (leaves, Some(t)),
                            }
                        }
                        (leaves, None)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("verifier thread panicked"))
                .collect()
        });
        for (leaves, finding) in results {
            for leaf in leaves {
                self.frontier.push(leaf);
                self.check_checkpoint()?;
            }
            if let Some(t) = finding {
                return Err(t);
            }
        }
        Ok(())
    }

    fn check_checkpoint(&mut self) -> Result<(), Tampering> {
        while let Some((size, root, note)) = self.checkpoints.get(self.next_checkpoint) {
            if *size != self.frontier.size() {
                return Ok(());
            }
            if *root != self.frontier.root() {
                // Only a checkpoint the log's key really signed may accuse.
                if let Err(e) = self.verifier.open(note) {
                    return Err(Tampering::BadCheckpoint {
                        size: *size,
                        reason: e.to_string(),
                    });
                }
                return Err(Tampering::RootMismatch {
                    first: self.good_until,
                    size: *size,
                });
            }
            self.good_until = *size;
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<VerifiedLog, Tampering> {
        let size = self.frontier.size();
        if let Some((checkpoint, _, _)) = self.checkpoints.get(self.next_checkpoint) {
            return Err(Tampering::Truncated {
                size,
                checkpoint: *checkpoint,
            });
        }
        let latest = self.checkpoints.last();
        let covered = latest.map_or(0, |c| c.0);
        if size > covered {
            return Err(Tampering::Unsigned { index: covered });
        }
        Ok(VerifiedLog {
            size,
            root: self.frontier.root(),
            checkpoints: self.checkpoints.len(),
            latest: latest.map(|c| c.2.clone()),
        })
    }
}

/// Everything about one row that does not depend on the others: its place,
/// its canonical form, its stored leaf hash. Returns the leaf hash.
fn check_row(row: &StoredEntry, position: u64) -> Result<Hash, Tampering> {
    if row.index > position {
        return Err(Tampering::Missing { index: position });
    }
    if row.index < position {
        return Err(Tampering::Misplaced {
            row: row.index,
            claimed: row.index,
        });
    }
    let entry = AuditEntry::parse(&row.bytes).map_err(|e: FormatError| Tampering::Malformed {
        index: position,
        reason: e.to_string(),
    })?;
    if entry.index != position {
        return Err(Tampering::Misplaced {
            row: position,
            claimed: entry.index,
        });
    }
    let leaf = leaf_hash(&row.bytes);
    if leaf != row.leaf_hash {
        return Err(Tampering::Altered { index: position });
    }
    Ok(leaf)
}

/// Reads a checkpoint body without checking its signature (done lazily:
/// see the module comment).
fn parse_unverified(verifier: &NoteVerifier, note: &str) -> Result<Checkpoint, String> {
    let (body, _) = note
        .split_once("\n\n")
        .ok_or_else(|| "not a signed note".to_string())?;
    let lines: Vec<&str> = body.split('\n').collect();
    let [origin, size, root] = lines[..] else {
        return Err("not a checkpoint".into());
    };
    if origin != verifier.name() {
        return Err(format!("for log `{origin}`, not this one"));
    }
    use base64::Engine;
    let root: Hash = base64::engine::general_purpose::STANDARD
        .decode(root)
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or("root is not 32 bytes of base64")?;
    let size = size.parse().map_err(|_| "size is not a number")?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

/// Verifies a whole log held in memory (tests, small exports).
pub fn verify_log(
    verifier: &NoteVerifier,
    entries: &[StoredEntry],
    checkpoints: &[StoredCheckpoint],
) -> Result<VerifiedLog, Tampering> {
    let mut v = LogVerifier::new(verifier, checkpoints)?;
    v.push_all(entries, 3)?;
    v.finish()
}
