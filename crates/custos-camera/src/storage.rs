//! The camera's storage: one directory, only ciphertext and metadata in it.
//!
//! ```text
//! CAM/camera.json                 configuration (device id, evidence recipient, officer, …)
//! CAM/state.json                  next sequence number and the manifest chain head
//! CAM/identity/device.key         Ed25519 seed, 32 bytes, mode 0600
//! CAM/identity/device.pub.pem     its public key (SPKI PEM), for enrollment
//! CAM/recordings/NNNNNNNN-UUID.age            age ciphertext of the fMP4
//! CAM/recordings/NNNNNNNN-UUID.open           journal, present only while recording
//! CAM/recordings/NNNNNNNN-UUID.manifest.json  canonical signed manifest
//! CAM/recordings/NNNNNNNN-UUID.manifest.sig   64-byte Ed25519 signature
//! CAM/recordings/NNNNNNNN-UUID.receipt.json   the server's receipt, kept after the wipe
//! CAM/recordings/NNNNNNNN-UUID.receipt.sig
//! CAM/camera.lock, CAM/control.sock           while the agent runs
//! ```
//!
//! There is deliberately no function here that removes or reads back a
//! recording's content: the camera cannot play back, and deletes only in
//! `wipe`, against a server receipt it has confirmed.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use custos_format::manifest::check_identifier;
use custos_format::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

pub const FIRMWARE: &str = concat!("custos-camera/", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    pub device_id: String,
    /// The deployment's evidence key (`age1…`): the only key the camera holds.
    pub evidence_recipient: String,
    pub officer_id: Option<String>,
    pub prerecord_seconds: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
    /// Simulated card size; `None` uses the filesystem's free space.
    pub storage_capacity_bytes: Option<u64>,
    /// Touching the front display also starts recording (Bocholt's model).
    pub display_triggers_recording: bool,
    /// Attach a simulated GPS track (synthetic cameras have no receiver).
    pub simulated_gps: bool,
    /// Where the simulated track starts (degrees × 10^7, latitude then
    /// longitude); default a street south of the Maas in Rotterdam.
    #[serde(default)]
    pub simulated_gps_start: Option<[i64; 2]>,
    /// The server's receipt key (Ed25519, hex), pinned at enrollment: the only
    /// key whose receipts can make the camera delete a recording.
    #[serde(default)]
    pub server_receipt_key: Option<String>,
}

impl CameraConfig {
    pub fn validate(&self) -> Result<()> {
        check_identifier(&self.device_id).map_err(anyhow::Error::msg)?;
        if let Some(o) = &self.officer_id {
            check_identifier(o).map_err(anyhow::Error::msg)?;
        }
        self.evidence_recipient
            .parse::<age::x25519::Recipient>()
            .map_err(|e| anyhow::anyhow!("evidence key `{}`: {e}", self.evidence_recipient))?;
        if let Some([lat, lon]) = self.simulated_gps_start {
            if lat.abs() > 900_000_000 || lon.abs() > 1_800_000_000 {
                bail!("the simulated GPS start must be a point on Earth (degrees × 10^7)");
            }
        }
        if self.prerecord_seconds > 120 {
            bail!(
                "pre-record is 0 to 120 seconds, not {}",
                self.prerecord_seconds
            );
        }
        crate::source::check_size(self.width, self.height)?;
        self.pinned_receipt_key()?;
        if !(1..=120).contains(&self.fps) {
            bail!("fps must be 1..=120");
        }
        if !(100_000..=50_000_000).contains(&self.bitrate_bps) {
            bail!("bitrate must be 100 kbit/s to 50 Mbit/s");
        }
        Ok(())
    }

    /// The pinned server receipt key, if the camera is enrolled.
    pub fn pinned_receipt_key(&self) -> Result<Option<VerifyingKey>> {
        self.server_receipt_key
            .as_deref()
            .map(|hex| VerifyingKey::from_hex(hex).context("server_receipt_key"))
            .transpose()
    }

    pub fn recipient(&self) -> age::x25519::Recipient {
        self.evidence_recipient.parse().expect("validated at load")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub sequence: u64,
    pub manifest_sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CameraState {
    pub next_sequence: u64,
    pub head: Option<ChainHead>,
}

impl CameraState {
    pub fn head_hash(&self) -> Result<[u8; 32]> {
        match &self.head {
            None => Ok(custos_format::GENESIS_HASH),
            Some(h) => {
                let mut out = [0u8; 32];
                hex::decode_to_slice(&h.manifest_sha256, &mut out)
                    .context("state.json head hash")?;
                Ok(out)
            }
        }
    }
}

/// One recording's files, named by sequence and id.
#[derive(Clone, Debug)]
pub struct RecordingPaths {
    pub stem: String,
    pub ciphertext: PathBuf,
    pub journal: PathBuf,
    pub manifest: PathBuf,
    pub signature: PathBuf,
    /// The server's receipt, kept after the wipe as proof of handover.
    pub receipt: PathBuf,
    pub receipt_signature: PathBuf,
    /// Written by the dock when the server refused the recording for good:
    /// it stays on the camera, and `status` shows it.
    pub refused: PathBuf,
}

#[derive(Clone, Debug)]
pub struct CameraDir {
    root: PathBuf,
}

impl CameraDir {
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self {
            root: root.as_ref().to_owned(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("camera.json")
    }
    fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }
    fn key_path(&self) -> PathBuf {
        self.root.join("identity/device.key")
    }
    pub fn public_key_path(&self) -> PathBuf {
        self.root.join("identity/device.pub.pem")
    }
    pub fn recordings_dir(&self) -> PathBuf {
        self.root.join("recordings")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("camera.lock")
    }
    /// Held by the dock that offloads this camera: one at a time.
    pub fn dock_lock_path(&self) -> PathBuf {
        self.root.join("dock.lock")
    }
    pub fn control_socket(&self) -> PathBuf {
        self.root.join("control.sock")
    }

    pub fn recording_paths(&self, sequence: u64, id: &uuid::Uuid) -> RecordingPaths {
        let stem = format!("{sequence:08}-{id}");
        let dir = self.recordings_dir();
        RecordingPaths {
            ciphertext: dir.join(format!("{stem}.age")),
            journal: dir.join(format!("{stem}.open")),
            manifest: dir.join(format!("{stem}.manifest.json")),
            signature: dir.join(format!("{stem}.manifest.sig")),
            receipt: dir.join(format!("{stem}.receipt.json")),
            receipt_signature: dir.join(format!("{stem}.receipt.sig")),
            refused: dir.join(format!("{stem}.refused.json")),
            stem,
        }
    }

    /// Creates a camera: identity key, configuration, empty chain.
    pub fn init(&self, config: &CameraConfig) -> Result<VerifyingKey> {
        config.validate()?;
        if self.config_path().exists() {
            bail!(
                "{} is already a camera; refusing to re-create its identity",
                self.root.display()
            );
        }
        fs::create_dir_all(self.root.join("identity"))?;
        fs::create_dir_all(self.recordings_dir())?;
        let key = SigningKey::generate();
        write_atomically(&self.key_path(), &key.seed()[..], true)?;
        let public = key.verifying_key();
        write_atomically(&self.public_key_path(), public.to_pem().as_bytes(), false)?;
        self.save_state(&CameraState {
            next_sequence: 1,
            head: None,
        })?;
        // The config is written last: its presence marks a complete camera.
        self.save_config(config)?;
        Ok(public)
    }

    pub fn load_config(&self) -> Result<CameraConfig> {
        let path = self.config_path();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a camera (run `custos device init`)",
                self.root.display()
            )
        })?;
        let config: CameraConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged", path.display()))?;
        config
            .validate()
            .with_context(|| format!("{}", path.display()))?;
        Ok(config)
    }

    pub fn save_config(&self, config: &CameraConfig) -> Result<()> {
        config.validate()?;
        write_atomically(
            &self.config_path(),
            &serde_json::to_vec_pretty(config)?,
            false,
        )
    }

    pub fn load_state(&self) -> Result<CameraState> {
        let path = self.state_path();
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is damaged", path.display()))
    }

    pub fn save_state(&self, state: &CameraState) -> Result<()> {
        write_atomically(
            &self.state_path(),
            &serde_json::to_vec_pretty(state)?,
            false,
        )
    }

    pub fn signing_key(&self) -> Result<SigningKey> {
        let seed = zeroize::Zeroizing::new(
            fs::read(self.key_path()).context("reading the camera's identity key")?,
        );
        Ok(SigningKey::from_seed_slice(&seed)?)
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        let pem = fs::read_to_string(self.public_key_path())?;
        Ok(VerifyingKey::from_pem(&pem)?)
    }

    /// Finished recordings waiting for the dock, in sequence order.
    pub fn pending_recordings(&self) -> Result<Vec<RecordingPaths>> {
        self.recordings_with_suffix(".manifest.json")
    }

    /// Recordings interrupted by a power loss: a journal without a manifest.
    pub fn open_journals(&self) -> Result<Vec<RecordingPaths>> {
        self.recordings_with_suffix(".open")
    }

    /// Recordings the server has given a receipt for (wiped, or being wiped).
    pub fn receipts(&self) -> Result<Vec<RecordingPaths>> {
        self.recordings_with_suffix(".receipt.json")
    }

    fn recordings_with_suffix(&self, suffix: &str) -> Result<Vec<RecordingPaths>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.recordings_dir())? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(suffix) {
                out.push(self.paths_for_stem(stem)?);
            }
        }
        out.sort_by(|a, b| a.stem.cmp(&b.stem));
        Ok(out)
    }

    fn paths_for_stem(&self, stem: &str) -> Result<RecordingPaths> {
        let (seq, id) = stem
            .split_once('-')
            .with_context(|| format!("unexpected file {stem} in recordings/"))?;
        let seq: u64 = seq
            .parse()
            .with_context(|| format!("unexpected file {stem}"))?;
        let id: uuid::Uuid = id
            .parse()
            .with_context(|| format!("unexpected file {stem}"))?;
        Ok(self.recording_paths(seq, &id))
    }

    /// Bytes the recordings take.
    pub fn used_bytes(&self) -> Result<u64> {
        let mut total = 0;
        for entry in fs::read_dir(self.recordings_dir())? {
            total += entry?.metadata()?.len();
        }
        Ok(total)
    }

    /// Bytes still available for recordings: the simulated card's remaining
    /// capacity, or the filesystem's free space less a safety reserve.
    pub fn free_bytes(&self, config: &CameraConfig) -> Result<u64> {
        const FILESYSTEM_RESERVE: u64 = 64 * 1024 * 1024;
        let fs_free = fs4::available_space(&self.root)?.saturating_sub(FILESYSTEM_RESERVE);
        Ok(match config.storage_capacity_bytes {
            Some(cap) => cap.saturating_sub(self.used_bytes()?).min(fs_free),
            None => fs_free,
        })
    }
}

/// Creates a file for appending that did not exist before.
pub fn create_new(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Temporary file, fsync, rename, fsync the directory: after any crash the
/// target holds either the old or the new content, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let dir = path.parent().context("path without parent")?;
    let tmp = path.with_extension("tmp");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut f = options
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    sync_dir(dir)
}
