//! `SHA256SUMS`: one line per file, `HEX  PATH`, sorted by path; exactly what
//! `sha256sum` writes and what `sha256sum -c` checks.

use std::collections::BTreeMap;

use crate::{check_path, ExportError};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sums(pub BTreeMap<String, [u8; 32]>);

impl Sums {
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|(path, hash)| format!("{}  {path}\n", hex::encode(hash)))
            .collect()
    }

    /// Strict: every line `64 lowercase hex, two spaces, a package path`,
    /// no path twice, nothing else.
    pub fn parse(text: &[u8]) -> Result<Self, ExportError> {
        let refuse = |reason: String| ExportError::Refused {
            path: crate::SUMS.into(),
            reason,
        };
        let text = std::str::from_utf8(text).map_err(|_| refuse("not UTF-8".into()))?;
        if !text.is_empty() && !text.ends_with('\n') {
            return Err(refuse("does not end with a newline".into()));
        }
        let mut sums = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let bad = |why: &str| refuse(format!("line {}: {why}", n + 1));
            let (hash, path) = line
                .split_once("  ")
                .ok_or_else(|| bad("expected `HASH  PATH`"))?;
            if hash.len() != 64 || hash.chars().any(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
                return Err(bad("the hash is not 64 lowercase hex digits"));
            }
            check_path(path).map_err(|e| bad(&e.to_string()))?;
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(hash, &mut bytes).map_err(|_| bad("bad hex"))?;
            if sums.insert(path.to_owned(), bytes).is_some() {
                return Err(bad("the same path twice"));
            }
        }
        Ok(Self(sums))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_round_trip_and_refuse_anything_else() {
        let mut sums = Sums::default();
        sums.0.insert("b/video.mp4".into(), [0xab; 32]);
        sums.0.insert("a.json".into(), [1; 32]);
        let text = sums.to_text();
        assert_eq!(
            text,
            format!(
                "{}  a.json\n{}  b/video.mp4\n",
                "01".repeat(32),
                "ab".repeat(32)
            )
        );
        assert_eq!(Sums::parse(text.as_bytes()).unwrap(), sums);
        let line = format!("{}  a.json\n", "01".repeat(32));
        for bad in [
            line.trim_end().to_owned(),
            line.replace("  ", " "),
            line.replace("01", "0G"),
            line.replace("0101", "01"),
            format!("{}  a.json\n", "AB".repeat(32)),
            line.replace("a.json", "../a.json"),
            format!("{line}{line}"),
            format!("{line}garbage\n"),
        ] {
            assert!(Sums::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(Sums::parse(&[0xff, 0xfe]).is_err());
        assert_eq!(Sums::parse(b"").unwrap(), Sums::default());
    }
}
