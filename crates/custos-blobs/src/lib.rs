//! Where ciphertext lives: a streaming blob store over `object_store` — local
//! files by default, or any S3-compatible store — in the spirit of
//! pict-rs' `Store`. Blobs are only ever ciphertext; nothing here decrypts.
#![forbid(unsafe_code)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};

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
            // The local store wraps the file system's error: a full disk
            // must still read as one (the dock waits for it, 507), not as
            // an outage.
            other => match out_of_space(&other) {
                Some(io) => BlobError::Io(io),
                None => BlobError::Unavailable(other.to_string()),
            },
        }
    }
}

/// The out-of-space I/O error somewhere in `e`'s chain of causes, if any.
fn out_of_space(e: &(dyn std::error::Error + 'static)) -> Option<std::io::Error> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if is_out_of_space(io) {
                return Some(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    io.to_string(),
                ));
            }
        }
        cause = c.source();
    }
    None
}

/// ENOSPC (28) and EDQUOT (122 on Linux) as well as the portable kinds.
pub fn is_out_of_space(io: &std::io::Error) -> bool {
    matches!(
        io.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(io.raw_os_error(), Some(28) | Some(122))
}

pub type Result<T, E = BlobError> = std::result::Result<T, E>;

/// Parts of this size are read from disk and sent at a time: memory stays
/// flat however large the recording.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// How to reach an S3-compatible store (the `[s3]` part of a
/// deployment's `custos.toml`); the bucket and prefix come with the URL.
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// `https://s3.example` or `http://127.0.0.1:9000`; default AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// `bucket.endpoint/key` instead of `endpoint/bucket/key`.
    #[serde(default)]
    pub virtual_hosted_style: bool,
    /// Better left to `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "…"),
            )
            .finish()
    }
}

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

    /// Blobs in an S3-compatible store (AWS S3, MinIO, Ceph RGW, …) under
    /// `url` (`s3://bucket/prefix`). Credentials and anything `s3` leaves
    /// unset come from the `AWS_*` environment (`AWS_ACCESS_KEY_ID`, …).
    pub fn s3(url: &str, s3: &S3Settings) -> Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            BlobError::Unavailable(format!("`{url}`: expected s3://bucket/prefix"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BlobError::Unavailable(format!("`{url}`: no bucket named")));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            // Path-style addressing (`endpoint/bucket/key`) for MinIO-likes
            // unless virtual-hosted style is asked for.
            .with_virtual_hosted_style_request(s3.virtual_hosted_style);
        if let Some(endpoint) = &s3.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &s3.region {
            builder = builder.with_region(region);
        }
        if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let store: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            store
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self {
            store,
            local_root: None,
            backend: "s3",
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

    /// Which backend this is (`local` or `s3`): tests assert on it.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Streams the file at `source` into blob `key`, and returns only once
    /// the blob is durable (fsynced locally; acknowledged by an object store).
    pub async fn put_file(&self, key: &str, source: &Path) -> Result<u64> {
        let file = tokio::fs::File::open(source).await?;
        self.put_stream(
            key,
            tokio_util::io::ReaderStream::with_capacity(file, PART_SIZE),
        )
        .await
    }

    /// Writes what `parts` yields into blob `key`, durably, as
    /// [`put_file`](Self::put_file) does. An error from `parts` abandons
    /// the upload: no blob, or the one before, stays under `key`.
    pub async fn put_stream(
        &self,
        key: &str,
        mut parts: impl futures::Stream<Item = std::io::Result<Bytes>> + Unpin,
    ) -> Result<u64> {
        use futures::StreamExt;
        let location = ObjectPath::parse(key).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut total = 0u64;
        while let Some(part) = parts.next().await {
            let part = match part {
                Ok(part) => part,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            writer.wait_for_capacity(2).await?;
            writer.write(&part);
            total += part.len() as u64;
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

    /// The whole blob as a stream of parts, for handing on as it arrives.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes>>> {
        use futures::StreamExt;
        let location = ObjectPath::parse(key).map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let found = self.store.get(&location).await?;
        Ok(found
            .into_stream()
            .map(|r| r.map_err(BlobError::from))
            .boxed())
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

    /// The blob store's contract, run unchanged on every backend.
    async fn story(blobs: &BlobStore, scratch: &Path) {
        let source = scratch.join("source");
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
        for range in [5..10, 0..1, (PART_SIZE as u64 - 3)..(PART_SIZE as u64 + 3)] {
            assert_eq!(
                blobs
                    .get_range("cam-1/abc.age", range.clone())
                    .await
                    .unwrap()
                    .as_ref(),
                &data[range.start as usize..range.end as usize]
            );
        }
        // Streamed in and out in parts, as exports for download links are.
        let parts: Vec<std::io::Result<Bytes>> = data
            .chunks(PART_SIZE / 3)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        assert_eq!(
            blobs
                .put_stream("exports/p.age", futures::stream::iter(parts))
                .await
                .unwrap(),
            data.len() as u64
        );
        let mut back = Vec::new();
        let mut stream = blobs.get_stream("exports/p.age").await.unwrap();
        while let Some(part) = futures::StreamExt::next(&mut stream).await {
            back.extend_from_slice(&part.unwrap());
        }
        assert!(back == data, "a streamed blob reads back as written");
        // A stream that fails part-way leaves no blob behind.
        let broken = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"half a package")),
            Err(std::io::Error::other("the writer gave up")),
        ]);
        assert!(blobs
            .put_stream("exports/broken.age", broken)
            .await
            .is_err());
        assert_eq!(blobs.size("exports/broken.age").await.unwrap(), None);
        assert!(matches!(
            blobs.get_stream("exports/broken.age").await,
            Err(BlobError::NotFound(_))
        ));
        blobs.delete("exports/p.age").await.unwrap();
        assert_eq!(blobs.size("cam-1/none.age").await.unwrap(), None);
        assert!(matches!(
            blobs.get_range("cam-1/none.age", 0..1).await,
            Err(BlobError::NotFound(_))
        ));
        // Adopting a staged file: it becomes the blob and leaves staging.
        let staged = scratch.join("staged");
        std::fs::write(&staged, b"staged ciphertext").unwrap();
        assert_eq!(
            blobs.adopt_file("cam-1/def.age", &staged).await.unwrap(),
            17
        );
        assert!(!staged.exists());
        assert_eq!(
            blobs
                .get_range("cam-1/def.age", 0..6)
                .await
                .unwrap()
                .as_ref(),
            b"staged"
        );
        for key in ["cam-1/abc.age", "cam-1/def.age"] {
            blobs.delete(key).await.unwrap();
            assert_eq!(blobs.size(key).await.unwrap(), None);
            // Deleting what is gone is fine: a crashed sweep deletes again.
            blobs.delete(key).await.unwrap();
        }
    }

    #[tokio::test]
    async fn local_story() {
        let tmp = tempfile::tempdir().unwrap();
        let blobs = BlobStore::local(&tmp.path().join("blobs")).unwrap();
        assert_eq!(blobs.backend(), "local");
        story(&blobs, tmp.path()).await;
    }

    /// On a real S3-compatible server on loopback (CI starts moto's
    /// `moto_server` on port 9000 with bucket `custos-test`; another one is
    /// named by `CUSTOS_TEST_S3`). Without one this fails: a backend that was
    /// not really used must not pass.
    #[tokio::test]
    async fn s3_story() {
        let endpoint =
            std::env::var("CUSTOS_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:9000".into());
        let tmp = tempfile::tempdir().unwrap();
        let prefix = format!(
            "story-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let blobs = BlobStore::s3(
            &format!("s3://custos-test/{prefix}"),
            &S3Settings {
                endpoint: Some(endpoint.clone()),
                region: Some("us-east-1".into()),
                virtual_hosted_style: false,
                access_key_id: Some("custos-test".into()),
                secret_access_key: Some("custos-test-secret".into()),
            },
        )
        .unwrap();
        assert_eq!(blobs.backend(), "s3");
        assert!(
            blobs.size("probe").await.is_ok(),
            "no S3-compatible server at {endpoint} with bucket custos-test (see ./test.sh)"
        );
        story(&blobs, tmp.path()).await;
        assert!(blobs.local_path("cam-1/abc.age").is_none());
    }

    #[test]
    fn s3_urls_are_checked_and_secrets_not_printed() {
        for url in ["https://bucket/x", "s3://", "s3:///prefix"] {
            assert!(BlobStore::s3(url, &S3Settings::default()).is_err());
        }
        let config = S3Settings {
            secret_access_key: Some("hunter2".into()),
            ..Default::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}

#[cfg(test)]
mod full_disk {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("unable to copy data to file: {source}")]
    struct Wrapped {
        source: std::io::Error,
    }

    #[test]
    fn a_full_disk_under_the_object_store_reads_as_a_full_disk() {
        for io in [
            std::io::Error::from_raw_os_error(28),
            std::io::Error::from_raw_os_error(122),
            std::io::Error::from(std::io::ErrorKind::StorageFull),
        ] {
            let e = object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(Wrapped { source: io }),
            };
            match BlobError::from(e) {
                BlobError::Io(io) => assert!(is_out_of_space(&io)),
                other => panic!("{other:?}"),
            }
        }
        // Anything else stays an outage.
        let e = object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(Wrapped {
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            }),
        };
        assert!(matches!(BlobError::from(e), BlobError::Unavailable(_)));
    }
}
