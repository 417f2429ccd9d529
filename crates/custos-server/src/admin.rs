//! The operator's side, on the server's data directory: enroll and revoke
//! cameras and docks, list recordings and incidents. Every call is audited
//! as a system access.

use std::path::Path;

use anyhow::{bail, Context, Result};
use custos_audit::{AuditEvent, NoteSigner, Outcome};
use custos_catalog::{Catalog, Device, Dock, Incident};
use custos_catalog_sqlite::SqliteCatalog;
use custos_format::{UtcMillis, VerifyingKey};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub struct Admin {
    catalog: SqliteCatalog,
    signer: NoteSigner,
    now: UtcMillis,
}

/// A new dock's credential, shown once.
pub struct DockCredential {
    pub dock_id: String,
    pub token: String,
}

#[derive(Serialize)]
pub struct RecordingSummary {
    pub recording_id: String,
    pub device_id: String,
    pub officer_id: Option<String>,
    pub sequence: u64,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    pub size: u64,
    pub status: &'static str,
    pub delete_after: UtcMillis,
}

impl Admin {
    pub async fn open(data: &Path) -> Result<Self> {
        if !data.join("keys/evidence.recipient").exists() {
            bail!(
                "{} is not a Custos data directory (run `custos keys init --data …`)",
                data.display()
            );
        }
        Ok(Self {
            catalog: SqliteCatalog::open(data).await?,
            signer: crate::audit::load_or_create_signer(data)?,
            now: UtcMillis::now(),
        })
    }

    /// Written before the operation takes effect; an operation that cannot
    /// be audited does not happen.
    async fn audit(&self, action: &str, object: &str, detail: &str) -> Result<()> {
        let mut event = AuditEvent::new(self.now, "system:cli", action, Outcome::Ok).object(object);
        if !detail.is_empty() {
            event = event.detail(detail);
        }
        crate::audit::append(&self.catalog, &self.signer, vec![event]).await?;
        Ok(())
    }

    pub async fn enroll_camera(&self, device_id: &str, public_key: &VerifyingKey) -> Result<()> {
        custos_format::manifest::check_identifier(device_id).map_err(anyhow::Error::msg)?;
        self.catalog
            .add_device(&Device {
                device_id: device_id.into(),
                public_key: public_key.to_hex(),
                enrolled_at: self.now,
                revoked_at: None,
            })
            .await?;
        self.audit(
            "camera.enroll",
            &format!("camera:{device_id}"),
            &public_key.to_hex(),
        )
        .await
    }

    pub async fn revoke_camera(&self, device_id: &str) -> Result<()> {
        self.catalog.revoke_device(device_id, self.now).await?;
        self.audit("camera.revoke", &format!("camera:{device_id}"), "")
            .await
    }

    pub async fn enroll_dock(&self, dock_id: &str) -> Result<DockCredential> {
        custos_format::manifest::check_identifier(dock_id).map_err(anyhow::Error::msg)?;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = hex::encode(secret);
        let token_sha256 = hex::encode(Sha256::digest(token.as_bytes()));
        self.catalog
            .add_dock(&Dock {
                dock_id: dock_id.into(),
                token_sha256,
                enrolled_at: self.now,
                revoked_at: None,
            })
            .await?;
        self.audit("dock.enroll", &format!("dock:{dock_id}"), "")
            .await?;
        Ok(DockCredential {
            dock_id: dock_id.into(),
            token,
        })
    }

    pub async fn revoke_dock(&self, dock_id: &str) -> Result<()> {
        self.catalog.revoke_dock(dock_id, self.now).await?;
        self.audit("dock.revoke", &format!("dock:{dock_id}"), "")
            .await
    }

    /// Metadata only; never content.
    pub async fn recordings(&self) -> Result<Vec<RecordingSummary>> {
        self.audit("recordings.list", "recordings", "metadata only")
            .await?;
        Ok(self
            .catalog
            .recordings()
            .await
            .context("reading the catalog")?
            .into_iter()
            .map(|r| RecordingSummary {
                recording_id: r.recording_id.to_string(),
                device_id: r.device_id,
                officer_id: r.officer_id,
                sequence: r.sequence,
                started_at: r.started_at,
                ended_at: r.ended_at,
                size: r.ciphertext_length,
                status: if r.truncated {
                    "stored-truncated"
                } else {
                    "stored"
                },
                delete_after: r.delete_after,
            })
            .collect())
    }

    pub async fn incidents(&self) -> Result<Vec<Incident>> {
        self.audit("incidents.list", "incidents", "").await?;
        Ok(self.catalog.incidents().await?)
    }

    pub fn catalog(&self) -> &dyn Catalog {
        &self.catalog
    }
}
