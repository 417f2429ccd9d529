//! Where ciphertext lives: a streaming blob store over `object_store` — local
//! files by default, any S3-compatible store later — in the spirit of
//! pict-rs' `Store`. Blobs are only ever ciphertext; nothing here decrypts.
#![forbid(unsafe_code)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("blob `{0}` not found")]
    NotFound(String),
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => BlobError::NotFound(path),
            other => BlobError::Unavailable(other.to_string()),
        }
    }
}

pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// Parts of this size are read from disk and sent at a time: memory stays
/// flat however large the recording.
const PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set for the local backend, whose writes we fsync ourselves.
    local_root: Option<PathBuf>,
    backend: &'static str,
}

impl BlobStore {
    /// Blobs as files under `root`.
    pub fn local(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        Ok(Self {
            store: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
            local_root: Some(root),
            backend: "local",
        })
    }

    /// The file behind blob `key` when blobs are local files: readers that
    /// seek a lot (playback) read it directly instead of through ranged gets.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let location = ObjectPath::parse(key).ok()?;
        self.local_root
            .as_ref()
            .map(|root| root.join(location.as_ref()))
    }

    /// Which backend this is (`local`, later `s3`): tests assert on it.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Streams the file at `source` into blob `key`, and returns only once
    /// the blob is durable (fsynced locally; acknowledged by an object store).
    pub async fn put_file(&self, key: &str, source: &Path) -> Result<u64> {
        let location = ObjectPath::parse(key).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut file = tokio::fs::File::open(source).await?;
        let mut buf = vec![0u8; PART_SIZE];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&buf[..n]);
            total += n as u64;
        }
        writer.finish().await?;
        if let Some(root) = &self.local_root {
            // object_store's local backend renames into place without fsync.
            let path = root.join(key);
            let file = std::fs::File::open(&path)?;
            file.sync_all()?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
        }
        Ok(total)
    }

    /// Takes over the file at `source` as blob `key`, durably. On the local
    /// backend this is a rename within one filesystem (no copy); elsewhere,
    /// or across filesystems, a streaming upload followed by removing `source`.
    pub async fn adopt_file(&self, key: &str, source: &Path) -> Result<u64> {
        if let Some(root) = &self.local_root {
            let target = root.join(key);
            let size = tokio::fs::metadata(source).await?.len();
            let (source, target2) = (source.to_owned(), target.clone());
            let renamed = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
                std::fs::File::open(&source)?.sync_all()?;
                let dir = target2.parent().expect("blob keys have a directory");
                std::fs::create_dir_all(dir)?;
                match std::fs::rename(&source, &target2) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(18) => return Ok(false), // EXDEV: another filesystem
                    Err(e) => return Err(e),
                }
                std::fs::File::open(dir)?.sync_all()?;
                if let Some(from) = source.parent() {
                    std::fs::File::open(from)?.sync_all()?;
                }
                Ok(true)
            })
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))??;
            if renamed {
                return Ok(size);
            }
            let _ = target;
        }
        let size = self.put_file(key, source).await?;
        tokio::fs::remove_file(source).await?;
        Ok(size)
    }

    /// Size of blob `key`, if it exists.
    pub async fn size(&self, key: &str) -> Result<Option<u64>> {
        let location = ObjectPath::parse(key).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        match self.store.head(&location).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let location = ObjectPath::parse(key).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        Ok(self.store.get_range(&location, range).await?)
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        let location = ObjectPath::parse(key).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_streams_a_file_and_reads_ranges() {
        let tmp = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(&tmp.path().join("blobs")).unwrap();
        assert_eq!(blobs.backend(), "local");
        let source = tmp.path().join("source");
        let data: Vec<u8> = (0..(PART_SIZE * 2 + 123))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&source, &data).unwrap();
        assert_eq!(
            blobs.put_file("cam-1/abc.age", &source).await.unwrap(),
            data.len() as u64
        );
        assert_eq!(
            blobs.size("cam-1/abc.age").await.unwrap(),
            Some(data.len() as u64)
        );
        assert_eq!(
            blobs
                .get_range("cam-1/abc.age", 5..10)
                .await
                .unwrap()
                .as_ref(),
            &data[5..10]
        );
        assert_eq!(blobs.size("cam-1/none.age").await.unwrap(), None);
        assert!(matches!(
            blobs.get_range("cam-1/none.age", 0..1).await,
            Err(BlobError::NotFound(_))
        ));
        blobs.delete("cam-1/abc.age").await.unwrap();
        assert_eq!(blobs.size("cam-1/abc.age").await.unwrap(), None);
        blobs.delete("cam-1/abc.age").await.unwrap();
    }
}
