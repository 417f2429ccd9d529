//! RFC 8785 canonical JSON with this format's extra rules: one byte string
//! per document, so signatures and hashes identify it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::FormatError;

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, FormatError> {
    serde_jcs::to_vec(value).map_err(|e| FormatError::Syntax(e.to_string()))
}

/// Parses `bytes` as a document of type `format`, accepting only its
/// canonical encoding: re-encodes with `encode` (which validates) and compares.
pub fn parse<T: DeserializeOwned>(
    bytes: &[u8],
    format: &str,
    max_len: usize,
    encode: impl FnOnce(&T) -> Result<Vec<u8>, FormatError>,
) -> Result<T, FormatError> {
    if bytes.len() > max_len {
        return Err(FormatError::InvalidField {
            field: "(whole document)",
            reason: format!("larger than {max_len} bytes"),
        });
    }
    // Look at `format` first, so a future version gets a precise error.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| FormatError::Syntax(e.to_string()))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(f) if f == format => {}
        Some(other) => return Err(FormatError::UnsupportedFormat(other.to_owned())),
        None => return Err(FormatError::Syntax("missing `format`".into())),
    }
    let document: T =
        serde_json::from_value(value).map_err(|e| FormatError::Syntax(e.to_string()))?;
    if encode(&document)? != bytes {
        return Err(FormatError::NotCanonical);
    }
    Ok(document)
}

/// SHA-256 digests as 64 lowercase hex digits, and nothing else.
pub mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("expected 64 lowercase hex digits"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}
