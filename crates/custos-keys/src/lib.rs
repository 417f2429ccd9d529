//! Custody of the deployment's evidence key.
//!
//! The evidence key is an age X25519 identity. At rest it is sealed as an age
//! *identity file* encrypted with an age passphrase (scrypt), exactly what
//! `age-keygen | age -p` would produce: if Custos is ever gone, the standard
//! `age` CLI still opens both the key and, with it, every recording
//! (`age -d -i evidence.identity.age recording.age`).
//!
//! Layout under the data directory:
//!
//! ```text
//! keys/evidence.identity.age   sealed private key (mode 0600)
//! keys/evidence.recipient      public recipient, `age1…` and a newline
//! ```
#![forbid(unsafe_code)]

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use thiserror::Error;
use zeroize::Zeroizing;

pub use age::secrecy;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("an evidence key already exists in {0}; refusing to overwrite it")]
    AlreadyExists(PathBuf),
    #[error("no evidence key in {0} (run `custos keys init` first)")]
    Missing(PathBuf),
    #[error("wrong passphrase for the evidence key")]
    WrongPassphrase,
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("the sealed evidence key is damaged: {0}")]
    Damaged(String),
    #[error("the sealed key does not belong to the recipient in {0}")]
    RecipientMismatch(PathBuf),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// scrypt work factor (log2 N) used when sealing. age's CLI default targets
/// about one second; tests pass a smaller one.
pub const DEFAULT_WORK_FACTOR: u8 = 18;

/// Where a deployment keeps its evidence key.
#[derive(Clone, Debug)]
pub struct EvidenceKeyStore {
    dir: PathBuf,
}

impl EvidenceKeyStore {
    /// `data_dir` is the deployment's data directory; keys live in `keys/` under it.
    pub fn new(data_dir: impl AsRef<Path>) -> Self {
        Self {
            dir: data_dir.as_ref().join("keys"),
        }
    }

    pub fn sealed_path(&self) -> PathBuf {
        self.dir.join("evidence.identity.age")
    }

    pub fn recipient_path(&self) -> PathBuf {
        self.dir.join("evidence.recipient")
    }

    pub fn exists(&self) -> bool {
        self.sealed_path().exists() || self.recipient_path().exists()
    }

    /// Creates and seals a new evidence key. Never overwrites an existing one.
    pub fn init(
        &self,
        passphrase: &SecretString,
        work_factor: u8,
    ) -> Result<age::x25519::Recipient, KeyError> {
        if passphrase.expose_secret().is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        if self.exists() {
            return Err(KeyError::AlreadyExists(self.dir.clone()));
        }
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let sealed = seal(&identity, passphrase, work_factor)?;
        // Sealed key first: a crash between the two leaves a key without a
        // published recipient (init can be re-run after removing it), never a
        // recipient whose key is lost.
        write_atomically(&self.sealed_path(), &sealed, true)?;
        write_atomically(
            &self.recipient_path(),
            format!("{recipient}\n").as_bytes(),
            false,
        )?;
        Ok(recipient)
    }

    /// Reads a key file; absence means the deployment has no key yet.
    fn read(&self, path: &Path) -> Result<Vec<u8>, KeyError> {
        fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => KeyError::Missing(self.dir.clone()),
            _ => io_err(path)(e),
        })
    }

    /// The public recipient cameras encrypt to. Needs no passphrase.
    pub fn recipient(&self) -> Result<age::x25519::Recipient, KeyError> {
        let path = self.recipient_path();
        String::from_utf8_lossy(&self.read(&path)?)
            .trim()
            .parse()
            .map_err(|e: &str| KeyError::Damaged(format!("{}: {e}", path.display())))
    }

    /// Opens the sealed key into memory.
    pub fn unseal(&self, passphrase: &SecretString) -> Result<age::x25519::Identity, KeyError> {
        let sealed = self.read(&self.sealed_path())?;
        let identity = unseal(&sealed, passphrase)?;
        if identity.to_public().to_string() != self.recipient()?.to_string() {
            return Err(KeyError::RecipientMismatch(self.recipient_path()));
        }
        Ok(identity)
    }

    /// Re-seals the key under a new passphrase. The old sealed file is replaced
    /// atomically only after the new one has been written and re-opened.
    pub fn change_passphrase(
        &self,
        old: &SecretString,
        new: &SecretString,
        work_factor: u8,
    ) -> Result<(), KeyError> {
        if new.expose_secret().is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        let identity = self.unseal(old)?;
        let sealed = seal(&identity, new, work_factor)?;
        let reopened = unseal(&sealed, new)?;
        if reopened.to_public().to_string() != identity.to_public().to_string() {
            return Err(KeyError::Damaged("re-sealed key did not round-trip".into()));
        }
        write_atomically(&self.sealed_path(), &sealed, true)
    }
}

/// Seals an identity as a passphrase-encrypted age identity file.
pub fn seal(
    identity: &age::x25519::Identity,
    passphrase: &SecretString,
    work_factor: u8,
) -> Result<Vec<u8>, KeyError> {
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let file = Zeroizing::new(format!(
        "# created: {created}\n# public key: {}\n{}\n",
        identity.to_public(),
        identity.to_string().expose_secret()
    ));
    let mut recipient = age::scrypt::Recipient::new(passphrase.clone());
    recipient.set_work_factor(work_factor);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| KeyError::Damaged(e.to_string()))?;
    let mut out = Vec::new();
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| KeyError::Damaged(e.to_string()))?;
    writer
        .write_all(file.as_bytes())
        .and_then(|_| writer.finish().map(|_| ()))
        .map_err(|e| KeyError::Damaged(e.to_string()))?;
    Ok(out)
}

/// Opens a sealed identity file.
pub fn unseal(sealed: &[u8], passphrase: &SecretString) -> Result<age::x25519::Identity, KeyError> {
    let decryptor = age::Decryptor::new_buffered(sealed)
        .map_err(|e| KeyError::Damaged(format!("not an age file: {e}")))?;
    if !decryptor.is_scrypt() {
        return Err(KeyError::Damaged("not sealed with a passphrase".into()));
    }
    let identity = age::scrypt::Identity::new(passphrase.clone());
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                KeyError::WrongPassphrase
            }
            other => KeyError::Damaged(other.to_string()),
        })?;
    let mut text = Zeroizing::new(String::new());
    reader
        .read_to_string(&mut text)
        .map_err(|e| KeyError::Damaged(e.to_string()))?;
    parse_identity_file(&text)
}

/// The one X25519 identity in an age identity file's text (comments allowed).
pub fn parse_identity_file(text: &str) -> Result<age::x25519::Identity, KeyError> {
    let keys: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .collect();
    match keys.as_slice() {
        [one] => one
            .parse()
            .map_err(|e: &str| KeyError::Damaged(format!("identity does not parse: {e}"))),
        _ => Err(KeyError::Damaged(format!(
            "expected one X25519 identity, found {}",
            keys.len()
        ))),
    }
}

/// Write to a temporary file, fsync, rename over the target, fsync the directory:
/// the target is either the old or the new content after any crash.
fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<(), KeyError> {
    let dir = path.parent().expect("key paths have a parent");
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut f = options.open(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn init_show_unseal_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceKeyStore::new(dir.path());
        assert!(matches!(store.recipient(), Err(KeyError::Missing(_))));
        assert!(matches!(
            store.init(&pass(""), 10),
            Err(KeyError::EmptyPassphrase)
        ));
        let recipient = store.init(&pass("correct horse"), 10).unwrap();
        assert_eq!(
            store.recipient().unwrap().to_string(),
            recipient.to_string()
        );
        assert!(recipient.to_string().starts_with("age1"));
        let identity = store.unseal(&pass("correct horse")).unwrap();
        assert_eq!(identity.to_public().to_string(), recipient.to_string());

        let before = fs::read(store.sealed_path()).unwrap();
        assert!(matches!(
            store.unseal(&pass("wrong")),
            Err(KeyError::WrongPassphrase)
        ));
        assert!(matches!(
            store.init(&pass("x"), 10),
            Err(KeyError::AlreadyExists(_))
        ));
        assert!(matches!(
            store.change_passphrase(&pass("wrong"), &pass("new"), 10),
            Err(KeyError::WrongPassphrase)
        ));
        assert_eq!(
            fs::read(store.sealed_path()).unwrap(),
            before,
            "nothing changed"
        );

        store
            .change_passphrase(&pass("correct horse"), &pass("new one"), 10)
            .unwrap();
        assert!(matches!(
            store.unseal(&pass("correct horse")),
            Err(KeyError::WrongPassphrase)
        ));
        assert_eq!(
            store
                .unseal(&pass("new one"))
                .unwrap()
                .to_public()
                .to_string(),
            recipient.to_string()
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.sealed_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "sealed key readable by others: {mode:o}");
        }
    }

    #[test]
    fn damaged_sealed_files_are_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let store = EvidenceKeyStore::new(dir.path());
        store.init(&pass("pw"), 10).unwrap();
        let sealed = fs::read(store.sealed_path()).unwrap();
        for cut in [0, 10, sealed.len() / 2, sealed.len() - 1] {
            assert!(unseal(&sealed[..cut], &pass("pw")).is_err(), "cut {cut}");
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 1;
        assert!(unseal(&flipped, &pass("pw")).is_err());
        assert!(matches!(
            unseal(b"garbage", &pass("pw")),
            Err(KeyError::Damaged(_))
        ));
        // A key encrypted to a recipient, not a passphrase, is not a sealed key.
        let other = age::x25519::Identity::generate();
        let ct = age::encrypt(&other.to_public(), b"AGE-SECRET-KEY-1").unwrap();
        assert!(matches!(
            unseal(&ct, &pass("pw")),
            Err(KeyError::Damaged(_))
        ));
        // A swapped recipient file is caught.
        fs::write(store.recipient_path(), format!("{}\n", other.to_public())).unwrap();
        assert!(matches!(
            store.unseal(&pass("pw")),
            Err(KeyError::RecipientMismatch(_))
        ));
    }
}
