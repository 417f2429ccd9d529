//! The server's keys: the evidence identity (unsealed with the passphrase at
//! start) and the receipt signing key. The receipt key is stored encrypted to
//! the evidence key, so one passphrase opens both and a stolen disk yields
//! neither.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use custos_format::{SigningKey, VerifyingKey};
use custos_keys::secrecy::SecretString;
use custos_keys::EvidenceKeyStore;
use zeroize::Zeroizing;

pub struct ServerKeys {
    /// Opens footage only against a [`Grant`]; no other crate's code (the
    /// web pages, the CLI's commands against a running server) reaches it.
    /// An operator with the data directory and its passphrase holds the key
    /// itself (`custos verify --data`): SECURITY.md, "Root on one server
    /// node".
    pub(crate) evidence: EvidenceKey,
    pub recipient: age::x25519::Recipient,
    pub receipt: SigningKey,
}

impl ServerKeys {
    pub fn open(data: &Path, passphrase: &SecretString) -> Result<Self> {
        let store = EvidenceKeyStore::new(data);
        let evidence = store.unseal(passphrase)?;
        let recipient = evidence.to_public();
        let sealed = data.join("keys/receipt.key.age");
        let receipt = if sealed.exists() {
            let bytes = std::fs::read(&sealed)?;
            let decryptor =
                age::Decryptor::new(&bytes[..]).context("keys/receipt.key.age is damaged")?;
            let mut reader = decryptor
                .decrypt(std::iter::once(&evidence as &dyn age::Identity))
                .context("keys/receipt.key.age does not open with the evidence key")?;
            let mut seed = Zeroizing::new(Vec::new());
            reader.read_to_end(&mut seed)?;
            SigningKey::from_seed_slice(&seed)?
        } else {
            let key = SigningKey::generate();
            let out = seal_to(&recipient, &key.seed()[..])?;
            write_new(&sealed, &out)?;
            write_new(
                &data.join("keys/receipt.pub"),
                format!("{}\n", key.verifying_key().to_hex()).as_bytes(),
            )?;
            key
        };
        Ok(Self {
            evidence: EvidenceKey(evidence),
            recipient,
            receipt,
        })
    }

    pub fn receipt_public(&self) -> VerifyingKey {
        self.receipt.verifying_key()
    }
}

/// A checked permission to decrypt evidence: a value made only where the
/// policy's checks were passed and audited (a [`crate::api::Footage`], an
/// export's grant inside its `PreparedExport`, a redacted copy seen for its
/// request). Code that skipped the check has no grant to show, so it does
/// not compile; a grant opens only the blobs it names.
pub(crate) trait Grant {
    /// Whether this grant is for the stored blob `blob_key`.
    fn covers(&self, blob_key: &str) -> bool;
}

/// A grant asked to open a blob it is not for: a bug, refused.
#[derive(Debug, thiserror::Error)]
#[error("a grant was asked to open a blob it does not name")]
pub(crate) struct NotCovered;

/// The evidence identity, behind the grants and the two narrow uses that
/// read no footage.
pub(crate) struct EvidenceKey(age::x25519::Identity);

/// A TOTP secret sealed to the evidence key is a few hundred bytes; a
/// recording never is. Bounds that keep `unseal_secret` from opening footage.
const MAX_SEALED_SECRET: usize = 1024;
const MAX_SECRET: usize = 128;

impl EvidenceKey {
    /// The identity, for the blob `blob_key` that `grant` is for.
    pub(crate) fn identity(
        &self,
        grant: &impl Grant,
        blob_key: &str,
    ) -> Result<&age::x25519::Identity, NotCovered> {
        if grant.covers(blob_key) {
            Ok(&self.0)
        } else {
            tracing::error!("a grant was asked to open a blob it does not name");
            Err(NotCovered)
        }
    }

    /// Ingest's check that an upload opens with this key (its header, and
    /// its first chunk if it is complete): nothing of the content leaves.
    pub(crate) fn check_opens(&self, path: &Path, read_first_chunk: bool) -> Result<(), String> {
        let file = std::io::BufReader::new(std::fs::File::open(path).map_err(|e| e.to_string())?);
        let decryptor = age::Decryptor::new(file).map_err(|e| e.to_string())?;
        let mut reader = decryptor
            .decrypt(std::iter::once(&self.0 as &dyn age::Identity))
            .map_err(|e| e.to_string())?;
        if read_first_chunk {
            let mut byte = [0u8; 1];
            reader.read(&mut byte).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// A TOTP secret sealed to the evidence key (only sign-in needs it).
    /// Anything larger than a secret is refused unread, so this cannot be
    /// used to open footage.
    pub(crate) fn unseal_secret(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() > MAX_SEALED_SECRET {
            bail!("{} bytes is no sealed secret", sealed.len());
        }
        let decryptor = age::Decryptor::new(sealed)?;
        let reader = decryptor.decrypt(std::iter::once(&self.0 as &dyn age::Identity))?;
        let mut out = Zeroizing::new(Vec::new());
        reader.take(MAX_SECRET as u64 + 1).read_to_end(&mut out)?;
        if out.len() > MAX_SECRET {
            bail!("a sealed secret longer than {MAX_SECRET} bytes");
        }
        Ok(out)
    }
}

/// `secret` age-encrypted to the evidence key's recipient: how keys other
/// than the evidence key are kept (the receipt key, Axis content keys).
pub fn seal_to(recipient: &age::x25519::Recipient, secret: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))?;
    let mut writer = encryptor.wrap_output(&mut out)?;
    writer.write_all(secret)?;
    writer.finish()?;
    Ok(out)
}

/// The receipt key's public half, readable without the passphrase (for enrollment).
pub fn receipt_public_key(data: &Path) -> Result<VerifyingKey> {
    let path = data.join("keys/receipt.pub");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no receipt key in {} yet: start `custos serve` once",
            data.display()
        )
    })?;
    Ok(VerifyingKey::from_hex(&text)?)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        bail!("{} exists", path.display());
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(path.parent().expect("in keys/"))?.sync_all()?;
    Ok(())
}
