//! Camera identity keys and manifest signatures (Ed25519, RFC 8032).
//!
//! The signature covers exactly the manifest's canonical bytes, with no
//! prefix, so `openssl pkeyutl -verify -rawin` can check it; the manifest's own
//! `format` field provides the domain separation.

use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::Signer;
use zeroize::Zeroizing;

use crate::{sha256, FormatError, Manifest};

pub const SIGNATURE_LEN: usize = 64;

/// A camera's private identity key. Never leaves the camera.
pub struct SigningKey(ed25519_dalek::SigningKey);

/// A camera's public key, registered with the server at enrollment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl SigningKey {
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    pub fn from_seed_slice(seed: &[u8]) -> Result<Self, FormatError> {
        let seed: &[u8; 32] = seed.try_into().map_err(|_| {
            FormatError::KeyMalformed("a device key seed is exactly 32 bytes".into())
        })?;
        Ok(Self::from_seed(seed))
    }

    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl VerifyingKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        let bytes: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| FormatError::KeyMalformed("an Ed25519 public key is 32 bytes".into()))?;
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|e| FormatError::KeyMalformed(e.to_string()))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    pub fn from_hex(s: &str) -> Result<Self, FormatError> {
        let bytes = hex::decode(s.trim()).map_err(|e| FormatError::KeyMalformed(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// RFC 8410 SubjectPublicKeyInfo PEM, as `openssl pkeyutl -pubin` reads it.
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(Default::default())
            .expect("encoding a valid key cannot fail")
    }

    pub fn from_pem(pem: &str) -> Result<Self, FormatError> {
        ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map(Self)
            .map_err(|e| FormatError::KeyMalformed(e.to_string()))
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), FormatError> {
        let sig = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|e| FormatError::SignatureMalformed(e.to_string()))?;
        // Strict verification refuses malleable and small-order forgeries.
        self.0
            .verify_strict(message, &sig)
            .map_err(|_| FormatError::SignatureInvalid)
    }
}

/// A document with exactly one byte encoding, so that a signature over those
/// bytes and their SHA-256 identify it.
pub trait Canonical: Sized {
    fn to_canonical_bytes(&self) -> Result<Vec<u8>, FormatError>;
    fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, FormatError>;
}

/// A canonical document together with its exact bytes and an Ed25519
/// signature over them.
#[derive(Clone, Debug)]
pub struct Signed<T> {
    content: T,
    bytes: Vec<u8>,
    signature: [u8; SIGNATURE_LEN],
}

/// A recording manifest signed by its camera.
pub type SignedManifest = Signed<Manifest>;

impl<T: Canonical> Signed<T> {
    pub fn sign(content: T, key: &SigningKey) -> Result<Self, FormatError> {
        let bytes = content.to_canonical_bytes()?;
        let signature = key.sign(&bytes);
        Ok(Self {
            content,
            bytes,
            signature,
        })
    }

    /// Parses a document and its signature without checking the signature:
    /// call [`Signed::verify`] with the expected key before trusting it.
    pub fn parse(bytes: &[u8], signature: &[u8]) -> Result<Self, FormatError> {
        let signature: [u8; SIGNATURE_LEN] = signature.try_into().map_err(|_| {
            FormatError::SignatureMalformed(format!(
                "{} bytes, expected {SIGNATURE_LEN}",
                signature.len()
            ))
        })?;
        let content = T::from_canonical_bytes(bytes)?;
        Ok(Self {
            content,
            bytes: bytes.to_vec(),
            signature,
        })
    }

    pub fn verify(&self, key: &VerifyingKey) -> Result<(), FormatError> {
        key.verify(&self.bytes, &self.signature)
    }

    pub fn content(&self) -> &T {
        &self.content
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// SHA-256 of the exact bytes: the document's identity (for manifests,
    /// the link the next manifest's `previous_manifest_sha256` carries).
    pub fn sha256(&self) -> [u8; 32] {
        sha256(&self.bytes)
    }
}

impl Signed<Manifest> {
    pub fn manifest(&self) -> &Manifest {
        &self.content
    }
}
