//! Checks anyone can run on evidence: without the evidence key (signature,
//! ciphertext digest, chain) and, where the key is at hand, on the content.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::{FormatError, SignedManifest, VerifyingKey, GENESIS_HASH};

/// Verifies the camera's signature and that `ciphertext` is exactly the bytes
/// the manifest names. Any flipped, removed, appended or reordered byte fails.
pub fn verify_recording<R: Read>(
    signed: &SignedManifest,
    key: &VerifyingKey,
    ciphertext: R,
) -> Result<(), FormatError> {
    signed.verify(key)?;
    let (length, sha256) = digest_reader(ciphertext)?;
    let expected = &signed.manifest().ciphertext;
    if length != expected.length {
        return Err(FormatError::CiphertextLength {
            expected: expected.length,
            actual: length,
        });
    }
    if sha256 != expected.sha256 {
        return Err(FormatError::CiphertextHash);
    }
    Ok(())
}

/// SHA-256 and length of everything `reader` yields.
pub fn digest_reader<R: Read>(mut reader: R) -> io::Result<(u64, [u8; 32])> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((total, hasher.finalize().into()))
}

/// What decryption recovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptOutcome {
    /// Plaintext bytes written to `out`, every one of them authenticated.
    pub plaintext_len: u64,
    /// The age stream ended with its final chunk. Always true for an accepted
    /// untruncated recording; false for a power-loss recording, whose content
    /// is the authenticated prefix.
    pub complete: bool,
}

/// Decrypts `ciphertext` into `out` with the evidence identity and checks the
/// result against the manifest. For a `truncated` recording, writes the
/// authenticated prefix (whole 64 KiB chunks) and reports it incomplete.
///
/// Call [`verify_recording`] first: this function trusts the manifest.
pub fn decrypt_recording<R: Read, W: Write>(
    signed: &SignedManifest,
    ciphertext: R,
    identity: &age::x25519::Identity,
    mut out: W,
) -> Result<DecryptOutcome, FormatError> {
    let decryptor =
        age::Decryptor::new(ciphertext).map_err(|e| FormatError::Decrypt(e.to_string()))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| FormatError::Decrypt(e.to_string()))?;
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; crate::AGE_CHUNK_SIZE as usize];
    let complete = loop {
        match reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                out.write_all(&buf[..n])?;
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if signed.manifest().truncated => {
                // The missing final chunk of a power-loss recording surfaces here.
                let _ = e;
                break false;
            }
            Err(e) => return Err(FormatError::Decrypt(e.to_string())),
        }
    };
    out.flush()?;
    if let Some(expected) = &signed.manifest().plaintext {
        if total != expected.length {
            return Err(FormatError::PlaintextLength {
                expected: expected.length,
                actual: total,
            });
        }
        let actual: [u8; 32] = hasher.finalize().into();
        if actual != expected.sha256 {
            return Err(FormatError::PlaintextHash);
        }
    }
    Ok(DecryptOutcome {
        plaintext_len: total,
        complete,
    })
}

/// A break in one camera's sequence of recordings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainFinding {
    /// Sequence numbers `from..=to` are absent.
    Gap { from: u64, to: u64 },
    /// Two different manifests claim the same sequence number.
    Replay { sequence: u64 },
    /// `sequence`'s `previous_manifest_sha256` is not the hash of its predecessor.
    BrokenLink { sequence: u64 },
    /// A manifest of another device is mixed in.
    ForeignDevice { sequence: u64, device_id: String },
}

/// Checks a camera's manifests as a chain. `known_head` is the last manifest
/// already accepted before these (sequence and hash), if any. Manifests may be
/// given in any order; identical duplicates are ignored (idempotent resend).
pub fn check_chain(
    known_head: Option<(u64, [u8; 32])>,
    manifests: &[SignedManifest],
) -> Vec<ChainFinding> {
    let mut findings = Vec::new();
    let mut sorted: Vec<&SignedManifest> = manifests.iter().collect();
    sorted.sort_by_key(|m| m.manifest().sequence);
    sorted.dedup_by(|a, b| a.bytes() == b.bytes());
    let Some(first) = sorted.first() else {
        return findings;
    };
    let device = first.manifest().device_id.clone();
    let (mut prev_seq, mut prev_hash) = known_head.unwrap_or((0, GENESIS_HASH));
    let mut prev_known = true;
    for m in sorted {
        let seq = m.manifest().sequence;
        if m.manifest().device_id != device {
            findings.push(ChainFinding::ForeignDevice {
                sequence: seq,
                device_id: m.manifest().device_id.clone(),
            });
            continue;
        }
        if seq == prev_seq {
            findings.push(ChainFinding::Replay { sequence: seq });
            continue;
        }
        if seq < prev_seq {
            // Older than the known head: a replay of something already accepted.
            findings.push(ChainFinding::Replay { sequence: seq });
            continue;
        }
        if seq > prev_seq + 1 {
            findings.push(ChainFinding::Gap {
                from: prev_seq + 1,
                to: seq - 1,
            });
            prev_known = false;
        }
        if prev_known && m.manifest().previous_manifest_sha256 != prev_hash {
            findings.push(ChainFinding::BrokenLink { sequence: seq });
        }
        prev_seq = seq;
        prev_hash = m.sha256();
        prev_known = true;
    }
    findings
}

/// Fuzz entry point shared by `fuzz/` and the in-tree smoke test: parsing must
/// never panic, and whatever parses must re-encode to the same bytes.
pub fn fuzz_manifest_parse(data: &[u8]) {
    if let Ok(m) = crate::Manifest::from_canonical_bytes(data) {
        let again = m
            .to_canonical_bytes()
            .expect("a parsed manifest re-encodes");
        assert_eq!(again, data, "parser accepted non-canonical bytes");
    }
    let split = data.len().min(64);
    let _ = SignedManifest::parse(&data[split..], &data[..split]);
}
