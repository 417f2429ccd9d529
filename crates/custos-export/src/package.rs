//! Writing a package in one pass: every file is hashed as it streams into a
//! tar archive (usually wrapped in age encryption) or a directory, so a
//! 10 GiB export needs no temporary copy and constant memory.

use std::io::{Read, Write};
use std::path::PathBuf;

use custos_format::SigningKey;
use sha2::{Digest, Sha256};

use crate::sums::Sums;
use crate::{check_path, ExportError};

/// Where a package's files go.
pub trait Sink {
    /// Writes exactly `length` bytes from `content` as `path`.
    fn put(&mut self, path: &str, length: u64, content: &mut dyn Read) -> std::io::Result<()>;
}

/// A tar archive (POSIX ustar), entries in the order written, with the
/// package's creation time as every file's time.
pub struct TarSink<W: Write> {
    builder: tar::Builder<W>,
    mtime: u64,
}

impl<W: Write> TarSink<W> {
    pub fn new(out: W, mtime_seconds: u64) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        Self {
            builder,
            mtime: mtime_seconds,
        }
    }

    /// Ends the archive (two zero blocks) and hands back the writer.
    pub fn finish(self) -> std::io::Result<W> {
        self.builder.into_inner()
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn put(&mut self, path: &str, length: u64, content: &mut dyn Read) -> std::io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_size(length);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder
            .append_data(&mut header, path, content.take(length))
    }
}

/// A directory (tests, and anyone who wants to look before packing).
pub struct DirSink {
    root: PathBuf,
}

impl DirSink {
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }
}

impl Sink for DirSink {
    fn put(&mut self, path: &str, length: u64, content: &mut dyn Read) -> std::io::Result<()> {
        let target = self.root.join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::File::create_new(&target)?;
        std::io::copy(&mut content.take(length), &mut file)?;
        file.sync_all()
    }
}

/// Counts and hashes what passes through.
struct Hashing<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    count: u64,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Adds files to a sink and remembers their hashes for `SHA256SUMS`.
pub struct PackageWriter<S: Sink> {
    sink: S,
    sums: Sums,
}

impl<S: Sink> PackageWriter<S> {
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            sums: Sums::default(),
        }
    }

    pub fn add_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<[u8; 32], ExportError> {
        self.add_stream(path, bytes.len() as u64, &mut &bytes[..])
    }

    /// Streams `length` bytes of `content` in as `path`; fails if `content`
    /// ends early (the package would otherwise say less than it claims).
    pub fn add_stream(
        &mut self,
        path: &str,
        length: u64,
        content: &mut dyn Read,
    ) -> Result<[u8; 32], ExportError> {
        check_path(path)?;
        if path == crate::SUMS || path == crate::SUMS_SIGNATURE || self.sums.0.contains_key(path) {
            return Err(ExportError::Refused {
                path: path.into(),
                reason: "already in the package".into(),
            });
        }
        let mut hashing = Hashing {
            inner: content,
            hasher: Sha256::new(),
            count: 0,
        };
        self.sink.put(path, length, &mut hashing)?;
        if hashing.count != length {
            return Err(ExportError::Refused {
                path: path.into(),
                reason: format!("{} bytes instead of {length}", hashing.count),
            });
        }
        let hash: [u8; 32] = hashing.hasher.finalize().into();
        self.sums.0.insert(path.to_owned(), hash);
        Ok(hash)
    }

    /// Adds the server's public key, `SHA256SUMS` and its signature; returns
    /// the sink (to finish the archive).
    pub fn finish(mut self, server_key: &SigningKey) -> Result<S, ExportError> {
        self.add_bytes(
            crate::SERVER_KEY,
            server_key.verifying_key().to_pem().as_bytes(),
        )?;
        let text = self.sums.to_text();
        let signature = server_key.sign(text.as_bytes());
        let bytes = text.as_bytes();
        self.sink
            .put(crate::SUMS, bytes.len() as u64, &mut &bytes[..])?;
        self.sink.put(
            crate::SUMS_SIGNATURE,
            signature.len() as u64,
            &mut &signature[..],
        )?;
        Ok(self.sink)
    }
}
