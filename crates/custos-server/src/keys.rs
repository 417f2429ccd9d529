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
    /// Reached only inside this crate, at the places `api::footage::tests`
    /// names: no other crate (the web pages, the CLI) can decrypt anything.
    pub(crate) evidence: age::x25519::Identity,
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
            let mut out = Vec::new();
            let encryptor = age::Encryptor::with_recipients(std::iter::once(
                &recipient as &dyn age::Recipient,
            ))?;
            let mut writer = encryptor.wrap_output(&mut out)?;
            writer.write_all(&key.seed()[..])?;
            writer.finish()?;
            write_new(&sealed, &out)?;
            write_new(
                &data.join("keys/receipt.pub"),
                format!("{}\n", key.verifying_key().to_hex()).as_bytes(),
            )?;
            key
        };
        Ok(Self {
            evidence,
            recipient,
            receipt,
        })
    }

    pub fn receipt_public(&self) -> VerifyingKey {
        self.receipt.verifying_key()
    }
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
