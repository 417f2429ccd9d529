//! Decrypting, seekable playback: a recording's age header (from the
//! catalog) and its blob (from the object store) read as one ciphertext, and
//! age's STREAM chunks decrypted on the fly. Seeking costs one chunk
//! (64 KiB), whatever the recording's size: nothing is decrypted to disk.

use std::io::{Read, Seek, SeekFrom};

use bytes::Bytes;
use custos_blobs::BlobStore;

/// Bytes fetched from the blob store per request.
const READAHEAD: u64 = 1 << 20;

/// Read + Seek over a stored recording's ciphertext: the age header from the
/// catalog, then the blob from the header's length on (the blob holds zeros
/// where the header was).
pub struct StoredCiphertext {
    header: Vec<u8>,
    /// Local blobs are read straight from their file (positioned reads).
    file: Option<std::fs::File>,
    blobs: BlobStore,
    key: String,
    length: u64,
    position: u64,
    cache: Bytes,
    cache_start: u64,
    runtime: tokio::runtime::Handle,
}

impl StoredCiphertext {
    /// Must be used on a blocking thread (it waits on the runtime for reads).
    pub fn new(
        header: Vec<u8>,
        blobs: BlobStore,
        key: String,
        length: u64,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let file = blobs
            .local_path(&key)
            .and_then(|p| std::fs::File::open(p).ok());
        Self {
            header,
            file,
            blobs,
            key,
            length,
            position: 0,
            cache: Bytes::new(),
            cache_start: 0,
            runtime,
        }
    }
}

impl Read for StoredCiphertext {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.length || out.is_empty() {
            return Ok(0);
        }
        let h = self.header.len() as u64;
        if self.position < h {
            let from = self.position as usize;
            let n = out.len().min(self.header.len() - from);
            out[..n].copy_from_slice(&self.header[from..from + n]);
            self.position += n as u64;
            return Ok(n);
        }
        if let Some(file) = &self.file {
            use std::os::unix::fs::FileExt;
            let want = out.len().min((self.length - self.position) as usize);
            let n = file.read_at(&mut out[..want], self.position)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than its recording",
                ));
            }
            self.position += n as u64;
            return Ok(n);
        }
        let cached = self.cache_start..self.cache_start + self.cache.len() as u64;
        if !cached.contains(&self.position) {
            let end = (self.position + READAHEAD).min(self.length);
            let range = self.position..end;
            self.cache = self
                .runtime
                .block_on(self.blobs.get_range(&self.key, range))
                .map_err(std::io::Error::other)?;
            self.cache_start = self.position;
            if self.cache.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than its recording",
                ));
            }
        }
        let from = (self.position - self.cache_start) as usize;
        let n = out.len().min(self.cache.len() - from);
        out[..n].copy_from_slice(&self.cache[from..from + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for StoredCiphertext {
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

/// The plaintext length of an age file of `ciphertext` bytes whose header
/// is `header` bytes: a 16-byte nonce, then 64 KiB chunks each with a
/// 16-byte tag (age-encryption.org/v1, STREAM).
pub fn plaintext_length(ciphertext: u64, header: u64) -> Option<u64> {
    const CHUNK: u64 = 64 * 1024;
    const TAG: u64 = 16;
    if ciphertext == 0 && header == 0 {
        return Some(0);
    }
    let payload = ciphertext.checked_sub(header)?.checked_sub(16)?;
    let (full, rest) = (payload / (CHUNK + TAG), payload % (CHUNK + TAG));
    match rest {
        0 if full > 0 => Some(full * CHUNK),
        0 => None,
        r if r >= TAG => Some(full * CHUNK + r - TAG),
        _ => None,
    }
}

/// A single byte range of the plaintext, from an HTTP `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive.
    pub end: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum RangeError {
    /// Not a range this server serves (multiple ranges, other units, garbage).
    Malformed,
    /// Outside the content: 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` against a length.
pub fn parse_range(header: &str, length: u64) -> Result<ByteRange, RangeError> {
    let spec = header
        .trim()
        .strip_prefix("bytes=")
        .ok_or(RangeError::Malformed)?;
    if spec.contains(',') {
        return Err(RangeError::Malformed);
    }
    let (a, b) = spec.split_once('-').ok_or(RangeError::Malformed)?;
    let number = |s: &str| -> Result<u64, RangeError> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(RangeError::Malformed);
        }
        s.parse().map_err(|_| RangeError::Malformed)
    };
    let range = match (a.is_empty(), b.is_empty()) {
        (true, true) => return Err(RangeError::Malformed),
        (true, false) => {
            let suffix = number(b)?;
            if suffix == 0 || length == 0 {
                return Err(RangeError::Unsatisfiable);
            }
            ByteRange {
                start: length.saturating_sub(suffix),
                end: length - 1,
            }
        }
        (false, true) => ByteRange {
            start: number(a)?,
            end: length.saturating_sub(1),
        },
        (false, false) => {
            let (start, end) = (number(a)?, number(b)?);
            if end < start {
                return Err(RangeError::Malformed);
            }
            ByteRange {
                start,
                end: end.min(length.saturating_sub(1)),
            }
        }
    };
    if range.start >= length {
        return Err(RangeError::Unsatisfiable);
    }
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_length_matches_real_age_files_and_refuses_impossible_ones() {
        use std::io::Write;
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        for size in [0usize, 1, 65_535, 65_536, 65_537, 131_072, 200_000] {
            let encryptor =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .unwrap();
            let mut file = Vec::new();
            let mut w = encryptor.wrap_output(&mut file).unwrap();
            w.write_all(&vec![7u8; size]).unwrap();
            w.finish().unwrap();
            let header = crate::ingest::age_header_length(&file).unwrap() as u64;
            assert_eq!(
                plaintext_length(file.len() as u64, header),
                Some(size as u64),
                "{size}"
            );
        }
        assert_eq!(plaintext_length(0, 0), Some(0));
        assert_eq!(plaintext_length(100, 200), None);
        assert_eq!(plaintext_length(210, 200), None, "shorter than nonce + tag");
        assert_eq!(
            plaintext_length(200 + 16 + 65_552 + 5, 200),
            None,
            "a torn tag"
        );
    }

    #[test]
    fn ranges_parse_like_rfc9110_says() {
        let r = |s, n| parse_range(s, n);
        assert_eq!(r("bytes=0-99", 1000), Ok(ByteRange { start: 0, end: 99 }));
        assert_eq!(
            r("bytes=900-", 1000),
            Ok(ByteRange {
                start: 900,
                end: 999
            })
        );
        assert_eq!(
            r("bytes=-100", 1000),
            Ok(ByteRange {
                start: 900,
                end: 999
            })
        );
        assert_eq!(r("bytes=-5000", 1000), Ok(ByteRange { start: 0, end: 999 }));
        assert_eq!(
            r("bytes=990-5000", 1000),
            Ok(ByteRange {
                start: 990,
                end: 999
            })
        );
        assert_eq!(r("bytes=1000-", 1000), Err(RangeError::Unsatisfiable));
        assert_eq!(r("bytes=-0", 1000), Err(RangeError::Unsatisfiable));
        for bad in [
            "",
            "bytes=",
            "bytes=-",
            "bytes=5-1",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(r(bad, 1000), Err(RangeError::Malformed), "{bad}");
        }
    }
}
