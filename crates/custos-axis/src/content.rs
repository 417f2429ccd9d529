//! Axis' own content encryption (README "Object encryption"; issue 23
//! point 4). With `WantEncryption` in the connection file, the camera
//! encrypts each clip (and the GNSS trail) with a fresh AES-256 key in CBC
//! mode with PKCS#7 padding, wraps that key with RSA-OAEP (SHA-1, MGF1 with
//! SHA-1, no label) to the content destination's public key, and the system
//! controller uploads it beside the clip as a *key file*: JSON holding
//! `EncryptedKey` and `ContentEncryptionIV`, both base64. The spec names the
//! two attributes and nothing else of the file; Axis' reference decrypter
//! (`decrypt_file.sh`) takes the first of each by name, so this does too,
//! wherever in the JSON they stand, and refuses a file with two different
//! values for either.
//!
//! The unwrapped key and IV open the clip with the standard tools, exactly
//! as Axis documents it:
//! `openssl enc -d -aes-256-cbc -K <key hex> -iv <iv hex> -in clip -out plain`.

use std::io::{Read, Seek, SeekFrom};

use aes::Aes256;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::Digest;
use zeroize::Zeroizing;

/// AES's block: CBC works on these, and the IV is one.
pub const BLOCK: usize = 16;
/// A key file is a few hundred bytes; anything much larger is not one.
pub const MAX_KEY_FILE: usize = 64 * 1024;
/// The size of the RSA keys Custos makes for a connection: 128-bit strength
/// (NIST SP 800-57), and its PEM fits the connection file's 2,048 bytes.
pub const RSA_BITS: usize = 3072;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("the key file is not JSON")]
    NotJson,
    #[error("the key file is larger than {MAX_KEY_FILE} bytes")]
    TooLarge,
    #[error("the key file has no `{0}`")]
    Missing(&'static str),
    #[error("the key file has two different `{0}`")]
    Twice(&'static str),
    #[error("`{0}` is not base64")]
    NotBase64(&'static str),
    #[error("the IV is {0} bytes, not 16")]
    IvLength(usize),
    #[error("the wrapped key does not open with this connection's key")]
    Unwrap,
    #[error("the unwrapped key is {0} bytes, not 32")]
    KeyLength(usize),
    #[error("the clip is {0} bytes: not a whole number of AES blocks")]
    Length(u64),
    #[error("the clip's padding is wrong: the key or IV is not this clip's, or it was cut")]
    Padding,
    #[error("the RSA key does not parse")]
    BadRsaKey,
    #[error("reading the clip: {0}")]
    Io(String),
}

/// A key file as the controller uploads it beside a clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The clip's AES key, wrapped with RSA-OAEP to the connection's key.
    pub encrypted_key: Vec<u8>,
    pub iv: [u8; BLOCK],
    /// The key it was wrapped to, where the file names it (`PublicKeyId`
    /// or `KeyId`).
    pub key_id: Option<String>,
}

impl KeyFile {
    pub fn parse(bytes: &[u8]) -> Result<Self, ContentError> {
        if bytes.len() > MAX_KEY_FILE {
            return Err(ContentError::TooLarge);
        }
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|_| ContentError::NotJson)?;
        let one = |name: &'static str| -> Result<Option<String>, ContentError> {
            let mut found = Vec::new();
            collect(&json, name, &mut found);
            found.dedup();
            match found.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(one.clone())),
                _ => Err(ContentError::Twice(name)),
            }
        };
        let decode = |name: &'static str| -> Result<Vec<u8>, ContentError> {
            use base64::Engine;
            let text = one(name)?.ok_or(ContentError::Missing(name))?;
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| ContentError::NotBase64(name))
        };
        let encrypted_key = decode("EncryptedKey")?;
        if encrypted_key.is_empty() || encrypted_key.len() > 1024 {
            return Err(ContentError::Unwrap);
        }
        let iv = decode("ContentEncryptionIV")?;
        let iv: [u8; BLOCK] = iv
            .as_slice()
            .try_into()
            .map_err(|_| ContentError::IvLength(iv.len()))?;
        let key_id = match one("PublicKeyId")? {
            Some(id) => Some(id),
            None => one("KeyId")?,
        };
        Ok(Self {
            encrypted_key,
            iv,
            key_id,
        })
    }
}

/// Every string value of `name`, at any depth, in document order.
fn collect(value: &serde_json::Value, name: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k == name => out.push(s.clone()),
                    other => collect(other, name, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, name, out)),
        _ => {}
    }
}

/// A connection's RSA key pair, as Custos makes and keeps it: the private
/// half leaves this type only as PKCS#8 DER for sealing to the evidence key.
pub struct ConnectionKey(rsa::PrivateKey);

impl ConnectionKey {
    /// A new key pair of [`RSA_BITS`] (`rsa`'s default size) from the
    /// OS's randomness.
    pub fn generate() -> Self {
        Self(<rsa::PrivateKey as rsa::Generate>::generate())
    }

    /// The modulus's size in bits.
    pub fn bits(&self) -> usize {
        use rsa::traits::PublicKeyParts;
        self.0.size() * 8
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, ContentError> {
        rsa::PrivateKey::from_pkcs8_der(der)
            .map(Self)
            .map_err(|_| ContentError::BadRsaKey)
    }

    /// PKCS#8 DER of the private key, to seal and forget.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            self.0
                .to_pkcs8_der()
                .expect("an RSA key encodes")
                .as_bytes()
                .to_vec(),
        )
    }

    /// The public half as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC
    /// KEY-----`), what the connection file carries (base64 again).
    pub fn public_pem(&self) -> String {
        self.0
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("an RSA public key encodes")
    }

    /// The key's id in connection files and key files: `custos-` and the
    /// first 16 hex digits of the SHA-256 of its public key's DER, so the
    /// id names the key and no two keys share one.
    pub fn id(&self) -> String {
        let der = self
            .0
            .to_public_key()
            .to_public_key_der()
            .expect("an RSA public key encodes");
        let digest = sha2::Sha256::digest(der.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("custos-{hex}")
    }

    /// The clip key of `file`: RSA-OAEP with SHA-1 (what `openssl rsautl
    /// -decrypt -oaep` undoes), blinded.
    pub fn unwrap(&self, file: &KeyFile) -> Result<ContentKey, ContentError> {
        let key = Zeroizing::new(
            self.0
                .oaep_decrypt::<sha1::Sha1>(&file.encrypted_key)
                .map_err(|_| ContentError::Unwrap)?,
        );
        if key.len() != 32 {
            return Err(ContentError::KeyLength(key.len()));
        }
        // Copied straight into its zeroed-on-drop home: no stack copy.
        let mut clip = ContentKey {
            key: Zeroizing::new([0; 32]),
            iv: file.iv,
        };
        clip.key.copy_from_slice(&key);
        Ok(clip)
    }
}

/// One clip's AES-256 key and IV. Zeroed when dropped.
#[derive(Clone)]
pub struct ContentKey {
    key: Zeroizing<[u8; 32]>,
    iv: [u8; BLOCK],
}

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

impl ContentKey {
    pub fn new(key: [u8; 32], iv: [u8; BLOCK]) -> Self {
        Self {
            key: Zeroizing::new(key),
            iv,
        }
    }

    /// The key, for an export's key list (its package is encrypted itself).
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    pub fn iv(&self) -> &[u8; BLOCK] {
        &self.iv
    }

    /// Decrypts whole blocks in place; `previous` is the ciphertext block
    /// before them (the IV before the first).
    pub fn decrypt_blocks(&self, previous: &[u8; BLOCK], blocks: &mut [u8]) {
        debug_assert_eq!(blocks.len() % BLOCK, 0);
        let key: &[u8; 32] = &self.key;
        cbc::Decryptor::<Aes256>::new(key.into(), previous.into())
            .decrypt_padded_mut::<NoPadding>(blocks)
            .expect("whole blocks");
    }

    /// The clip's plaintext length, from its ciphertext length and its
    /// last ciphertext block and the one before it (the IV for a one-block
    /// clip): PKCS#7 padding of 1 to 16 bytes, each the padding's length.
    pub fn plaintext_length(
        &self,
        ciphertext_length: u64,
        last_two: &[u8],
    ) -> Result<u64, ContentError> {
        if ciphertext_length == 0 || !ciphertext_length.is_multiple_of(BLOCK as u64) {
            return Err(ContentError::Length(ciphertext_length));
        }
        let (previous, mut last): ([u8; BLOCK], [u8; BLOCK]) = match last_two.len() {
            n if n == BLOCK && ciphertext_length == BLOCK as u64 => {
                (self.iv, last_two.try_into().expect("one block"))
            }
            n if n == 2 * BLOCK => (
                last_two[..BLOCK].try_into().expect("one block"),
                last_two[BLOCK..].try_into().expect("one block"),
            ),
            _ => return Err(ContentError::Padding),
        };
        self.decrypt_blocks(&previous, &mut last);
        let pad = last[BLOCK - 1] as usize;
        if pad == 0 || pad > BLOCK || last[BLOCK - pad..].iter().any(|&b| b as usize != pad) {
            return Err(ContentError::Padding);
        }
        Ok(ciphertext_length - pad as u64)
    }
}

/// The ciphertext bytes `from..=to` that plaintext bytes `start..=end`
/// need: their blocks, and the block before them (the IV for the first).
pub fn ciphertext_span(start: u64, end: u64) -> (u64, u64) {
    let b = BLOCK as u64;
    let first = start / b;
    (first.saturating_sub(1) * b, (end / b + 1) * b - 1)
}

/// Turns the ciphertext of [`ciphertext_span`]`(start, end)`, given in
/// pieces of any size, into the plaintext bytes `start..=end`.
pub struct RangeDecryptor {
    key: ContentKey,
    /// The block before the next one; `None` until the span's first block
    /// (which is only that) has come.
    previous: Option<[u8; BLOCK]>,
    carry: Vec<u8>,
    /// Plaintext offset of the next block.
    at: u64,
    start: u64,
    end: u64,
}

impl RangeDecryptor {
    pub fn new(key: ContentKey, start: u64, end: u64) -> Self {
        let first = start / BLOCK as u64;
        let previous = (first == 0).then_some(key.iv);
        Self {
            key,
            previous,
            carry: Vec::new(),
            at: first * BLOCK as u64,
            start,
            end,
        }
    }

    /// The plaintext of the whole blocks now complete, cut to the range.
    pub fn push(&mut self, piece: &[u8]) -> Vec<u8> {
        self.carry.extend_from_slice(piece);
        let mut input = std::mem::take(&mut self.carry);
        let mut from = 0;
        if self.previous.is_none() {
            if input.len() < BLOCK {
                self.carry = input;
                return Vec::new();
            }
            self.previous = Some(input[..BLOCK].try_into().expect("one block"));
            from = BLOCK;
        }
        let whole = (input.len() - from) / BLOCK * BLOCK;
        self.carry = input[from + whole..].to_vec();
        if whole == 0 {
            return Vec::new();
        }
        let blocks = &mut input[from..from + whole];
        let next_previous: [u8; BLOCK] = blocks[whole - BLOCK..].try_into().expect("one block");
        let previous = self.previous.expect("set above");
        self.key.decrypt_blocks(&previous, blocks);
        self.previous = Some(next_previous);
        let begin = self.at;
        self.at += whole as u64;
        let lo = self.start.saturating_sub(begin).min(whole as u64) as usize;
        let hi = (self.end + 1).saturating_sub(begin).min(whole as u64) as usize;
        if lo >= hi {
            return Vec::new();
        }
        blocks[lo..hi].to_vec()
    }
}

/// Read + Seek over a clip's plaintext, from Read + Seek over its
/// ciphertext (the age-decrypted object): for readers that want the whole
/// file (thumbnails, face proposals).
pub struct DecryptingReader<R> {
    inner: R,
    key: ContentKey,
    length: u64,
    position: u64,
    buffer: Vec<u8>,
    buffer_start: u64,
}

/// Plaintext decrypted per refill.
const WINDOW: usize = 64 * 1024;

impl<R: Read + Seek> DecryptingReader<R> {
    /// Checks the clip's length and padding first: a wrong key or a cut
    /// clip is refused here, before anything is read from it.
    pub fn new(
        mut inner: R,
        key: ContentKey,
        ciphertext_length: u64,
    ) -> Result<Self, ContentError> {
        let io = |e: std::io::Error| ContentError::Io(e.to_string());
        if ciphertext_length == 0 || !ciphertext_length.is_multiple_of(BLOCK as u64) {
            return Err(ContentError::Length(ciphertext_length));
        }
        let tail = ciphertext_length.min(2 * BLOCK as u64);
        inner
            .seek(SeekFrom::Start(ciphertext_length - tail))
            .map_err(io)?;
        let mut last_two = vec![0u8; tail as usize];
        inner.read_exact(&mut last_two).map_err(io)?;
        let length = key.plaintext_length(ciphertext_length, &last_two)?;
        Ok(Self {
            inner,
            key,
            length,
            position: 0,
            buffer: Vec::new(),
            buffer_start: 0,
        })
    }

    pub fn plaintext_length(&self) -> u64 {
        self.length
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let b = BLOCK as u64;
        let first = self.position / b * b;
        let span = (WINDOW as u64).min(self.length.div_ceil(b) * b - first);
        let (previous, read_from) = if first == 0 {
            (self.key.iv, 0)
        } else {
            (Default::default(), first - b)
        };
        self.inner.seek(SeekFrom::Start(read_from))?;
        let mut previous = previous;
        if first > 0 {
            self.inner.read_exact(&mut previous)?;
        }
        let mut blocks = vec![0u8; span as usize];
        self.inner.read_exact(&mut blocks)?;
        self.key.decrypt_blocks(&previous, &mut blocks);
        let keep = span.min(self.length - first) as usize;
        blocks.truncate(keep);
        self.buffer = blocks;
        self.buffer_start = first;
        Ok(())
    }
}

impl<R: Read + Seek> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.length || out.is_empty() {
            return Ok(0);
        }
        let buffered = self.buffer_start..self.buffer_start + self.buffer.len() as u64;
        if !buffered.contains(&self.position) {
            self.refill()?;
        }
        let from = (self.position - self.buffer_start) as usize;
        let n = out.len().min(self.buffer.len() - from);
        out[..n].copy_from_slice(&self.buffer[from..from + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for DecryptingReader<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.length as i128 + d as i128,
            SeekFrom::Current(d) => self.position as i128 + d as i128,
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        }
        self.position = target as u64;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests;
