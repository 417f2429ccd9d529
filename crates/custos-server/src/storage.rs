//! Where a deployment keeps its catalog and its blobs. By default both live
//! in the data directory (SQLite, local files); a regional deployment puts
//! them in PostgreSQL and an S3-compatible store. The data directory always
//! keeps the keys (sealed evidence key, audit and receipt keys, TLS).
//!
//! Every command that takes `--data` reads the same choice, in this order,
//! each overriding the one before: `DATA/custos.toml`, the environment
//! (`CUSTOS_DATABASE`, `CUSTOS_BLOBS`, `CUSTOS_S3_ENDPOINT`,
//! `CUSTOS_S3_REGION`), then `serve`'s flags. S3 credentials come from the
//! `AWS_*` environment, or from the file.
//!
//! ```toml
//! database = "postgres://custos@db.example/custos"
//! blobs = "s3://evidence/rotterdam"
//! [s3]
//! endpoint = "https://s3.example"
//! region = "eu-west-1"
//! ```

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use custos_blobs::BlobStore;
pub use custos_blobs::S3Settings;
use custos_catalog::Catalog;
use serde::Deserialize;

/// The file in the data directory that names the storage.
pub const CONFIG_FILE: &str = "custos.toml";

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `postgres://…`; none: SQLite in the data directory.
    #[serde(default)]
    pub database: Option<String>,
    /// `s3://bucket/prefix`; none: files under `DATA/blobs`.
    #[serde(default)]
    pub blobs: Option<String>,
    #[serde(default)]
    pub s3: S3Settings,
}

impl StorageConfig {
    /// The file, then the environment, then the flags given.
    pub fn resolve(data: &Path, database: Option<String>, blobs: Option<String>) -> Result<Self> {
        let path = data.join(CONFIG_FILE);
        let mut config: Self = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("{}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        config.database = database.or(env("CUSTOS_DATABASE")).or(config.database);
        config.blobs = blobs.or(env("CUSTOS_BLOBS")).or(config.blobs);
        config.s3.endpoint = env("CUSTOS_S3_ENDPOINT").or(config.s3.endpoint);
        config.s3.region = env("CUSTOS_S3_REGION").or(config.s3.region);
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        if let Some(db) = &self.database {
            if !(db.starts_with("postgres://") || db.starts_with("postgresql://")) {
                bail!("database `{db}`: expected postgres://… (or none for SQLite in the data directory)");
            }
        }
        if let Some(blobs) = &self.blobs {
            if !blobs.starts_with("s3://") {
                bail!("blobs `{blobs}`: expected s3://bucket/prefix (or none for files in the data directory)");
            }
        }
        Ok(())
    }

    /// The catalog this configuration names.
    pub async fn open_catalog(&self, data: &Path) -> Result<Arc<dyn Catalog>> {
        Ok(match &self.database {
            Some(url) => Arc::new(
                custos_catalog_postgres::connect(url)
                    .await
                    .context("connecting to the PostgreSQL catalog")?,
            ),
            None => Arc::new(
                custos_catalog_sqlite::open(data)
                    .await
                    .context("opening the catalog")?,
            ),
        })
    }

    /// The blob store this configuration names.
    pub fn open_blobs(&self, data: &Path) -> Result<BlobStore> {
        Ok(match &self.blobs {
            Some(url) => BlobStore::s3(url, &self.s3).context("opening the S3 blob store")?,
            None => BlobStore::local(&data.join("blobs")).context("opening the blob store")?,
        })
    }

    /// `sqlite + local files`, `postgres + s3`: for logs and the audit log
    /// (never with credentials).
    pub fn describe(&self) -> String {
        format!(
            "{} + {}",
            if self.database.is_some() {
                "postgres"
            } else {
                "sqlite"
            },
            if self.blobs.is_some() {
                "s3"
            } else {
                "local files"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_then_the_flags_decide_and_nonsense_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let none = StorageConfig::resolve(tmp.path(), None, None).unwrap();
        // The environment of the test run may name storage; only the file is ours.
        if std::env::var_os("CUSTOS_DATABASE").is_none()
            && std::env::var_os("CUSTOS_BLOBS").is_none()
        {
            assert_eq!(none.describe(), "sqlite + local files");
        }
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            "database = \"postgres://a@b/c\"\nblobs = \"s3://bucket/p\"\n[s3]\nendpoint = \"http://127.0.0.1:9000\"\nsecret_access_key = \"hunter2\"\n",
        )
        .unwrap();
        let file = StorageConfig::resolve(tmp.path(), None, None).unwrap();
        assert_eq!(file.describe(), "postgres + s3");
        assert_eq!(file.s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(!format!("{file:?}").contains("hunter2"));
        let flags =
            StorageConfig::resolve(tmp.path(), Some("postgres://x@y/z".into()), None).unwrap();
        assert_eq!(flags.database.as_deref(), Some("postgres://x@y/z"));
        for bad in [
            (Some("mysql://x".to_owned()), None),
            (None, Some("/var/blobs".to_owned())),
        ] {
            assert!(StorageConfig::resolve(tmp.path(), bad.0, bad.1).is_err());
        }
        std::fs::write(tmp.path().join(CONFIG_FILE), "databse = \"typo\"\n").unwrap();
        let typo = StorageConfig::resolve(tmp.path(), None, None).unwrap_err();
        assert!(format!("{typo:#}").contains("databse"), "{typo:#}");
    }
}
