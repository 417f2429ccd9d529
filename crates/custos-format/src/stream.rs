//! Writing a recording's content: plaintext in, age ciphertext out, with the
//! SHA-256 of both sides computed on the way so nothing is read twice.
//!
//! The two hashes are work `age -r` does not do. They run on a worker thread
//! of their own, so on a camera with two cores encryption and writing on one
//! and hashing on the other keep pace with plain age.

use std::io::{self, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::{Ciphertext, FormatError, Plaintext};

/// age STREAM plaintext chunk size (age-encryption.org/v1).
pub const AGE_CHUNK_SIZE: u64 = 64 * 1024;
/// A chunk on disk: plaintext plus the 16-byte Poly1305 tag.
pub const AGE_ENCRYPTED_CHUNK_SIZE: u64 = AGE_CHUNK_SIZE + 16;

enum HashJob {
    Plaintext(Vec<u8>),
    /// Shared with the writer, which writes it out meanwhile.
    Ciphertext(Arc<Vec<u8>>),
}

/// Hashes plaintext and ciphertext, in order, off the writing thread.
struct HashWorker {
    jobs: mpsc::SyncSender<HashJob>,
    handle: JoinHandle<(Sha256, Sha256)>,
}

impl HashWorker {
    fn start() -> io::Result<Self> {
        // A few jobs in flight at most: backpressure instead of unbounded memory.
        let (jobs, rx) = mpsc::sync_channel::<HashJob>(4);
        let handle = std::thread::Builder::new()
            .name("recording-hash".into())
            .spawn(move || {
                let (mut plain, mut cipher) = (Sha256::new(), Sha256::new());
                for job in rx {
                    match job {
                        HashJob::Plaintext(p) => plain.update(&p),
                        HashJob::Ciphertext(c) => cipher.update(&c[..]),
                    }
                }
                (plain, cipher)
            })?;
        Ok(Self { jobs, handle })
    }

    fn send(&self, job: HashJob) -> io::Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| io::Error::other("the hashing thread stopped"))
    }

    fn finish(self) -> io::Result<(Sha256, Sha256)> {
        drop(self.jobs);
        self.handle
            .join()
            .map_err(|_| io::Error::other("the hashing thread panicked"))
    }
}

/// Where age's writer puts ciphertext until we hash and write it out: age
/// hides its inner writer, so it gets a handle to a buffer we share.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Encrypts a recording as it is produced. Plaintext exists only in the
/// caller's buffers, a copy queued for hashing, and age's one in-progress
/// 64 KiB chunk, all in memory.
pub struct RecordingWriter<W: Write> {
    stream: age::stream::StreamWriter<SharedBuf>,
    sink: SharedBuf,
    out: W,
    hasher: HashWorker,
    plaintext_len: u64,
    ciphertext_len: u64,
    header_len: u64,
}

impl<W: Write> RecordingWriter<W> {
    /// Writes the age header for `recipient` to `out` and returns the writer.
    pub fn new(out: W, recipient: &age::x25519::Recipient) -> Result<Self, FormatError> {
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                .map_err(|e| FormatError::Decrypt(e.to_string()))?;
        let sink = SharedBuf::default();
        let stream = encryptor.wrap_output(sink.clone())?;
        let mut this = Self {
            stream,
            sink,
            out,
            hasher: HashWorker::start()?,
            plaintext_len: 0,
            ciphertext_len: 0,
            header_len: 0,
        };
        // wrap_output has produced the whole header (and payload nonce).
        this.drain()?;
        this.header_len = this.ciphertext_len;
        Ok(this)
    }

    /// Appends plaintext. Full 64 KiB chunks reach `out` at once; the tail
    /// waits in memory for the next append or [`RecordingWriter::finish`].
    pub fn append(&mut self, plaintext: &[u8]) -> io::Result<()> {
        self.hasher.send(HashJob::Plaintext(plaintext.to_vec()))?;
        self.stream.write_all(plaintext)?;
        self.plaintext_len += plaintext.len() as u64;
        self.drain()
    }

    fn drain(&mut self) -> io::Result<()> {
        self.ciphertext_len += drain(&self.sink, &mut self.out, &self.hasher)?;
        Ok(())
    }

    /// Flushes `out` (not age's in-memory partial chunk, which age cannot
    /// emit before it knows whether it is the last).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn header_len(&self) -> u64 {
        self.header_len
    }

    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Bytes handed to `out` so far.
    pub fn ciphertext_len(&self) -> u64 {
        self.ciphertext_len
    }

    /// Writes the final chunk and returns `out` with the digests of both sides.
    pub fn finish(self) -> Result<(W, Ciphertext, Plaintext), FormatError> {
        let Self {
            stream,
            sink,
            mut out,
            hasher,
            plaintext_len,
            mut ciphertext_len,
            ..
        } = self;
        stream.finish()?;
        ciphertext_len += drain(&sink, &mut out, &hasher)?;
        out.flush()?;
        let (plain, cipher) = hasher.finish()?;
        let ciphertext = Ciphertext {
            length: ciphertext_len,
            sha256: cipher.finalize().into(),
        };
        let plaintext = Plaintext {
            length: plaintext_len,
            sha256: plain.finalize().into(),
        };
        Ok((out, ciphertext, plaintext))
    }
}

/// Moves ciphertext from age's buffer to `out`, while the worker hashes the
/// same buffer; returns the bytes moved.
fn drain<W: Write>(sink: &SharedBuf, out: &mut W, hasher: &HashWorker) -> io::Result<u64> {
    let ciphertext = std::mem::take(&mut *sink.0.lock().unwrap_or_else(PoisonError::into_inner));
    if ciphertext.is_empty() {
        return Ok(0);
    }
    let ciphertext = Arc::new(ciphertext);
    hasher.send(HashJob::Ciphertext(ciphertext.clone()))?;
    out.write_all(&ciphertext)?;
    Ok(ciphertext.len() as u64)
}
