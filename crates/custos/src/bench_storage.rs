//! Where a server benchmark keeps its catalog and blobs. By default the data
//! directory (SQLite + local files); with `--database` and `--blobs`, a fresh
//! PostgreSQL schema and a fresh S3 prefix, named in `DATA/custos.toml` as a
//! deployment names them (so the server under test, even as its own
//! process, uses them), and emptied again afterwards.

use std::path::Path;

use anyhow::{Context, Result};
use custos_server::storage::{S3Settings, StorageConfig, CONFIG_FILE};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct BenchStorage {
    /// postgres://… : the catalog in a schema of its own in this database
    /// (default: SQLite in the data directory).
    #[arg(long)]
    database: Option<String>,
    /// s3://bucket[/prefix]: blobs under a prefix of their own in this bucket
    /// (default: files in the data directory). Credentials: `AWS_*`.
    #[arg(long)]
    blobs: Option<String>,
    /// The S3 endpoint, e.g. http://127.0.0.1:9000 (default: AWS, or
    /// `CUSTOS_S3_ENDPOINT`).
    #[arg(long)]
    s3_endpoint: Option<String>,
}

/// The storage a benchmark runs on, until `remove`.
pub struct Prepared {
    pub config: StorageConfig,
    schema: Option<(String, String)>,
}

impl BenchStorage {
    /// Makes the schema and names both stores in `data`'s `custos.toml`.
    pub async fn prepare(&self, data: &Path, bench: &str) -> Result<Prepared> {
        let unique = format!("bench_{bench}_{}", std::process::id());
        let mut schema = None;
        let database = match &self.database {
            None => None,
            Some(url) => {
                // Connecting in the schema makes it and runs the migrations.
                custos_catalog_postgres::connect_in_schema(url, &unique)
                    .await
                    .context("PostgreSQL for the benchmark")?;
                schema = Some((url.clone(), unique.clone()));
                let joiner = if url.contains('?') { '&' } else { '?' };
                Some(format!("{url}{joiner}options=-c%20search_path%3D{unique}"))
            }
        };
        let blobs = self
            .blobs
            .as_ref()
            .map(|b| format!("{}/{unique}", b.trim_end_matches('/')));
        let s3 = S3Settings {
            endpoint: self
                .s3_endpoint
                .clone()
                .or_else(|| std::env::var("CUSTOS_S3_ENDPOINT").ok()),
            region: std::env::var("CUSTOS_S3_REGION")
                .ok()
                .or_else(|| Some("us-east-1".into())),
            ..Default::default()
        };
        let mut toml = String::new();
        if let Some(d) = &database {
            toml += &format!("database = {d:?}\n");
        }
        if let Some(b) = &blobs {
            toml += &format!("blobs = {b:?}\n[s3]\n");
            if let Some(e) = &s3.endpoint {
                toml += &format!("endpoint = {e:?}\n");
            }
            if let Some(r) = &s3.region {
                toml += &format!("region = {r:?}\n");
            }
        }
        std::fs::create_dir_all(data)?;
        std::fs::write(data.join(CONFIG_FILE), toml)?;
        let config = StorageConfig::resolve(data, None, None)?;
        Ok(Prepared { config, schema })
    }
}

impl Prepared {
    /// `sqlite + local files` or `postgres + s3`.
    pub fn describe(&self) -> String {
        self.config.describe()
    }

    /// Deletes every recording's blob and drops the schema: a benchmark
    /// leaves nothing behind in shared servers.
    pub async fn remove(self, data: &Path) -> Result<()> {
        if self.config.blobs.is_some() {
            let catalog = self.config.open_catalog(data).await?;
            let blobs = self.config.open_blobs(data)?;
            for recording in catalog.recordings().await? {
                blobs.delete(&recording.camera().unwrap().blob_key).await?;
            }
        }
        if let Some((url, schema)) = self.schema {
            let catalog = custos_catalog_postgres::connect_in_schema(&url, &schema).await?;
            custos_catalog_postgres::drop_schema(catalog, &schema).await?;
        }
        Ok(())
    }
}
