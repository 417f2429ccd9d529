//! Writing a recording's content: plaintext in, age ciphertext out, with the
//! SHA-256 of both sides computed on the way so nothing is read twice.
//!
//! The two hashes are extra work `age -r` does not do. For large appends
//! (a camera appends one whole fragment at a time) they run on a second core
//! beside encryption and the write, so the camera keeps pace with plain age.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};

use crate::{Ciphertext, FormatError, Plaintext};

/// age STREAM plaintext chunk size (age-encryption.org/v1).
pub const AGE_CHUNK_SIZE: u64 = 64 * 1024;
/// A chunk on disk: plaintext plus the 16-byte Poly1305 tag.
pub const AGE_ENCRYPTED_CHUNK_SIZE: u64 = AGE_CHUNK_SIZE + 16;

/// Below this, hashing on another thread costs more than it saves.
const PARALLEL_MIN: usize = 256 * 1024;

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
/// caller's buffers and in age's one in-progress 64 KiB chunk in memory.
pub struct RecordingWriter<W: Write> {
    stream: age::stream::StreamWriter<SharedBuf>,
    sink: SharedBuf,
    spare: Vec<u8>,
    out: W,
    plaintext_hasher: Sha256,
    ciphertext_hasher: Sha256,
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
            spare: Vec::new(),
            out,
            plaintext_hasher: Sha256::new(),
            ciphertext_hasher: Sha256::new(),
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
        if plaintext.len() >= PARALLEL_MIN {
            let hasher = &mut self.plaintext_hasher;
            let stream = &mut self.stream;
            std::thread::scope(|s| {
                let hashing = s.spawn(move || hasher.update(plaintext));
                let written = stream.write_all(plaintext);
                hashing.join().expect("hashing does not panic");
                written
            })?;
        } else {
            self.plaintext_hasher.update(plaintext);
            self.stream.write_all(plaintext)?;
        }
        self.plaintext_len += plaintext.len() as u64;
        self.drain()
    }

    /// Moves ciphertext from age's buffer to `out`, hashing it on the way.
    fn drain(&mut self) -> io::Result<()> {
        {
            let mut buffered = self.sink.0.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *buffered, &mut self.spare);
        }
        let ciphertext = &self.spare;
        if ciphertext.len() >= PARALLEL_MIN {
            let hasher = &mut self.ciphertext_hasher;
            let out = &mut self.out;
            std::thread::scope(|s| {
                let hashing = s.spawn(move || hasher.update(ciphertext));
                let written = out.write_all(ciphertext);
                hashing.join().expect("hashing does not panic");
                written
            })?;
        } else {
            self.ciphertext_hasher.update(ciphertext);
            self.out.write_all(ciphertext)?;
        }
        self.ciphertext_len += ciphertext.len() as u64;
        self.spare.clear();
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
            plaintext_hasher,
            mut ciphertext_hasher,
            plaintext_len,
            mut ciphertext_len,
            ..
        } = self;
        stream.finish()?;
        // The final chunk is at most 64 KiB: no need for a second thread.
        let tail = std::mem::take(&mut *sink.0.lock().unwrap_or_else(PoisonError::into_inner));
        ciphertext_hasher.update(&tail);
        out.write_all(&tail)?;
        out.flush()?;
        ciphertext_len += tail.len() as u64;
        let ciphertext = Ciphertext {
            length: ciphertext_len,
            sha256: ciphertext_hasher.finalize().into(),
        };
        let plaintext = Plaintext {
            length: plaintext_len,
            sha256: plaintext_hasher.finalize().into(),
        };
        Ok((out, ciphertext, plaintext))
    }
}
