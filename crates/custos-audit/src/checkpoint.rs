//! Checkpoints: the log's size and root, as a C2SP `tlog-checkpoint`
//! (<https://c2sp.org/tlog-checkpoint>) in a C2SP `signed-note`
//! (<https://c2sp.org/signed-note>) signed with Ed25519, so that standard
//! transparency-log tooling (Go's `golang.org/x/mod/sumdb/note`, witnesses)
//! reads and verifies them.
//!
//! ```text
//! custos.local/audit/0a1b2c3d
//! 1024
//! <base64 root hash>
//!
//! — custos.local/audit/0a1b2c3d <base64(key hash[4] ‖ signature[64])>
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use custos_format::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::Hash;

/// Ed25519 in the signed-note algorithm registry.
const ALG_ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";
const MAX_NOTE_LEN: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("not a signed note: {0}")]
    Malformed(&'static str),
    #[error("checkpoint is for log `{0}`, not this one")]
    WrongOrigin(String),
    #[error("no signature by this log's key")]
    NotSignedByLogKey,
    #[error("signature by this log's key does not verify")]
    BadSignature,
    #[error("verifier key is malformed: {0}")]
    BadKey(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note's body (the signed text).
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .ok_or(CheckpointError::Malformed("no origin"))?;
        let size = lines.next().ok_or(CheckpointError::Malformed("no size"))?;
        let root = lines.next().ok_or(CheckpointError::Malformed("no root"))?;
        // Extension lines may follow; this log writes none and accepts none.
        if lines.next() != Some("") || lines.next().is_some() {
            return Err(CheckpointError::Malformed("unexpected lines in body"));
        }
        if origin.is_empty() {
            return Err(CheckpointError::Malformed("empty origin"));
        }
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(CheckpointError::Malformed("size is not a decimal"));
        }
        let size = size
            .parse()
            .map_err(|_| CheckpointError::Malformed("size too large"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(CheckpointError::Malformed("root is not 32 bytes of base64"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

fn key_hash(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(key.to_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), CheckpointError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(CheckpointError::BadKey(
            "name must be non-empty, without spaces or '+'",
        ));
    }
    Ok(())
}

/// The log's signing side. The key name is also the checkpoint origin.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl NoteSigner {
    pub fn new(name: &str, key: SigningKey) -> Result<Self, CheckpointError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    pub fn origin(&self) -> &str {
        &self.name
    }

    /// A signed checkpoint of a tree of `size` leaves with `root`.
    pub fn sign(&self, size: u64, root: Hash) -> String {
        let body = Checkpoint {
            origin: self.name.clone(),
            size,
            root,
        }
        .body();
        let mut blob = key_hash(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&self.key.sign(body.as_bytes()));
        format!("{body}\n{DASH}{} {}\n", self.name, B64.encode(blob))
    }
}

/// The log's public key, as a signed-note verifier key string
/// `NAME+KEYHASH+BASE64(0x01 ‖ PUBKEY)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        // The key's base64 may itself contain '+': split at the first two only.
        let mut parts = vkey.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CheckpointError::BadKey("expected NAME+HASH+KEY"));
        };
        check_name(name)?;
        let key = B64
            .decode(key)
            .map_err(|_| CheckpointError::BadKey("key is not base64"))?;
        // An empty key once panicked here (found by the fuzzer, fuzz/regressions/audit_entry).
        let Some((&ALG_ED25519, public)) = key.split_first() else {
            return Err(CheckpointError::BadKey("not an Ed25519 key"));
        };
        let Ok(key) = VerifyingKey::from_bytes(public) else {
            return Err(CheckpointError::BadKey("not an Ed25519 key"));
        };
        let this = Self {
            name: name.to_owned(),
            key,
        };
        if hash != hex::encode(key_hash(name, &this.key)) {
            return Err(CheckpointError::BadKey("key hash does not match"));
        }
        Ok(this)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn to_vkey(&self) -> String {
        let mut key = vec![ALG_ED25519];
        key.extend_from_slice(&self.key.to_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_hash(&self.name, &self.key)),
            B64.encode(key)
        )
    }

    /// Opens a signed checkpoint: it must carry a valid signature by this
    /// key and name this log as its origin. Signatures by other keys
    /// (witnesses' cosignatures) are allowed and ignored.
    pub fn open(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(CheckpointError::Malformed("too long"));
        }
        let split = note.find("\n\n").ok_or(CheckpointError::Malformed(
            "no blank line before signatures",
        ))?;
        let (body, signatures) = (&note[..split + 1], &note[split + 2..]);
        if signatures.is_empty() || !signatures.ends_with('\n') {
            return Err(CheckpointError::Malformed(
                "signature lines must end with a newline",
            ));
        }
        let my_hash = key_hash(&self.name, &self.key);
        let mut found = false;
        for line in signatures[..signatures.len() - 1].split('\n') {
            let rest = line
                .strip_prefix(DASH)
                .ok_or(CheckpointError::Malformed("signature line without em dash"))?;
            let (name, sig) = rest.split_once(' ').ok_or(CheckpointError::Malformed(
                "signature line without key name",
            ))?;
            let sig = B64
                .decode(sig)
                .map_err(|_| CheckpointError::Malformed("signature is not base64"))?;
            if sig.len() < 5 {
                return Err(CheckpointError::Malformed("signature too short"));
            }
            if name != self.name || sig[..4] != my_hash {
                continue;
            }
            self.key
                .verify(body.as_bytes(), &sig[4..])
                .map_err(|_| CheckpointError::BadSignature)?;
            found = true;
        }
        if !found {
            return Err(CheckpointError::NotSignedByLogKey);
        }
        let checkpoint = Checkpoint::parse_body(body)?;
        if checkpoint.origin != self.name {
            return Err(CheckpointError::WrongOrigin(checkpoint.origin));
        }
        Ok(checkpoint)
    }
}

/// The origin (and key name) of a deployment's audit log: stable per key.
pub fn default_origin(key: &VerifyingKey) -> String {
    format!(
        "custos.local/audit/{}",
        hex::encode(&custos_format::sha256(&key.to_bytes())[..4])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> NoteSigner {
        let key = SigningKey::from_seed(&[7; 32]);
        NoteSigner::new(&default_origin(&key.verifying_key()), key).unwrap()
    }

    #[test]
    fn verifier_keys_whose_base64_holds_a_plus_parse() {
        // Seeds until the encoded key contains '+' (and '/'), as real keys do.
        let with_plus = (0u8..=255)
            .map(|i| NoteSigner::new("log.example", SigningKey::from_seed(&[i; 32])).unwrap())
            .find(|s| s.verifier().to_vkey().matches('+').count() > 2)
            .expect("some key encodes a '+'");
        let vkey = with_plus.verifier().to_vkey();
        assert_eq!(NoteVerifier::parse(&vkey).unwrap(), with_plus.verifier());
    }

    #[test]
    fn verifier_keys_with_no_key_or_the_wrong_one_are_refused_not_a_panic() {
        let good = signer().verifier().to_vkey();
        let (name_and_hash, _) = good.rsplit_once('+').unwrap();
        for bad in [
            format!("{name_and_hash}+"),
            format!("{name_and_hash}+AQ=="),
            format!("{name_and_hash}+Ag{}", &good[good.len() - 42..]),
            "a+b+".to_owned(),
            "++".to_owned(),
        ] {
            assert!(NoteVerifier::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signs_and_opens() {
        let s = signer();
        let note = s.sign(42, [9; 32]);
        let v = NoteVerifier::parse(&s.verifier().to_vkey()).unwrap();
        let c = v.open(&note).unwrap();
        assert_eq!((c.size, c.root), (42, [9; 32]));
        assert!(note.starts_with(&format!("{}\n42\n", s.origin())));
        assert!(note.contains("\n\n\u{2014} custos.local/audit/"));
    }

    #[test]
    fn a_cosignature_by_another_key_is_ignored() {
        let s = signer();
        let other = NoteSigner::new("witness.example", SigningKey::from_seed(&[8; 32])).unwrap();
        let note = s.sign(3, [1; 32]);
        let witness_line = other.sign(3, [1; 32]);
        let witness_line = witness_line.rsplit_once("\n\n").unwrap().1;
        let cosigned = format!("{note}{witness_line}");
        assert_eq!(s.verifier().open(&cosigned).unwrap().size, 3);
        // ...but a note signed only by the witness is refused.
        assert_eq!(
            s.verifier().open(&other.sign(3, [1; 32])),
            Err(CheckpointError::NotSignedByLogKey)
        );
    }

    #[test]
    fn refuses_forgeries_truncations_and_garbage() {
        let s = signer();
        let v = s.verifier();
        let note = s.sign(42, [9; 32]);
        let altered_size = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(v.open(&altered_size), Err(CheckpointError::BadSignature));
        let leading_zero = note.replacen("\n42\n", "\n042\n", 1);
        assert!(v.open(&leading_zero).is_err());
        let other_key = NoteSigner::new(s.origin(), SigningKey::from_seed(&[1; 32])).unwrap();
        assert_eq!(
            v.open(&other_key.sign(42, [9; 32])),
            Err(CheckpointError::NotSignedByLogKey)
        );
        for cut in [1, 10, note.len() / 2, note.len() - 1] {
            assert!(v.open(&note[..cut]).is_err(), "cut at {cut}");
        }
        for garbage in ["", "\n\n", "x\n\n\u{2014} a b\n", &"A".repeat(10_000)] {
            assert!(v.open(garbage).is_err());
        }
        assert!(NoteVerifier::parse("name+00000000+AAAA").is_err());
        assert!(NoteVerifier::parse("garbage").is_err());
        let mut vkey = v.to_vkey();
        vkey.replace_range(vkey.len() - 3..vkey.len() - 2, "B");
        assert!(NoteVerifier::parse(&vkey).is_err());
    }
}
