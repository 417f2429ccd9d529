//! Opening a clip its camera encrypted (Axis `WantEncryption`, issue 23
//! point 4). What arrived is kept as it arrived — the AES-256-CBC
//! ciphertext, and beside it the key file with the clip key wrapped to
//! the connection's RSA key — each encrypted again on arrival to the
//! evidence key like every object. To play it, both layers come off: the
//! key file and the connection's RSA key (sealed to the evidence key) open
//! the clip key, only in memory and only for a grant (`crate::keys::Grant`)
//! that names the clip. Deleting the recording deletes the age headers of the clip and of
//! its key file: the clip key is gone with them.

use std::io::Read;

use custos_axis::content::{ConnectionKey, ContentError, ContentKey, KeyFile, MAX_KEY_FILE};
use zeroize::Zeroizing;

use crate::parts::{KeyObject, SealedContentKey};

/// A sealed PKCS#8 RSA-4096 key is under 3.5 KiB; bound what is opened.
const MAX_SEALED_KEY: u64 = 16 * 1024;

fn io(e: impl std::fmt::Display) -> ContentError {
    ContentError::Io(e.to_string())
}

/// The clip key in `key_file`, unwrapped with the connection's key the
/// file names, or else with each of its keys, newest first. On a blocking
/// thread: the key file is read from the blob store, and RSA takes
/// milliseconds.
pub(crate) fn clip_key(
    identity: &age::x25519::Identity,
    key_file: &KeyObject,
    content_keys: &[SealedContentKey],
    blobs: &custos_blobs::BlobStore,
    runtime: tokio::runtime::Handle,
) -> Result<ContentKey, ContentError> {
    if key_file.length > MAX_KEY_FILE as u64 {
        return Err(ContentError::TooLarge);
    }
    let stored = crate::playback::StoredCiphertext::new(
        key_file.age_header.clone(),
        blobs.clone(),
        key_file.blob_key.clone(),
        key_file.ciphertext_length(),
        runtime,
    );
    let decryptor = age::Decryptor::new(stored).map_err(io)?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(io)?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_KEY_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let file = KeyFile::parse(&bytes)?;
    // The key the file names, if it is one of this connection's; else
    // each, newest first. A named key that fails is not followed by the
    // others: a hostile key file costs one RSA decryption, not one a key.
    let named: Vec<&SealedContentKey> = content_keys
        .iter()
        .filter(|k| file.key_id.as_deref() == Some(k.key_id.as_str()))
        .collect();
    let order = if named.is_empty() {
        content_keys.iter().collect()
    } else {
        named
    };
    let mut last = ContentError::Unwrap;
    for k in order {
        let key = match unseal(identity, &k.sealed) {
            Ok(key) => key,
            Err(e) => {
                tracing::error!(key_id = %k.key_id, "an Axis content key does not unseal");
                last = e;
                continue;
            }
        };
        match key.unwrap(&file) {
            Ok(clip) => return Ok(clip),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A connection's RSA key, from its seal.
fn unseal(identity: &age::x25519::Identity, sealed: &[u8]) -> Result<ConnectionKey, ContentError> {
    let decryptor = age::Decryptor::new(sealed).map_err(io)?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(io)?;
    let mut der = Zeroizing::new(Vec::new());
    reader
        .take(MAX_SEALED_KEY)
        .read_to_end(&mut der)
        .map_err(io)?;
    ConnectionKey::from_pkcs8_der(&der)
}
