//! Issue 21's fault trials on the camera's files and the server's disk: a
//! recording truncated, flipped, deleted or renamed out of order, and a disk
//! that fills while the server receives (see `bench_faults`).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use custos_camera::storage::RecordingPaths;
use serde_json::Value;

use crate::bench_faults::{since, FaultArgs, FullDisk, Lab, Rng, Tally};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Damage {
    /// The ciphertext loses its last bytes (1 to all of them).
    Truncated,
    /// One bit of the ciphertext flips.
    PayloadFlipped,
    /// One bit of the signed manifest flips.
    ManifestFlipped,
    /// The ciphertext is gone; manifest and signature remain.
    CiphertextDeleted,
    /// All of the recording's files are gone.
    Deleted,
    /// The recording's files and the next one's swap names.
    Reordered,
}

impl Damage {
    pub(crate) const ALL: [Damage; 6] = [
        Damage::Truncated,
        Damage::PayloadFlipped,
        Damage::ManifestFlipped,
        Damage::CiphertextDeleted,
        Damage::Deleted,
        Damage::Reordered,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Damage::Truncated => "a recording truncated",
            Damage::PayloadFlipped => "a bit flipped in a ciphertext",
            Damage::ManifestFlipped => "a bit flipped in a manifest",
            Damage::CiphertextDeleted => "a ciphertext deleted",
            Damage::Deleted => "a recording deleted",
            Damage::Reordered => "two recordings' names swapped",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Damage::Truncated => "truncated",
            Damage::PayloadFlipped => "payload-flipped",
            Damage::ManifestFlipped => "manifest-flipped",
            Damage::CiphertextDeleted => "ciphertext-deleted",
            Damage::Deleted => "deleted",
            Damage::Reordered => "reordered",
        }
    }

    /// Does the damage; returns the damaged recording's files that must
    /// stay on the camera.
    fn apply(self, all: &[RecordingPaths], victim: usize, rng: &mut Rng) -> Result<Vec<PathBuf>> {
        let v = &all[victim];
        let flip = |path: &Path, rng: &mut Rng| -> Result<()> {
            let mut bytes = std::fs::read(path)?;
            let at = rng.below(bytes.len() as u64) as usize;
            bytes[at] ^= 1 << rng.below(8);
            Ok(std::fs::write(path, bytes)?)
        };
        let every = vec![
            v.ciphertext.clone(),
            v.manifest.clone(),
            v.signature.clone(),
        ];
        Ok(match self {
            Damage::Truncated => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&v.ciphertext)?;
                let len = file.metadata()?.len();
                file.set_len(len - 1 - rng.below(len))?;
                every
            }
            Damage::PayloadFlipped => {
                flip(&v.ciphertext, rng)?;
                every
            }
            Damage::ManifestFlipped => {
                flip(&v.manifest, rng)?;
                every
            }
            Damage::CiphertextDeleted => {
                std::fs::remove_file(&v.ciphertext)?;
                vec![v.manifest.clone(), v.signature.clone()]
            }
            Damage::Deleted => {
                for f in &every {
                    std::fs::remove_file(f)?;
                }
                vec![]
            }
            Damage::Reordered => {
                let next = &all[victim + 1];
                let parked = |p: &Path| p.with_extension("swapping");
                for (a, b) in [
                    (&v.ciphertext, &next.ciphertext),
                    (&v.manifest, &next.manifest),
                    (&v.signature, &next.signature),
                ] {
                    std::fs::rename(a, parked(a))?;
                    std::fs::rename(b, a)?;
                    std::fs::rename(parked(a), b)?;
                }
                vec![]
            }
        })
    }

    /// Whether an incident is one this damage to recording `sequence`
    /// must raise: the damage named for what it is, or the gap it leaves.
    fn explains(self, incident: &Value, device: &str, sequence: u64) -> bool {
        let kind = incident["kind"].as_str().unwrap_or_default();
        let camera = incident["device_id"].as_str();
        let at_victim = camera == Some(device) && incident["sequence"].as_u64() == Some(sequence);
        match self {
            Damage::Truncated | Damage::CiphertextDeleted => {
                at_victim && matches!(kind, "set-aside-on-camera" | "gap")
            }
            Damage::PayloadFlipped => {
                at_victim && matches!(kind, "ciphertext-mismatch" | "wrong-evidence-key")
            }
            // A manifest that no longer verifies names nothing the server
            // can trust (its camera, its number may be the flipped ones);
            // the number it leaves is a gap.
            Damage::ManifestFlipped => match kind {
                // From the camera it claims to be (a flip may have hit the
                // name: then an unknown one), or from none at all.
                "bad-signature" => camera == Some(device),
                "malformed-manifest" => camera.is_none(),
                "unknown-or-revoked" => camera != Some(device),
                "gap" | "set-aside-on-camera" => at_victim,
                _ => false,
            },
            Damage::Deleted => at_victim && kind == "gap",
            Damage::Reordered => false,
        }
    }
}

/// `trials` cameras of four recordings each, #2 or #3 damaged; each docked
/// twice.
pub(crate) fn trials(lab: &mut Lab, damage: Damage, trials: u64) -> Result<Tally> {
    let mut tally = Tally::default();
    for t in 0..trials {
        let device = format!("{}-{t}", damage.slug());
        let cam = lab.camera(&device)?;
        let ids = lab.record(&cam, 4)?;
        let pending = cam.pending_recordings()?;
        let victim = 1 + lab.rng.below(2) as usize;
        let sequence = victim as u64 + 1;
        let kept = damage.apply(&pending, victim, &mut lab.rng)?;
        let before = lab.incidents()?;
        lab.dock_cleanly(&cam)?;
        tally.trials += 1;
        tally.struck += 1;

        // The intact recordings are stored and wiped at once, whatever
        // became of the damaged one; the damaged one is kept.
        let stored = lab.stored(&device, &mut tally)?;
        let intact: BTreeSet<String> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| damage == Damage::Reordered || *i != victim)
            .map(|(_, id)| id.clone())
            .collect();
        tally.blocked += intact.difference(&stored).count() as u64;
        tally.accepted += stored.difference(&intact).count() as u64;
        let left = crate::bench_faults::on_camera(&cam)?;
        tally.blocked += intact.intersection(&left).count() as u64;
        tally.wrongly_wiped += kept.iter().filter(|f| !f.exists()).count() as u64;

        let first = lab.incidents()?;
        let (raised, _) = since(&before, &first);
        let explained = raised
            .iter()
            .filter(|i| damage.explains(i, &device, sequence))
            .count();
        tally.false_incidents += raised
            .iter()
            .filter(|i| !damage.explains(i, &device, sequence))
            .map(|i| i["occurrences"].as_u64().unwrap_or(1))
            .sum::<u64>();
        if damage != Damage::Reordered && explained == 0 {
            tally.unreported += 1;
        }
        // Docked again: the same facts, counted; no new rows.
        lab.dock_cleanly(&cam)?;
        let (again, _) = since(&first, &lab.incidents()?);
        tally.repeated += again.len() as u64;
    }
    Ok(tally)
}

/// A tmpfs mounted for the run, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(at: &Path, bytes: u64) -> Result<Self> {
        std::fs::create_dir_all(at)?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes}"))
            .arg("custos-bench")
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .context("running mount")?;
        if !status.success() {
            bail!("mount -t tmpfs failed (not root, or no CAP_SYS_ADMIN)");
        }
        Ok(Mount(at.to_owned()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` but for about `leave` bytes.
fn fill(dir: &Path, leave: u64) -> Result<PathBuf> {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path)?;
    let block = vec![0xA5u8; 1 << 20];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if custos_blobs::is_out_of_space(&e) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let len = file.metadata()?.len();
    file.set_len(len.saturating_sub(leave))?;
    Ok(path)
}

/// Recordings offloaded while the server's disk is full: the dock must hear
/// `507 storage-full`, wipe nothing, raise nothing, and store everything
/// once there is room again; looking must work meanwhile. Also returns what
/// the tmpfs server left after all (staging files, `audit verify`).
pub(crate) fn full_disk(
    lab: &mut Lab,
    trials: u64,
    how: FullDisk,
    args: &FaultArgs,
) -> Result<(&'static str, Tally, (u64, bool))> {
    if how != FullDisk::Injected {
        let at = lab.work.join("full");
        let bytes = (32 << 20) + trials * 3 * args.size;
        match Mount::new(&at, bytes) {
            Ok(mount) => {
                let mut full = Lab::new(
                    &lab.work.join("full-cameras"),
                    &mount.0.join("server"),
                    args.size,
                    args.seed.rotate_left(17),
                )?;
                let tally = full_trials(&mut full, trials, Some(&mount.0))?;
                let after = full.after_all()?;
                drop(full);
                return Ok(("tmpfs", tally, after));
            }
            Err(e) if how == FullDisk::Auto => {
                eprintln!("  no tmpfs here ({e:#}); the full disk is injected");
            }
            Err(e) => return Err(e),
        }
    }
    // On the main server, which is checked after all trials anyway.
    Ok(("injected", full_trials(lab, trials, None)?, (0, true)))
}

/// With `mount`, the disk is really filled; without, the server is started
/// with its staging writes failing as a full disk's do.
fn full_trials(lab: &mut Lab, trials: u64, mount: Option<&Path>) -> Result<Tally> {
    std::fs::create_dir_all(&lab.work)?;
    let device = "full-disk";
    let cam = lab.camera(device)?;
    let mut made = BTreeSet::new();
    let mut tally = Tally::default();
    let before = lab.incidents()?;
    for _ in 0..trials {
        made.extend(lab.record(&cam, 2)?);
        let largest = cam
            .pending_recordings()?
            .iter()
            .filter_map(|p| std::fs::metadata(&p.ciphertext).ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0);
        let filler = match mount {
            Some(dir) => {
                let leave = lab.rng.below(largest);
                Some(fill(dir, leave)?)
            }
            None => {
                lab.server
                    .restart(&[("CUSTOS_FULL_DISK", "ingest:staging")])?;
                None
            }
        };
        let report = lab.dock_cleanly(&cam)?;
        tally.trials += 1;
        let report = report.unwrap_or_else(|| {
            eprintln!("  the dock gave no report");
            tally.misnamed += 1;
            Value::Null
        });
        let why = report["interrupted"].as_str().unwrap_or_default();
        if why.contains("507") && why.contains("storage-full") {
            tally.struck += 1;
            tally.noted += 1;
        } else if !why.is_empty() {
            eprintln!("  a full disk answered as: {why}");
            tally.misnamed += 1;
        }
        let refused = report["refused"].as_array().map_or(0, Vec::len);
        let set_aside = report["set_aside"].as_array().map_or(0, Vec::len);
        tally.misnamed += (refused + set_aside) as u64;
        if !lab.inspection_works() {
            tally.inspection_failed += 1;
        }
        lab.check_nothing_wiped_unheld(&cam, device, &made, &mut tally)?;
        match filler {
            Some(f) => std::fs::remove_file(f)?,
            None => lab.server.restart(&[])?,
        }
        lab.settle(&cam)?;
        lab.check_all_stored(&cam, device, &mut made, &mut tally)?;
    }
    tally.false_incidents += since(&before, &lab.incidents()?).1;
    Ok(tally)
}
