//! Issue 21: offload under faults, tried as a tester would. The dock and the
//! server are killed (SIGKILL) at random moments of an offload; a camera's
//! files are truncated, flipped, deleted or renamed out of order; two docks
//! take one camera at once; the server's disk fills. After every trial and
//! the dockings that follow it, counted: recordings lost, held twice, wiped
//! while the server did not hold them, and incidents raised for nothing.
//! Real processes and real kills, so real time: this is a benchmark, not a
//! test (`crates/custos/tests/it/crash.rs` runs the bounded, seeded form).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use custos_camera::CameraDir;
use custos_keys::secrecy::SecretString;
use serde_json::Value;

use crate::bench_ingest::{bench_camera, spawn_server_with, synthetic_recording, PASS};

#[derive(clap::Args)]
pub struct FaultArgs {
    /// kill -9 trials of each side (the dock, the server).
    #[arg(long, default_value_t = 50)]
    pub kills: u64,
    /// Trials of each kind of damage to a camera's files.
    #[arg(long, default_value_t = 10)]
    pub damages: u64,
    /// Trials of two docks started at once on one camera.
    #[arg(long, default_value_t = 10)]
    pub races: u64,
    /// Trials with the server's disk full while it receives.
    #[arg(long, default_value_t = 5)]
    pub full: u64,
    /// How the disk is filled: a small tmpfs mounted for the run (needs
    /// root), an injected fault (`CUSTOS_FULL_DISK=ingest:staging`), or
    /// the first that works.
    #[arg(long, value_enum, default_value_t = FullDisk::Auto)]
    pub full_disk: FullDisk,
    /// The largest recording's ciphertext; each is between a quarter of it
    /// and all of it.
    #[arg(long, default_value = "4M", value_parser = crate::device::parse_bytes)]
    pub size: u64,
    #[arg(long, default_value_t = 0x00C0_5705)]
    pub seed: u64,
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FullDisk {
    Auto,
    Tmpfs,
    Injected,
}

/// What one kind of trial came to. Every figure but `trials`, `struck` and
/// `noted` must be 0.
#[derive(Default, serde::Serialize)]
pub(crate) struct Tally {
    pub trials: u64,
    /// Trials whose fault struck while an offload was under way.
    pub struck: u64,
    /// Recordings on neither the camera nor the server, or never stored
    /// after the dockings that follow (damaged ones aside).
    pub lost: u64,
    /// Recordings (or sequence numbers) the server holds twice.
    pub held_twice: u64,
    /// Recordings gone from the camera that the server did not hold.
    pub wrongly_wiped: u64,
    /// Intact recordings a damaged one kept from being stored.
    pub blocked: u64,
    /// Incidents no fault of the trial explains.
    pub false_incidents: u64,
    /// Damage the server was never told of.
    pub unreported: u64,
    /// Incident rows added for a fact already recorded.
    pub repeated: u64,
    /// A fault answered under another name (a full disk not as 507).
    pub misnamed: u64,
    /// Read-only inspection that failed while the disk was full.
    pub inspection_failed: u64,
    /// Damaged recordings the server stored all the same.
    pub accepted: u64,
    /// Per kind: the dock turned away as "in use"; 507 answers.
    pub noted: u64,
    /// What was counted already, so that a duplicate or a loss found again
    /// at a later trial is not counted again.
    #[serde(skip)]
    twice_seen: BTreeSet<String>,
    #[serde(skip)]
    lost_ids: BTreeSet<String>,
}

impl Tally {
    fn bad(&self) -> u64 {
        self.lost
            + self.held_twice
            + self.wrongly_wiped
            + self.blocked
            + self.false_incidents
            + self.unreported
            + self.repeated
            + self.misnamed
            + self.inspection_failed
            + self.accepted
            // A kind of trial whose fault never struck proved nothing.
            + u64::from(self.trials > 0 && self.struck == 0)
    }
}

pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A server process over one data directory, restarted as often as killed.
pub(crate) struct Server {
    pub data: PathBuf,
    child: Child,
    pub port: u16,
}

impl Server {
    pub(crate) fn start(data: &Path, env: &[(&str, &str)]) -> Result<Self> {
        let (child, port) = spawn_server_with(data, env)?;
        Ok(Server {
            data: data.to_owned(),
            child,
            port,
        })
    }

    pub(crate) fn restart(&mut self, env: &[(&str, &str)]) -> Result<()> {
        self.kill();
        *self = Self::start(&self.data, env)?;
        Ok(())
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One row of `custos recordings list --json`, checked against its blob.
struct Held {
    device: String,
    sequence: u64,
    id: String,
    blob_ok: bool,
}

/// A server, its enrolled docks, and the cameras made for the trials.
pub(crate) struct Lab {
    pub work: PathBuf,
    pub server: Server,
    recipient: age::x25519::Recipient,
    tokens: [PathBuf; 2],
    pub rng: Rng,
    max: u64,
    rt: tokio::runtime::Runtime,
}

impl Lab {
    pub(crate) fn new(work: &Path, data: &Path, max: u64, seed: u64) -> Result<Self> {
        let recipient = custos_keys::EvidenceKeyStore::new(data)
            .init(&SecretString::from(PASS.to_owned()), 10)?;
        let server = Server::start(data, &[])?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let admin = rt.block_on(custos_server::admin::Admin::open(data))?;
        let mut tokens = [PathBuf::new(), PathBuf::new()];
        for (n, token) in tokens.iter_mut().enumerate() {
            let dock = format!("bench-dock-{}", n + 1);
            *token = data.with_extension(format!("{dock}.token"));
            std::fs::write(&token, rt.block_on(admin.enroll_dock(&dock))?.token)?;
        }
        Ok(Lab {
            work: work.to_owned(),
            server,
            recipient,
            tokens,
            rng: Rng(seed | 1),
            max: max.max(64 << 10),
            rt,
        })
    }

    /// A new camera, enrolled and pinned to this server.
    pub(crate) fn camera(&self, device: &str) -> Result<CameraDir> {
        let cam = bench_camera(&self.work.join(device), device, "boa-1", &self.recipient)?;
        let data = &self.server.data;
        self.rt.block_on(async {
            custos_server::admin::Admin::open(data)
                .await?
                .enroll_camera(device, &cam.verifying_key()?)
                .await
        })?;
        crate::device::pin(
            cam.root(),
            &custos_server::keys::receipt_public_key(data)?.to_hex(),
        )?;
        Ok(cam)
    }

    /// `n` recordings of random size on `cam`; their ids.
    pub(crate) fn record(&mut self, cam: &CameraDir, n: usize) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for _ in 0..n {
            let size = self.max / 4 + self.rng.below(self.max - self.max / 4);
            let seed = self.rng.below(u64::MAX);
            let signed = synthetic_recording(cam, &self.recipient, size, seed)?;
            ids.push(signed.manifest().recording_id.to_string());
        }
        Ok(ids)
    }

    /// Starts `custos dock offload --json` on `cam` as dock 1 or 2; its
    /// report goes to a file beside the camera.
    pub(crate) fn dock(&self, cam: &CameraDir, which: usize) -> Result<(Child, PathBuf)> {
        let out = self.work.join(format!("dock-{which}.json"));
        let child = Command::new(std::env::current_exe()?)
            .args(["dock", "offload", "--json", "--dock-id"])
            .arg(format!("bench-dock-{}", which + 1))
            .arg("--server")
            .arg(format!("https://localhost:{}", self.server.port))
            .arg("--token-file")
            .arg(&self.tokens[which])
            .arg("--server-cert")
            .arg(self.server.data.join("tls/cert.pem"))
            .arg(cam.root())
            .env("CUSTOS_LOG", "error")
            .env_remove("CUSTOS_CRASH_AT")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out)?)
            .stderr(Stdio::null())
            .spawn()?;
        Ok((child, out))
    }

    /// Waits for a dock (at most two minutes: one that hangs is killed and
    /// said to); its report, if it finished.
    pub(crate) fn finish(&self, (mut child, out): (Child, PathBuf)) -> Result<Option<Value>> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("a dock did not finish within two minutes");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        Ok(serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|list| list.get(0).cloned()))
    }

    /// One clean docking, after restarting the server if it is down.
    pub(crate) fn dock_cleanly(&mut self, cam: &CameraDir) -> Result<Option<Value>> {
        if !self.server.running() {
            self.server.restart(&[])?;
        }
        let dock = self.dock(cam, 0)?;
        self.finish(dock)
    }

    /// Dockings until nothing is left to send (at most three).
    pub(crate) fn settle(&mut self, cam: &CameraDir) -> Result<()> {
        for _ in 0..3 {
            if cam.pending_recordings()?.is_empty() {
                break;
            }
            self.dock_cleanly(cam)?;
        }
        Ok(())
    }

    fn custos(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(Command::new(std::env::current_exe()?)
            .args(args)
            .arg("--json")
            .arg("--data")
            .arg(&self.server.data)
            .env("CUSTOS_LOG", "error")
            .stdin(Stdio::null())
            .output()?)
    }

    fn listed(&self, args: &[&str]) -> Result<Vec<Value>> {
        let out = self.custos(args)?;
        if !out.status.success() {
            bail!(
                "custos {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    fn held(&self) -> Result<Vec<Held>> {
        let mut held = Vec::new();
        for r in self.listed(&["recordings", "list"])? {
            let (device, sequence, id) = (
                r["device_id"].as_str().unwrap_or_default().to_owned(),
                r["sequence"].as_u64().unwrap_or_default(),
                r["recording_id"].as_str().unwrap_or_default().to_owned(),
            );
            let blob = self
                .server
                .data
                .join("blobs")
                .join(&device)
                .join(format!("{sequence:08}-{id}.age"));
            let blob_ok = std::fs::metadata(blob).map(|m| m.len()).ok() == r["size"].as_u64();
            held.push(Held {
                device,
                sequence,
                id,
                blob_ok,
            });
        }
        Ok(held)
    }

    /// Every incident the server holds, of any camera or none.
    pub(crate) fn incidents(&self) -> Result<Vec<Value>> {
        self.listed(&["incidents", "list"])
    }

    /// After all trials: a restart leaves no staging file behind (every
    /// upload completed), and `audit verify` passes.
    pub(crate) fn after_all(&mut self) -> Result<(u64, bool)> {
        self.server.restart(&[])?;
        let staging = std::fs::read_dir(self.server.data.join("staging"))?.count() as u64;
        let audit = self.custos(&["audit", "verify"])?;
        self.server.kill();
        Ok((staging, audit.status.success()))
    }

    /// Whether read-only inspection works (the disk may be full). With an
    /// injected full disk only the server's staging fails, so this can
    /// only fail on a real one (tmpfs).
    pub(crate) fn inspection_works(&self) -> bool {
        self.listed(&["recordings", "list"]).is_ok()
            && self.listed(&["incidents", "list"]).is_ok()
            && self
                .custos(&["audit", "verify"])
                .is_ok_and(|o| o.status.success())
    }

    /// The ids the server holds of `device` (with their bytes), counting
    /// into `tally` what it holds twice.
    pub(crate) fn stored(&self, device: &str, tally: &mut Tally) -> Result<BTreeSet<String>> {
        let held = self.held()?;
        let mut ids = BTreeSet::new();
        let mut sequences = BTreeSet::new();
        for h in held.iter().filter(|h| h.device == device) {
            let new_id = ids.insert(h.id.clone());
            let new_sequence = sequences.insert(h.sequence);
            if !(new_id && new_sequence)
                && tally
                    .twice_seen
                    .insert(format!("{device} {} {}", h.sequence, h.id))
            {
                tally.held_twice += 1;
            }
            if !h.blob_ok {
                ids.remove(&h.id);
            }
        }
        Ok(ids)
    }

    /// Right after a fault: every recording made is on the camera or on the
    /// server.
    pub(crate) fn check_nothing_wiped_unheld(
        &self,
        cam: &CameraDir,
        device: &str,
        made: &BTreeSet<String>,
        tally: &mut Tally,
    ) -> Result<()> {
        let stored = self.stored(device, tally)?;
        let camera = on_camera(cam)?;
        tally.wrongly_wiped += made
            .iter()
            .filter(|id| !camera.contains(*id) && !stored.contains(*id))
            .count() as u64;
        Ok(())
    }

    /// After the dockings that follow: the camera is empty and the server
    /// holds exactly what was made. A recording counted lost is not made
    /// any more, so that it is counted once.
    pub(crate) fn check_all_stored(
        &self,
        cam: &CameraDir,
        device: &str,
        made: &mut BTreeSet<String>,
        tally: &mut Tally,
    ) -> Result<()> {
        let stored = self.stored(device, tally)?;
        let lost: Vec<String> = made.difference(&stored).cloned().collect();
        tally.lost += lost.len() as u64;
        for id in lost {
            made.remove(&id);
            tally.lost_ids.insert(id);
        }
        // Held but never made here (a lost one that turned up later is
        // counted lost, not again as extra), each counted once.
        for id in stored.difference(made) {
            if !tally.lost_ids.contains(id)
                && tally.twice_seen.insert(format!("{device} extra {id}"))
            {
                tally.held_twice += 1;
            }
        }
        tally.blocked += cam.pending_recordings()?.len() as u64;
        Ok(())
    }
}

/// Ids of the recordings still on the camera with their ciphertext.
pub(crate) fn on_camera(cam: &CameraDir) -> Result<BTreeSet<String>> {
    Ok(cam
        .pending_recordings()?
        .into_iter()
        .filter(|p| p.ciphertext.exists())
        .filter_map(|p| p.stem.split_once('-').map(|(_, id)| id.to_owned()))
        .collect())
}

fn kill_trials(lab: &mut Lab, trials: u64, kill_server: bool) -> Result<Tally> {
    let device = if kill_server {
        "kill-server"
    } else {
        "kill-dock"
    };
    let cam = lab.camera(device)?;
    // How long an offload of two recordings takes here: kills are spread
    // over one and a half times that, from the dock's start.
    let mut made: BTreeSet<String> = lab.record(&cam, 2)?.into_iter().collect();
    let started = Instant::now();
    lab.dock_cleanly(&cam)?;
    let span = (started.elapsed().as_micros() as u64 * 3 / 2).max(1);
    let mut tally = Tally::default();
    let before = lab.incidents()?;
    for _ in 0..trials {
        let n = 1 + lab.rng.below(3) as usize;
        made.extend(lab.record(&cam, n)?);
        let mut dock = lab.dock(&cam, 0)?;
        std::thread::sleep(Duration::from_micros(lab.rng.below(span)));
        if kill_server {
            if matches!(dock.0.try_wait(), Ok(None)) {
                tally.struck += 1;
            }
            lab.server.kill();
            lab.finish(dock)?;
            lab.server.restart(&[])?;
        } else {
            if matches!(dock.0.try_wait(), Ok(None)) {
                tally.struck += 1;
            }
            let _ = dock.0.kill();
            let _ = dock.0.wait();
        }
        tally.trials += 1;
        lab.check_nothing_wiped_unheld(&cam, device, &made, &mut tally)?;
        lab.settle(&cam)?;
        lab.check_all_stored(&cam, device, &mut made, &mut tally)?;
    }
    tally.false_incidents += since(&before, &lab.incidents()?).1;
    Ok(tally)
}

fn race_trials(lab: &mut Lab, trials: u64) -> Result<Tally> {
    let device = "two-docks";
    let cam = lab.camera(device)?;
    let mut made = BTreeSet::new();
    let mut tally = Tally::default();
    let before = lab.incidents()?;
    for _ in 0..trials {
        made.extend(lab.record(&cam, 3)?);
        let first = lab.dock(&cam, 0)?;
        let second = lab.dock(&cam, 1)?;
        let reports = [lab.finish(first)?, lab.finish(second)?];
        tally.trials += 1;
        let in_use = reports
            .iter()
            .flatten()
            .filter(|r| {
                r["interrupted"]
                    .as_str()
                    .is_some_and(|w| w.starts_with(custos_dock::IN_USE))
            })
            .count();
        if in_use > 0 {
            tally.struck += 1;
            tally.noted += in_use as u64;
        }
        lab.check_nothing_wiped_unheld(&cam, device, &made, &mut tally)?;
        lab.settle(&cam)?;
        lab.check_all_stored(&cam, device, &mut made, &mut tally)?;
    }
    tally.false_incidents += since(&before, &lab.incidents()?).1;
    Ok(tally)
}

/// Incidents raised since `before`: the new rows, and every sighting
/// (new rows' and old rows' added ones).
pub(crate) fn since(before: &[Value], now: &[Value]) -> (Vec<Value>, u64) {
    let count = |i: &Value| i["occurrences"].as_u64().unwrap_or(1);
    let mut rows = Vec::new();
    let mut sightings = 0;
    for i in now {
        match before.iter().find(|b| b["id"] == i["id"]) {
            Some(b) => sightings += count(i).saturating_sub(count(b)),
            None => {
                sightings += count(i);
                rows.push(i.clone());
            }
        }
    }
    (rows, sightings)
}

pub fn run(args: FaultArgs) -> Result<ExitCode> {
    let tmp = tempfile::tempdir_in(args.dir.clone().unwrap_or_else(std::env::temp_dir))?;
    let data = tmp.path().join("server");
    let mut lab = Lab::new(tmp.path(), &data, args.size, args.seed)?;
    let started = Instant::now();
    let mut rows: Vec<(String, Tally)> = Vec::new();
    eprintln!("kill -9 of the dock, {} trials…", args.kills);
    rows.push((
        "kill -9 of the dock".into(),
        kill_trials(&mut lab, args.kills, false)?,
    ));
    eprintln!("kill -9 of the server, {} trials…", args.kills);
    rows.push((
        "kill -9 of the server".into(),
        kill_trials(&mut lab, args.kills, true)?,
    ));
    for damage in crate::bench_damage::Damage::ALL {
        eprintln!("{}, {} trials…", damage.name(), args.damages);
        rows.push((
            damage.name().into(),
            crate::bench_damage::trials(&mut lab, damage, args.damages)?,
        ));
    }
    eprintln!("two docks at once, {} trials…", args.races);
    rows.push((
        "two docks at once".into(),
        race_trials(&mut lab, args.races)?,
    ));
    eprintln!("a full disk, {} trials…", args.full);
    let (how, tally, full_after) =
        crate::bench_damage::full_disk(&mut lab, args.full, args.full_disk, &args)?;
    rows.push((format!("a full disk ({how})"), tally));
    let (staging, audit_ok) = lab.after_all()?;
    // The full disk's own server too, when it had one (tmpfs).
    let (staging, audit_ok) = (staging + full_after.0, audit_ok && full_after.1);
    let seconds = started.elapsed().as_secs_f64();

    println!(
        "Offload under faults, seed {:#x}, recordings of {}–{} bytes, {seconds:.0} s",
        args.seed,
        args.size / 4,
        args.size
    );
    println!(
        "  {:<34} {:>6} {:>6} {:>5} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6}",
        "trial", "trials", "struck", "lost", "twice", "wiped", "blocked", "false", "unrep", "noted"
    );
    for (name, t) in &rows {
        println!(
            "  {name:<34} {:>6} {:>6} {:>5} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6}{}",
            t.trials,
            t.struck,
            t.lost,
            t.held_twice,
            t.wrongly_wiped,
            t.blocked,
            t.false_incidents,
            t.unreported,
            t.noted,
            if t.repeated + t.misnamed + t.inspection_failed + t.accepted > 0 {
                format!(
                    "  repeated {}, misnamed {}, inspection failed {}, damaged but stored {}",
                    t.repeated, t.misnamed, t.inspection_failed, t.accepted
                )
            } else {
                String::new()
            }
        );
    }
    println!(
        "  staging files after a restart {staging}; audit verify {}",
        if audit_ok { "passed" } else { "FAILED" }
    );
    let bad: u64 = rows.iter().map(|(_, t)| t.bad()).sum::<u64>() + staging;
    println!(
        "{}",
        serde_json::json!({"bench": "faults", "seed": args.seed, "size": args.size, "seconds": seconds,
            "trials": rows.iter().map(|(n, t)| serde_json::json!({"trial": n, "figures": t})).collect::<Vec<_>>(),
            "staging_left": staging, "audit_verify": audit_ok})
    );
    Ok(if bad == 0 && audit_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
