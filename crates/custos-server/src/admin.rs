//! The operator's side, on the server's data directory: enroll and revoke
//! cameras and docks, list recordings and incidents. Every call is audited
//! as a system access.

use std::path::Path;

use anyhow::{bail, Context, Result};
use custos_audit::{AuditEvent, NoteSigner, Outcome};
use custos_catalog::{AxisConnection, Catalog, Device, Dock, Incident};
use custos_format::{UtcMillis, VerifyingKey};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub struct Admin {
    catalog: std::sync::Arc<dyn Catalog>,
    data: std::path::PathBuf,
    signer: NoteSigner,
    now: UtcMillis,
}

/// A new dock's credential, shown once.
pub struct DockCredential {
    pub dock_id: String,
    pub token: String,
}

/// An Axis connection's credentials, shown once: the connection file's
/// `BlobAPIUserName` and `BlobAPIKey`.
pub struct AxisCredential {
    pub name: String,
    pub key: zeroize::Zeroizing<String>,
}

/// A connection's new content key: its private half only as sealed to the
/// evidence key.
pub struct NewContentKey {
    public_pem: String,
    key_id: String,
    sealed: Vec<u8>,
}

/// A random 256-bit key for an Axis connection, and the hash the catalog keeps.
fn new_axis_key(name: &str) -> (AxisCredential, String) {
    let mut secret = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut *secret);
    let key = zeroize::Zeroizing::new(hex::encode(*secret));
    let key_sha256 = hex::encode(Sha256::digest(key.as_bytes()));
    (
        AxisCredential {
            name: name.into(),
            key,
        },
        key_sha256,
    )
}

/// A random 256-bit token for a dock, and the hash the catalog keeps.
pub fn new_dock_token(dock_id: &str) -> (DockCredential, String) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = hex::encode(secret);
    let token_sha256 = hex::encode(Sha256::digest(token.as_bytes()));
    (
        DockCredential {
            dock_id: dock_id.into(),
            token,
        },
        token_sha256,
    )
}

#[derive(Serialize)]
pub struct RecordingSummary {
    pub recording_id: String,
    pub device_id: String,
    pub officer_id: Option<String>,
    pub sequence: u64,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    /// `camera` (a Custos camera's) or `axis` (an Axis system
    /// controller's).
    pub origin: &'static str,
    /// Bytes stored: a camera's ciphertext, an Axis recording's objects as
    /// they arrived.
    pub size: u64,
    pub status: &'static str,
    pub delete_after: UtcMillis,
    pub retention_category: String,
    /// An unreleased hold keeps it past `delete_after`.
    pub held: bool,
}

impl RecordingSummary {
    pub fn of(r: &custos_catalog::Recording, held: bool) -> Self {
        Self {
            recording_id: r.recording_id.to_string(),
            device_id: r.device_id.clone(),
            officer_id: r.officer_id.clone(),
            sequence: r.sequence,
            started_at: r.started_at,
            ended_at: r.ended_at,
            origin: match &r.provenance {
                custos_catalog::Provenance::Camera(_) => "camera",
                custos_catalog::Provenance::Axis(_) => "axis",
            },
            size: match &r.provenance {
                custos_catalog::Provenance::Camera(c) => c.ciphertext_length,
                custos_catalog::Provenance::Axis(a) => a.length,
            },
            status: if r.truncated {
                "stored-truncated"
            } else {
                "stored"
            },
            delete_after: r.delete_after,
            retention_category: r.retention_category.clone(),
            held,
        }
    }
}

/// Said when a read-only command cannot record itself (the disk is full).
pub const NOT_RECORDED: &str = "this read is not in the audit log: its disk is full";

impl Admin {
    pub async fn open(data: &Path) -> Result<Self> {
        if !data.join("keys/evidence.recipient").exists() {
            bail!(
                "{} is not a Custos data directory (run `custos keys init --data …`)",
                data.display()
            );
        }
        Ok(Self {
            catalog: crate::storage::StorageConfig::resolve(data, None, None)?
                .open_catalog(data)
                .await?,
            signer: crate::audit::load_or_create_signer(data)?,
            data: data.to_owned(),
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
        crate::audit::append(&*self.catalog, &self.signer, vec![event]).await?;
        Ok(())
    }

    pub async fn enroll_camera(&self, device_id: &str, public_key: &VerifyingKey) -> Result<()> {
        self.enroll_camera_in(device_id, public_key, custos_catalog::STANDARD_CATEGORY)
            .await
    }

    /// Enrolls a camera whose recordings start in `retention_category`.
    pub async fn enroll_camera_in(
        &self,
        device_id: &str,
        public_key: &VerifyingKey,
        retention_category: &str,
    ) -> Result<()> {
        custos_format::manifest::check_identifier(device_id).map_err(anyhow::Error::msg)?;
        crate::retention::check_category_name(retention_category).map_err(anyhow::Error::msg)?;
        self.catalog
            .add_device(&Device {
                device_id: device_id.into(),
                public_key: public_key.to_hex(),
                enrolled_at: self.now,
                revoked_at: None,
                retention_category: retention_category.into(),
                assigned_officer: None,
                team: None,
                kind: custos_catalog::DeviceKind::Custos,
            })
            .await?;
        self.audit(
            "camera.enroll",
            &format!("camera:{device_id}"),
            &format!(
                "key {}; retention category {retention_category}",
                public_key.to_hex()
            ),
        )
        .await
    }

    /// Puts a camera in a team or district, for the statistics.
    pub async fn set_camera_team(&self, device_id: &str, team: &str) -> Result<()> {
        custos_format::manifest::check_identifier(team).map_err(anyhow::Error::msg)?;
        self.catalog.set_device_team(device_id, Some(team)).await?;
        self.audit(
            "camera.team",
            &format!("camera:{device_id}"),
            &format!("team {team}"),
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
        let (credential, token_sha256) = new_dock_token(dock_id);
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
        Ok(credential)
    }

    pub async fn revoke_dock(&self, dock_id: &str) -> Result<()> {
        self.catalog.revoke_dock(dock_id, self.now).await?;
        self.audit("dock.revoke", &format!("dock:{dock_id}"), "")
            .await
    }

    /// A new Axis system controller's connection (ADR 0017): its key,
    /// shown once; the catalog keeps its SHA-256.
    pub async fn add_axis_connection(&self, name: &str) -> Result<AxisCredential> {
        custos_format::manifest::check_identifier(name).map_err(anyhow::Error::msg)?;
        let (credential, key_sha256) = new_axis_key(name);
        self.catalog
            .add_axis_connection(&AxisConnection {
                name: name.into(),
                key_sha256,
                created_at: self.now,
                rotated_at: None,
                revoked_at: None,
            })
            .await?;
        self.audit("axis.connect", &format!("axis:{name}"), "")
            .await?;
        Ok(credential)
    }

    /// A new key for a connection; the old key and its tokens stop working.
    pub async fn rotate_axis_connection(&self, name: &str) -> Result<AxisCredential> {
        let (credential, key_sha256) = new_axis_key(name);
        self.catalog
            .rotate_axis_connection(name, &key_sha256, self.now)
            .await?;
        self.audit("axis.rotate", &format!("axis:{name}"), "")
            .await?;
        Ok(credential)
    }

    /// A new RSA key for a connection's cameras to wrap clip keys to (Axis'
    /// `WantEncryption`): made here, its private half sealed to the evidence
    /// key at once (no passphrase needed, none of it written in the clear)
    /// and kept in the catalog; older keys stay for the clips wrapped to
    /// them. Returns the public key (PEM) and its id for the connection file.
    pub async fn add_axis_content_key(&self, name: &str) -> Result<(String, String)> {
        let key = self.make_axis_content_key().await?;
        self.keep_axis_content_key(name, key).await
    }

    /// A new content key, made and sealed but not yet any connection's:
    /// `custos axis connect/rotate --encrypt` make it before they touch the
    /// connection, so a key that cannot be made leaves the connection (and
    /// the controller's working credentials) as they were.
    pub async fn make_axis_content_key(&self) -> Result<NewContentKey> {
        let recipient = custos_keys::EvidenceKeyStore::new(&self.data).recipient()?;
        let key = tokio::task::spawn_blocking(custos_axis::content::ConnectionKey::generate)
            .await
            .context("generating the RSA key")?;
        Ok(NewContentKey {
            sealed: crate::keys::seal_to(&recipient, &key.to_pkcs8_der())?,
            public_pem: key.public_pem(),
            key_id: key.id(),
        })
    }

    /// Keeps `key` as connection `name`'s newest (audited); its public key
    /// (PEM) and id, for the connection file.
    pub async fn keep_axis_content_key(
        &self,
        name: &str,
        key: NewContentKey,
    ) -> Result<(String, String)> {
        let NewContentKey {
            public_pem,
            key_id,
            sealed,
        } = key;
        self.catalog
            .add_axis_content_key(&custos_catalog::AxisContentKey {
                connection: name.into(),
                key_id: key_id.clone(),
                public_pem: public_pem.clone(),
                sealed,
                created_at: self.now,
            })
            .await?;
        self.audit("axis.content-key", &format!("axis:{name}"), &key_id)
            .await?;
        Ok((public_pem, key_id))
    }

    /// The public half and id of a connection's newest content key, if it
    /// has one: the connection file names it (Axis refuses a file that
    /// would turn encryption off once on).
    pub async fn axis_content_key(&self, name: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .catalog
            .axis_content_keys(name)
            .await?
            .pop()
            .map(|k| (k.public_pem, k.key_id)))
    }

    /// Every Axis camera's pinned signing key (docs/SIGNED-VIDEO.md):
    /// camera, key's SHA-256, when pinned. Audited as a read.
    pub async fn axis_signing_keys(&self) -> Result<Vec<(String, String, UtcMillis)>> {
        self.audit_read(
            "axis.signing-keys.list",
            "axis-signing-keys",
            "metadata only",
        )
        .await?;
        Ok(self.catalog.axis_signing_keys().await?)
    }

    /// Forgets a camera's pinned signing key, on record with `reason`: its
    /// next signed recording pins anew.
    pub async fn forget_axis_signing_key(&self, camera: &str, reason: &str) -> Result<()> {
        anyhow::ensure!(
            !reason.trim().is_empty()
                && reason.len() <= 500
                && !reason.chars().any(char::is_control),
            "a reason is needed (one line, at most 500 bytes)"
        );
        let key = self
            .catalog
            .axis_signing_key(camera)
            .await?
            .with_context(|| format!("camera `{}` has no pinned key", camera.escape_default()))?;
        // On record before it goes, with the key that went.
        self.audit(
            "axis.signing-key.forget",
            &format!("device:{camera}"),
            &format!("key {key}: {reason}"),
        )
        .await?;
        self.catalog.forget_axis_signing_key(camera).await?;
        Ok(())
    }

    /// Ends a connection for good.
    pub async fn revoke_axis_connection(&self, name: &str) -> Result<()> {
        self.catalog.revoke_axis_connection(name, self.now).await?;
        self.audit("axis.revoke", &format!("axis:{name}"), "").await
    }

    /// Metadata only; never content.
    pub async fn recordings(&self) -> Result<Vec<RecordingSummary>> {
        self.audit_read("recordings.list", "recordings", "metadata only")
            .await?;
        let mut all = Vec::new();
        loop {
            let page = self
                .catalog
                .search_recordings(&custos_catalog::RecordingQuery {
                    offset: all.len() as u64,
                    limit: 1000,
                    ..Default::default()
                })
                .await
                .context("reading the catalog")?;
            let done = page.recordings.len() < 1000;
            all.extend(
                page.recordings
                    .iter()
                    .map(|(r, held)| RecordingSummary::of(r, *held)),
            );
            if done {
                // The CLI lists each camera's recordings in sequence.
                all.sort_by(|a, b| (&a.device_id, a.sequence).cmp(&(&b.device_id, b.sequence)));
                return Ok(all);
            }
        }
    }

    /// A read on record before it is answered, except on a full disk: the
    /// operator must be able to look when it matters most, so the read goes
    /// on and says it is not recorded.
    async fn audit_read(&self, action: &str, object: &str, detail: &str) -> Result<()> {
        let mut event = AuditEvent::new(self.now, "system:cli", action, Outcome::Ok).object(object);
        if !detail.is_empty() {
            event = event.detail(detail);
        }
        match crate::audit::append(&*self.catalog, &self.signer, vec![event]).await {
            Ok(_) => Ok(()),
            Err(crate::audit::AuditError::Full(why)) => {
                tracing::warn!(action, %why, "{NOT_RECORDED}");
                eprintln!("({NOT_RECORDED}: {why})");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn incidents(&self) -> Result<Vec<Incident>> {
        self.audit_read("incidents.list", "incidents", "").await?;
        Ok(self.catalog.incidents().await?)
    }

    pub fn catalog(&self) -> &dyn Catalog {
        &*self.catalog
    }
}

/// A user as the admin sees them: no secrets.
#[derive(Serialize)]
pub struct UserSummary {
    pub name: String,
    pub role: String,
    pub officer_id: Option<String>,
    pub locked: bool,
    pub disabled: bool,
    pub created_at: UtcMillis,
}

impl UserSummary {
    pub fn of(u: &custos_catalog::User, now: UtcMillis) -> Self {
        Self {
            name: u.name.clone(),
            role: u.role.clone(),
            officer_id: u.officer_id.clone(),
            locked: u.locked_until.is_some_and(|t| t > now),
            disabled: u.disabled_at.is_some(),
            created_at: u.created_at,
        }
    }
}

impl Admin {
    fn evidence_recipient(&self) -> Result<age::x25519::Recipient> {
        let text = std::fs::read_to_string(self.data.join("keys/evidence.recipient"))?;
        text.trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("keys/evidence.recipient: {e}"))
    }

    /// A new account; the enrollment (initial password, TOTP secret) is shown once.
    pub async fn add_user(
        &self,
        name: &str,
        role: custos_access::Role,
        officer_id: Option<String>,
    ) -> Result<crate::auth::Enrollment> {
        let (user, enrollment) = crate::auth::new_user(
            name,
            role,
            officer_id,
            &self.evidence_recipient()?,
            "custos",
            self.now,
        )?;
        self.catalog.add_user(&user).await?;
        self.audit(
            "user.add",
            &format!("user:{name}"),
            &format!("role {}", role.as_str()),
        )
        .await?;
        Ok(enrollment)
    }

    pub async fn unlock_user(&self, name: &str) -> Result<()> {
        let user = self
            .catalog
            .user(name)
            .await?
            .with_context(|| format!("no user `{name}`"))?;
        self.catalog
            .set_login_state(name, 0, None, user.totp_last_step)
            .await?;
        self.audit("user.unlock", &format!("user:{name}"), "").await
    }

    /// A new initial password for someone who forgot theirs (shown once).
    pub async fn reset_password(&self, name: &str) -> Result<zeroize::Zeroizing<String>> {
        self.catalog
            .user(name)
            .await?
            .with_context(|| format!("no user `{name}`"))?;
        self.audit("user.password-reset", &format!("user:{name}"), "")
            .await?;
        Ok(crate::auth::reset_password(&*self.catalog, name, self.now).await?)
    }

    pub async fn disable_user(&self, name: &str) -> Result<()> {
        self.catalog.disable_user(name, self.now).await?;
        self.audit("user.disable", &format!("user:{name}"), "")
            .await
    }

    pub async fn users(&self) -> Result<Vec<UserSummary>> {
        self.audit("users.list", "users", "").await?;
        Ok(self
            .catalog
            .users()
            .await?
            .iter()
            .map(|u| UserSummary::of(u, self.now))
            .collect())
    }
}
