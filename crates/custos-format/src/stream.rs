//! Writing a recording's content: plaintext in, age ciphertext out, with the
//! SHA-256 of both sides computed on the way so nothing is read twice.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::{Ciphertext, FormatError, Plaintext};

/// age STREAM plaintext chunk size (age-encryption.org/v1).
pub const AGE_CHUNK_SIZE: u64 = 64 * 1024;
/// A chunk on disk: plaintext plus the 16-byte Poly1305 tag.
pub const AGE_ENCRYPTED_CHUNK_SIZE: u64 = AGE_CHUNK_SIZE + 16;

/// Counts and hashes every byte that passes through to `inner`.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    /// Shared with [`RecordingWriter`], since age's writer hides its inner writer.
    written: Arc<AtomicU64>,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Encrypts a recording as it is produced. Plaintext exists only in the
/// caller's buffers and in age's one in-progress 64 KiB chunk in memory.
pub struct RecordingWriter<W: Write> {
    stream: age::stream::StreamWriter<HashingWriter<W>>,
    plaintext_hasher: Sha256,
    plaintext_len: u64,
    header_len: u64,
    written: Arc<AtomicU64>,
}

impl<W: Write> RecordingWriter<W> {
    /// Writes the age header for `recipient` to `out` and returns the writer.
    pub fn new(out: W, recipient: &age::x25519::Recipient) -> Result<Self, FormatError> {
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
                .map_err(|e| FormatError::Decrypt(e.to_string()))?;
        let written = Arc::new(AtomicU64::new(0));
        let hashing = HashingWriter {
            inner: out,
            hasher: Sha256::new(),
            written: written.clone(),
        };
        let stream = encryptor.wrap_output(hashing)?;
        // wrap_output has written the whole header by the time it returns.
        let header_len = written.load(Ordering::Relaxed);
        Ok(Self {
            stream,
            plaintext_hasher: Sha256::new(),
            plaintext_len: 0,
            header_len,
            written,
        })
    }

    /// Appends plaintext. Full 64 KiB chunks reach `out` at once; the tail
    /// waits in memory for the next append or [`RecordingWriter::finish`].
    pub fn append(&mut self, plaintext: &[u8]) -> io::Result<()> {
        self.stream.write_all(plaintext)?;
        self.plaintext_hasher.update(plaintext);
        self.plaintext_len += plaintext.len() as u64;
        Ok(())
    }

    /// Flushes `out` (not age's in-memory partial chunk, which age cannot
    /// emit before it knows whether it is the last).
    pub fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }

    pub fn header_len(&self) -> u64 {
        self.header_len
    }

    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Bytes handed to `out` so far.
    pub fn ciphertext_len(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Writes the final chunk and returns `out` with the digests of both sides.
    pub fn finish(self) -> Result<(W, Ciphertext, Plaintext), FormatError> {
        let hashing = self.stream.finish()?;
        let ciphertext = Ciphertext {
            length: hashing.written.load(Ordering::Relaxed),
            sha256: hashing.hasher.finalize().into(),
        };
        let plaintext = Plaintext {
            length: self.plaintext_len,
            sha256: self.plaintext_hasher.finalize().into(),
        };
        Ok((hashing.inner, ciphertext, plaintext))
    }
}
