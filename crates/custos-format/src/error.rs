use thiserror::Error;

/// Everything that can be wrong with evidence. Each variant names one check,
/// so a verifier can say exactly which promise a file broke.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("not valid JSON for this format: {0}")]
    Syntax(String),
    #[error("valid JSON but not in RFC 8785 canonical form")]
    NotCanonical,
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("unsupported manifest format `{0}`")]
    UnsupportedFormat(String),
    #[error("signature is malformed: {0}")]
    SignatureMalformed(String),
    #[error("signature does not verify against the camera's key")]
    SignatureInvalid,
    #[error("public key is malformed: {0}")]
    KeyMalformed(String),
    #[error("ciphertext length is {actual} bytes, manifest says {expected}")]
    CiphertextLength { expected: u64, actual: u64 },
    #[error("ciphertext SHA-256 does not match the manifest")]
    CiphertextHash,
    #[error("decrypted content SHA-256 does not match the manifest")]
    PlaintextHash,
    #[error("decrypted content length is {actual} bytes, manifest says {expected}")]
    PlaintextLength { expected: u64, actual: u64 },
    #[error("content does not decrypt: {0}")]
    Decrypt(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
