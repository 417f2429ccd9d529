//! Decrypting, seekable playback. A recording's age header lives in the
//! catalog and its payload in the blob store; playback opens the payload
//! once ([`open_payload`], cached per recording for a minute) and decrypts
//! only the STREAM chunks a range touches, 256 KiB per message, on the task
//! that sends them ([`plaintext_range`]). Seeking costs one 64 KiB chunk,
//! whatever the recording's size; nothing is decrypted to disk.
//! [`StoredCiphertext`] gives the same ciphertext as `Read + Seek` for the
//! `age` crate's own reader (thumbnails).

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Instant;

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

/// Where a stored recording's ciphertext is read from: its local file, or
/// ranged gets from the object store.
#[derive(Clone)]
pub enum CiphertextSource {
    Local(Arc<std::fs::File>),
    Store { blobs: BlobStore, key: String },
}

/// STREAM chunks read and decrypted per message from a local file (256 KiB).
const GROUP: u64 = 4;
/// … and per ranged get from an object store (1 MiB): there each get costs a
/// round trip, so fewer and larger reads win (`bench playback --blobs s3://…`).
const STORE_GROUP: u64 = 16;

impl CiphertextSource {
    /// STREAM chunks per message.
    fn group(&self) -> u64 {
        match self {
            Self::Local(_) => GROUP,
            Self::Store { .. } => STORE_GROUP,
        }
    }

    pub fn open(blobs: &BlobStore, key: &str) -> Self {
        match blobs
            .local_path(key)
            .and_then(|p| std::fs::File::open(p).ok())
        {
            Some(file) => Self::Local(Arc::new(file)),
            None => Self::Store {
                blobs: blobs.clone(),
                key: key.to_owned(),
            },
        }
    }

    /// Exactly `length` bytes at `offset`: a read of the local file on the
    /// calling thread (from the page cache, a copy), or a ranged get from the
    /// object store.
    async fn read_async(&self, offset: u64, length: usize) -> std::io::Result<Vec<u8>> {
        let bytes = match self {
            Self::Local(file) => {
                // Read into spare capacity: no zeroing pass over the buffer.
                let mut reader = &**file;
                reader.seek(SeekFrom::Start(offset))?;
                let mut out = Vec::with_capacity(length);
                reader.take(length as u64).read_to_end(&mut out)?;
                out
            }
            Self::Store { blobs, key } => blobs
                .get_range(key, offset..offset + length as u64)
                .await
                .map_err(std::io::Error::other)?
                .to_vec(),
        };
        if bytes.len() != length {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "blob shorter than its recording",
            ));
        }
        Ok(bytes)
    }
}

/// A decrypted recording (or redacted copy) to read and seek, for readers
/// that want the whole file (thumbnails, face proposals, redaction).
pub(crate) trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Opens stored ciphertext (header from the catalog, blob from the store)
/// for the `age` crate's own decrypting reader. Made on the runtime; the
/// returned function runs on a blocking thread. Only for a grant of
/// `stored`: a [`Footage`] (the capability that a person's access was
/// checked), the signed-video check's own ([`crate::axis::signed`]) or the
/// GNSS trail's reading's ([`crate::axis::trail`]). `content_keys` are the
/// connection's for an object its camera encrypted
/// ([`crate::parts::content_keys`]), else empty.
///
/// [`Footage`]: crate::api::Footage
pub(crate) fn decrypting_reader(
    d: &crate::Deployment,
    grant: &impl crate::keys::Grant,
    stored: crate::parts::StoredObject<'_>,
    content_keys: Vec<crate::parts::SealedContentKey>,
) -> impl FnOnce() -> std::io::Result<Box<dyn ReadSeek>> + Send + 'static {
    let reader = StoredCiphertext::new(
        stored.age_header.to_vec(),
        d.blobs.clone(),
        stored.blob_key.to_owned(),
        stored.ciphertext_length,
        tokio::runtime::Handle::current(),
    );
    let identity = d.keys.evidence.identity(grant, stored.blob_key).cloned();
    // An object its camera encrypted: its key file must be this grant's too.
    let encrypted = stored.encrypted.map(|(k, length)| {
        let identity = d.keys.evidence.identity(grant, &k.blob_key).cloned();
        (k.clone(), content_keys, identity, length)
    });
    let blobs = d.blobs.clone();
    let runtime = tokio::runtime::Handle::current();
    move || {
        let identity = identity.map_err(std::io::Error::other)?;
        let decryptor = age::Decryptor::new(reader).map_err(std::io::Error::other)?;
        let plain = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(std::io::Error::other)?;
        let Some((key_file, content_keys, key_identity, length)) = encrypted else {
            return Ok(Box::new(plain) as Box<dyn ReadSeek>);
        };
        let key_identity = key_identity.map_err(std::io::Error::other)?;
        let key = crate::axis::content::clip_key(
            &key_identity,
            &key_file,
            &content_keys,
            &blobs,
            runtime,
        )
        .map_err(undecryptable)?;
        let clip = custos_axis::content::DecryptingReader::new(plain, key, length)
            .map_err(undecryptable)?;
        Ok(Box::new(clip) as Box<dyn ReadSeek>)
    }
}

/// A clip whose own encryption does not come off (its key file, the key
/// it names, its padding): the clip's fault, not the server's, so
/// `InvalidData` carrying the reason (a 422 to whoever asked). Reading the
/// store failing on the way is the server's.
pub(crate) fn undecryptable(e: custos_axis::content::ContentError) -> std::io::Error {
    match e {
        custos_axis::content::ContentError::Io(e) => std::io::Error::other(e),
        e => std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    }
}

/// The clip's own encryption failing, told apart from every other
/// `InvalidData` (age's failed chunk check is a damaged blob: the
/// server's fault, a 503).
pub(crate) fn clip_fault(e: &std::io::Error) -> Option<&custos_axis::content::ContentError> {
    e.get_ref()?.downcast_ref()
}

/// Opens a stored recording's payload: the age header from the catalog, the
/// payload nonce from the blob, the file key unwrapped (one X25519).
pub(crate) async fn open_payload(
    header: &[u8],
    source: &CiphertextSource,
    ciphertext_length: u64,
    identity: &age::x25519::Identity,
) -> std::io::Result<custos_format::payload::Payload> {
    use custos_format::payload::{Payload, PAYLOAD_NONCE};
    let nonce: [u8; PAYLOAD_NONCE] = source
        .read_async(header.len() as u64, PAYLOAD_NONCE)
        .await?
        .try_into()
        .map_err(|_| std::io::Error::other("short nonce"))?;
    Payload::open(header, &nonce, ciphertext_length, identity).map_err(std::io::Error::other)
}

/// Forgets the payloads (their file keys) opened more than a minute ago:
/// the maintenance loop calls it, so a quiet server holds none.
pub fn forget_expired(d: &crate::Deployment) {
    d.payloads.prune();
}

/// Opened payloads of recently played recordings. A player asks for many
/// ranges of one recording in a row; each would otherwise unwrap the file key
/// again (an X25519 per request). Entries live at most a minute after they
/// were opened, in this process's memory only; a deleted recording's entry is
/// never used (the catalog is asked first) and expires with the rest.
#[derive(Default)]
pub struct PayloadCache {
    entries: std::sync::Mutex<std::collections::HashMap<PartKey, (OpenPayload, Instant)>>,
}

/// A recording's part: its id and the part's index.
type PartKey = (uuid::Uuid, usize);
type OpenPayload = Arc<Opened>;

/// A part opened for playback: its age payload (the file key), and for a
/// clip its camera encrypted, the clip key and the clip's length.
pub struct Opened {
    pub payload: Arc<custos_format::payload::Payload>,
    pub clip: Option<(custos_axis::content::ContentKey, u64)>,
}

const CACHED_PAYLOADS: usize = 64;
const CACHED_FOR: std::time::Duration = std::time::Duration::from_secs(60);

impl PayloadCache {
    /// Part `part` of `recording`, if opened within the minute.
    pub fn get(&self, recording: uuid::Uuid, part: usize) -> Option<OpenPayload> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // An opened payload holds the file key: none outlives its minute
        // by more than the next look at the cache.
        entries.retain(|_, (_, opened)| opened.elapsed() < CACHED_FOR);
        entries.get(&(recording, part)).map(|(p, _)| p.clone())
    }

    /// Forgets every payload past its minute (the maintenance loop calls
    /// this, so a quiet server keeps no file key in memory).
    pub fn prune(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, opened)| opened.elapsed() < CACHED_FOR);
    }

    pub fn put(&self, recording: uuid::Uuid, part: usize, payload: OpenPayload) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, opened)| opened.elapsed() < CACHED_FOR);
        if entries.len() >= CACHED_PAYLOADS {
            if let Some(oldest) = entries.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| *k) {
                entries.remove(&oldest);
            }
        }
        entries.insert((recording, part), (payload, Instant::now()));
    }
}

/// The plaintext bytes `start..=end`, 256 KiB per message (1 MiB from an
/// object store). Each message is
/// read and decrypted on the task that sends it: handing 64 KiB chunks to
/// other threads cost more in wake-ups than the decryption itself (ADR 0005).
pub(crate) fn plaintext_range(
    payload: Arc<custos_format::payload::Payload>,
    source: CiphertextSource,
    start: u64,
    end: u64,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    use custos_format::payload::CHUNK;
    let first = start / CHUNK as u64;
    let last = end / CHUNK as u64;
    futures::stream::try_unfold(
        (payload, source, first),
        move |(payload, source, g)| async move {
            if g > last {
                return Ok(None);
            }
            let group_last = (g + source.group() - 1).min(last);
            let (from, _) = payload.chunk_span(g);
            let (to_start, to_length) = payload.chunk_span(group_last);
            let mut buffer = source
                .read_async(from, (to_start - from) as usize + to_length)
                .await?;
            // Each chunk is decrypted in place, then its part of the range is
            // moved down over the tags before it: one contiguous message.
            let mut kept = 0;
            for index in g..=group_last {
                let (at, length) = payload.chunk_span(index);
                let at = (at - from) as usize;
                let n = payload
                    .decrypt_chunk(index, &mut buffer[at..at + length])
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                let chunk_start = index * CHUNK as u64;
                let lo = start.saturating_sub(chunk_start).min(n as u64) as usize;
                let hi = ((end + 1).saturating_sub(chunk_start)).min(n as u64) as usize;
                if lo < hi {
                    buffer.copy_within(at + lo..at + hi, kept);
                    kept += hi - lo;
                }
            }
            buffer.truncate(kept);
            Ok(Some((
                Bytes::from(buffer),
                (payload, source, group_last + 1),
            )))
        },
    )
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

/// Fuzz entry point (`fuzz/fuzz_targets/range_header.rs`): a `Range`
/// header's bytes against a length (the first eight bytes): a range inside
/// the content or an error, never a panic.
#[doc(hidden)]
pub fn fuzz_range(data: &[u8]) {
    let (length, header) = data.split_at(data.len().min(8));
    let mut bytes = [0u8; 8];
    bytes[..length.len()].copy_from_slice(length);
    let length = u64::from_le_bytes(bytes);
    let Ok(header) = axum::http::HeaderValue::from_bytes(header) else {
        return;
    };
    let Ok(header) = header.to_str() else {
        return;
    };
    if let Ok(range) = parse_range(header, length) {
        assert!(
            range.start <= range.end && range.end < length,
            "{header} {length}"
        );
    }
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

    /// Only a clip's own encryption failing is the clip's fault (a 422): a
    /// damaged blob (age's failed check, also `InvalidData`) or the store
    /// failing stays the server's (a 503, logged).
    #[test]
    fn only_the_clips_own_encryption_failing_is_the_clips_fault() {
        use custos_axis::content::ContentError;
        let clip = undecryptable(ContentError::Padding);
        assert_eq!(clip.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(clip_fault(&clip), Some(&ContentError::Padding));
        assert!(clip.to_string().contains("padding"));
        let store = undecryptable(ContentError::Io("connection reset".into()));
        assert_eq!(clip_fault(&store), None);
        let damaged = std::io::Error::new(std::io::ErrorKind::InvalidData, "decryption error");
        assert_eq!(clip_fault(&damaged), None);
    }

    /// Ranges that start and end anywhere (inside a chunk, on a chunk's edge,
    /// across a message's edge) decrypt to exactly the original bytes, read
    /// from a local file (256 KiB messages) and by ranged gets (1 MiB).
    #[tokio::test]
    async fn every_range_decrypts_to_the_original_from_a_file_and_from_ranged_gets() {
        use futures::TryStreamExt;
        use std::io::Write;
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let plain: Vec<u8> = (0..2_600_000u32)
            .map(|i| (i * 7 + i / 65_536) as u8)
            .collect();
        let mut cipher = Vec::new();
        let mut w =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .unwrap()
                .wrap_output(&mut cipher)
                .unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(tmp.path()).unwrap();
        std::fs::create_dir_all(tmp.path().join("cam")).unwrap();
        std::fs::write(tmp.path().join("cam/r.age"), &cipher).unwrap();
        let header = {
            let path = tmp.path().join("cam/r.age");
            crate::ingest::read_age_header(&path).unwrap()
        };
        let file = CiphertextSource::open(&blobs, "cam/r.age");
        assert!(matches!(file, CiphertextSource::Local(_)));
        let store = CiphertextSource::Store {
            blobs: blobs.clone(),
            key: "cam/r.age".into(),
        };
        let chunk = custos_format::payload::CHUNK as u64;
        let n = plain.len() as u64;
        let ranges = [
            (0, n - 1),
            (0, 0),
            (chunk - 1, chunk),
            (chunk, 5 * chunk - 1),
            (3, 17 * chunk + 5),
            (1_000_001, 2_100_000),
            (n - 1, n - 1),
            (n - 70_000, n - 1),
        ];
        for source in [file, store] {
            let payload = Arc::new(
                open_payload(&header, &source, cipher.len() as u64, &identity)
                    .await
                    .unwrap(),
            );
            for (start, end) in ranges {
                let parts: Vec<Bytes> =
                    plaintext_range(payload.clone(), source.clone(), start, end)
                        .try_collect()
                        .await
                        .unwrap();
                let got: Vec<u8> = parts.concat();
                assert_eq!(
                    got,
                    &plain[start as usize..=end as usize],
                    "{start}..={end} from {}",
                    source.group()
                );
            }
        }
    }

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
