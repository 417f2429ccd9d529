//! Invariant 7, "nothing is lost": the dock or the server is killed (abort,
//! like kill -9) at a seeded random crash point during offload, 50 times.
//! After every crash each recording is on the camera, on the server, or both;
//! the server never holds a duplicate; and a later dock run completes.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use custos_camera::camera::Button;
use custos_camera::display::SimulatedDisplay;
use custos_camera::source::{CaptureSource, Pacing, SyntheticSource};
use custos_camera::{Camera, CameraDir};

const PASS: &str = "crash test passphrase";
const TRIALS: u64 = 50;

fn custos() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custos"));
    c.env_remove("CUSTOS_PASSPHRASE")
        .env_remove("CUSTOS_CRASH_AT")
        .env("CUSTOS_LOG", "error")
        .stdin(Stdio::null());
    c
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// `crash`: abort at the n-th crash point whose name starts with the
    /// filter.
    fn start(data: &Path, crash: Option<(u64, &str)>) -> Self {
        Self::start_with(data, crash, &[])
    }

    fn start_with(data: &Path, crash: Option<(u64, &str)>, env: &[(&str, &str)]) -> Self {
        let mut cmd = custos();
        cmd.envs(env.iter().copied());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("CUSTOS_PASSPHRASE", PASS);
        if let Some((n, filter)) = crash {
            cmd.env("CUSTOS_CRASH_AT", n.to_string())
                .env("CUSTOS_CRASH_FILTER", filter);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(addr) = line.strip_prefix("Custos evidence server on https://") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, port }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Stops the server (if still running) and returns the signal that ended it.
    fn stop(&mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let _ = self.child.kill();
        self.child.wait().unwrap().signal()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dock(
    data: &Path,
    cam: &Path,
    token: &Path,
    port: u16,
    crash: Option<(u64, &str)>,
) -> std::process::ExitStatus {
    let mut cmd = custos();
    cmd.args(["dock", "offload", "--dock-id", "dock-1", "--server"])
        .arg(format!("https://localhost:{port}"))
        .arg("--token-file")
        .arg(token)
        .arg("--server-cert")
        .arg(data.join("tls/cert.pem"))
        .arg(cam);
    if let Some((n, filter)) = crash {
        cmd.env("CUSTOS_CRASH_AT", n.to_string())
            .env("CUSTOS_CRASH_FILTER", filter);
    }
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
}

/// Recording ids the server holds, after checking each blob against its row.
fn on_server(data: &Path) -> BTreeSet<String> {
    let out = custos()
        .args(["recordings", "list", "--json", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut seen = BTreeSet::new();
    let mut sequences = BTreeSet::new();
    for r in &list {
        assert!(
            sequences.insert(r["sequence"].as_u64().unwrap()),
            "duplicate sequence on the server"
        );
        let id = r["recording_id"].as_str().unwrap().to_owned();
        let blob = data
            .join("blobs/cam-1")
            .join(format!("{:08}-{id}.age", r["sequence"].as_u64().unwrap()));
        assert_eq!(
            std::fs::metadata(&blob).map(|m| m.len()).ok(),
            r["size"].as_u64(),
            "blob of {id} missing or short"
        );
        assert!(seen.insert(id), "duplicate recording on the server");
    }
    seen
}

/// Recording ids still on the camera with their ciphertext.
fn on_camera(cam: &CameraDir) -> BTreeSet<String> {
    cam.pending_recordings()
        .unwrap()
        .into_iter()
        .filter(|p| p.ciphertext.exists())
        .map(|p| p.stem.split_once('-').unwrap().1.to_owned())
        .collect()
}

fn record(cam: &CameraDir, n: usize, start_us: i64) -> Vec<String> {
    let mut source =
        SyntheticSource::new(160, 120, 30, start_us, "cam-1", Pacing::AsFastAsPossible).unwrap();
    let mut camera = Camera::open(cam.clone(), SimulatedDisplay::default(), "test".into()).unwrap();
    for _ in 0..n {
        camera.press(Button::Record).unwrap();
        for _ in 0..31 {
            camera
                .on_frame(source.next_frame().unwrap().unwrap())
                .unwrap();
        }
        camera.press(Button::Stop).unwrap();
        camera
            .on_frame(source.next_frame().unwrap().unwrap())
            .unwrap();
    }
    camera
        .take_finished()
        .iter()
        .map(|m| m.manifest().recording_id.to_string())
        .collect()
}

/// A data directory with keys, an enrolled camera and dock, and its server
/// running: (data, camera directory, dock token file, camera, server).
fn fixture(tmp: &Path) -> (PathBuf, PathBuf, PathBuf, CameraDir, Server) {
    let data = tmp.join("server");
    let recipient = ok(custos()
        .args(["keys", "init", "--work-factor", "10", "--data"])
        .arg(&data)
        .env("CUSTOS_PASSPHRASE", PASS));
    // The first start makes the receipt key a camera pins at enrollment.
    let server = Server::start(&data, None);
    let cam_path: PathBuf = tmp.join("cam");
    ok(custos()
        .args([
            "device",
            "init",
            "--device-id",
            "cam-1",
            "--size",
            "160x120",
            "--prerecord",
            "0s",
            "--no-gps",
            "--evidence-key",
        ])
        .arg(recipient.trim())
        .arg("--dir")
        .arg(&cam_path));
    ok(custos()
        .args(["enroll", "camera", "--data"])
        .arg(&data)
        .arg("--camera")
        .arg(&cam_path));
    let token = tmp.join("dock.token");
    std::fs::write(
        &token,
        ok(custos()
            .args(["enroll", "dock", "--dock-id", "dock-1", "--data"])
            .arg(&data)),
    )
    .unwrap();
    let cam = CameraDir::new(&cam_path);
    (data, cam_path, token, cam, server)
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The seeded generator of the random trials (xorshift): `next(n)` is a
/// number below `n`.
fn seeded(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut rng = seed | 1;
    move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    }
}

/// What a docking runs against: the server's data, the camera's directory
/// and the dock's token file.
struct Site<'a> {
    data: &'a Path,
    cam_path: &'a Path,
    token: &'a Path,
}

impl Site<'_> {
    /// A docking killed at its `crash_at`-th crash point: whether it was.
    fn kill_the_dock(&self, server: &Server, crash_at: u64) -> bool {
        let status = dock(
            self.data,
            self.cam_path,
            self.token,
            server.port,
            Some((crash_at, "dock:")),
        );
        status.code().is_none()
    }

    /// The server killed at its `crash_at`-th crash point during a docking
    /// (`server` is stopped first): a server running afterwards, and
    /// whether it was killed.
    fn kill_the_server(&self, server: Server, crash_at: u64) -> (Server, bool) {
        drop(server);
        let mut victim = Server::start(self.data, Some((crash_at, "server:")));
        dock(self.data, self.cam_path, self.token, victim.port, None);
        // Whether it aborted or not, this instance goes: a later crash
        // point must not fire during the checks below.
        let killed = victim.stop() == Some(libc_sigabrt());
        (Server::start(self.data, None), killed)
    }

    /// A clean restart (if the server is down) and up to three dockings,
    /// until the camera is empty.
    fn complete(&self, cam: &CameraDir, mut server: Server) -> Server {
        if !server.running() {
            server = Server::start(self.data, None);
        }
        for _ in 0..3 {
            if on_camera(cam).is_empty() && cam.pending_recordings().unwrap().is_empty() {
                break;
            }
            if !server.running() {
                server = Server::start(self.data, None);
            }
            dock(self.data, self.cam_path, self.token, server.port, None);
        }
        server
    }
}

#[test]
fn killing_dock_or_server_at_random_points_loses_nothing() {
    let seed: u64 = std::env::var("CUSTOS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C0_5705);
    let mut next = seeded(seed);
    let tmp = tempfile::tempdir().unwrap();
    let (data, cam_path, token, cam, mut server) = fixture(tmp.path());
    let site = Site {
        data: &data,
        cam_path: &cam_path,
        token: &token,
    };

    let mut made = BTreeSet::new();
    let mut crashes = (0, 0);
    for trial in 0..TRIALS {
        made.extend(record(
            &cam,
            1 + next(2) as usize,
            1_795_424_400_000_000 + trial as i64 * 10_000_000,
        ));
        let crash_at = 1 + next(12);
        if next(2) == 0 {
            // Kill the server at its crash_at-th crash point.
            let (restarted, killed) = site.kill_the_server(server, crash_at);
            server = restarted;
            if killed {
                crashes.0 += 1;
            }
        } else if site.kill_the_dock(&server, crash_at) {
            crashes.1 += 1;
        }
        // Right after the crash: nothing is on neither side.
        let (camera, stored) = (on_camera(&cam), on_server(&data));
        for id in &made {
            assert!(
                camera.contains(id) || stored.contains(id),
                "trial {trial}: recording {id} is on neither camera nor server"
            );
        }
        // A clean restart and a later docking complete the job.
        server = site.complete(&cam, server);
        assert!(
            cam.pending_recordings().unwrap().is_empty(),
            "trial {trial}: camera not emptied"
        );
        assert_eq!(
            on_server(&data),
            made,
            "trial {trial}: server holds exactly what was made"
        );
    }
    // A restart leaves no staging file behind that no upload names (a kill
    // between creating one and committing its row leaves one): every
    // recording is stored, so no upload is open and staging is empty.
    drop(server);
    let _server = Server::start(&data, None);
    let left: Vec<_> = std::fs::read_dir(data.join("staging"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "staging files after a restart: {left:?}");
    // The seeds must really have killed both sides, many times.
    assert!(
        crashes.0 >= 10 && crashes.1 >= 10,
        "crashes (server, dock) = {crashes:?}"
    );
    assert_no_incidents(&data, "crashes are not integrity incidents");
    eprintln!(
        "{TRIALS} trials, seed {seed:#x}: server killed {} times, dock killed {} times",
        crashes.0, crashes.1
    );
}

/// Issue 21: a crash at every durable step of ingest and of the camera's
/// wipe, each once, deterministically (the random trials above may miss
/// one): right after it each recording is on the camera or the server, a
/// restart and a docking complete the job, the server holds no duplicate,
/// and no crash is an integrity incident.
#[test]
fn a_crash_at_every_durable_step_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cam_path, token, cam, mut server) = fixture(tmp.path());
    let points = [
        "server:append",
        "server:header-moved",
        "server:before-blob",
        "server:after-blob",
        "server:after-commit",
        "dock:after-offer",
        "dock:after-patch",
        "dock:before-wipe",
        "dock:wipe-receipt-stored",
        "dock:wipe-removed-one",
    ];
    let mut made = BTreeSet::new();
    for (n, point) in points.iter().enumerate() {
        made.extend(record(
            &cam,
            2,
            1_795_424_400_000_000 + n as i64 * 10_000_000,
        ));
        let crashed = if point.starts_with("server:") {
            drop(server);
            let mut victim = Server::start(&data, Some((1, point)));
            dock(&data, &cam_path, &token, victim.port, None);
            let crashed = victim.stop() == Some(libc_sigabrt());
            server = Server::start(&data, None);
            crashed
        } else {
            use std::os::unix::process::ExitStatusExt;
            dock(&data, &cam_path, &token, server.port, Some((1, point))).signal()
                == Some(libc_sigabrt())
        };
        assert!(crashed, "{point}: the crash point was never reached");
        let (camera, stored) = (on_camera(&cam), on_server(&data));
        for id in &made {
            assert!(
                camera.contains(id) || stored.contains(id),
                "{point}: recording {id} is on neither camera nor server"
            );
        }
        for _ in 0..3 {
            if cam.pending_recordings().unwrap().is_empty() {
                break;
            }
            dock(&data, &cam_path, &token, server.port, None);
        }
        assert!(
            cam.pending_recordings().unwrap().is_empty(),
            "{point}: camera not emptied"
        );
        assert_eq!(on_server(&data), made, "{point}");
    }
    assert_no_incidents(&data, "crashes are not integrity incidents");
}

/// Issue 21: the server's disk fills while a recording is being received.
/// The dock hears `507 storage-full`, stops, wipes nothing and keeps every
/// recording; no integrity incident is raised; once there is room again
/// the next docking stores everything, resuming the upload it began.
#[test]
fn a_full_disk_at_ingest_is_storage_full_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, cam_path, token, cam, server) = fixture(tmp.path());
    let made: BTreeSet<String> = record(&cam, 2, 1_795_424_400_000_000).into_iter().collect();
    drop(server);
    let full = Server::start_with(&data, None, &[("CUSTOS_FULL_DISK", "ingest:staging")]);
    let out = custos()
        .args([
            "dock",
            "offload",
            "--json",
            "--dock-id",
            "dock-1",
            "--server",
        ])
        .arg(format!("https://localhost:{}", full.port))
        .arg("--token-file")
        .arg(&token)
        .arg("--server-cert")
        .arg(data.join("tls/cert.pem"))
        .arg(&cam_path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the dock says it did not finish"
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &reports[0];
    assert_eq!(
        (report["stored"].as_u64(), report["wiped"].as_u64()),
        (Some(0), Some(0)),
        "{report}"
    );
    let why = report["interrupted"].as_str().unwrap_or_default();
    assert!(why.contains("storage-full") && why.contains("507"), "{why}");
    assert_eq!(on_camera(&cam), made, "everything stays on the camera");
    assert!(on_server(&data).is_empty());
    assert_no_incidents(&data, "a full disk is not an integrity incident");

    drop(full);
    let server = Server::start(&data, None);
    assert!(dock(&data, &cam_path, &token, server.port, None).success());
    assert_eq!(on_server(&data), made);
    assert!(cam.pending_recordings().unwrap().is_empty());
}

/// The fault bench (`custos bench faults`, issue 21) in a bounded form, so
/// it cannot rot: every kind of damage to a camera's files once, two docks
/// at once, a full disk at ingest (injected, as a test cannot mount one);
/// its kill -9 trials sleep real time and are left to the benchmark (the
/// crash points above stand in for them here). Every figure that counts a
/// failure must be 0, and each trial must have struck.
#[test]
fn the_fault_bench_finds_nothing_lost_or_falsely_raised() {
    let tmp = tempfile::tempdir().unwrap();
    let out = custos()
        .args([
            "bench",
            "faults",
            "--kills",
            "0",
            "--damages",
            "1",
            "--races",
            "1",
        ])
        .args([
            "--full",
            "1",
            "--full-disk",
            "injected",
            "--size",
            "6M",
            "--dir",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let trials = json["trials"].as_array().unwrap();
    // Two kill rows (no trials), six kinds of damage, two docks, full disk.
    assert_eq!(trials.len(), 2 + 6 + 1 + 1, "{json}");
    for t in trials {
        let f = &t["figures"];
        let failures: u64 = f
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !["trials", "struck", "noted"].contains(&k.as_str()))
            .map(|(_, v)| v.as_u64().unwrap())
            .sum();
        assert_eq!(failures, 0, "{t}");
        let name = t["trial"].as_str().unwrap();
        let expected = if name.starts_with("kill") { 0 } else { 1 };
        assert_eq!(f["trials"], expected, "{t}");
        // Two docks must really have met (one turned away "in use"), and
        // the full disk must really have been answered 507; a damage is
        // in place before the dock starts, so it always strikes.
        if name.starts_with("two docks") || name.starts_with("a full disk") {
            assert_eq!(
                (f["struck"].as_u64(), f["noted"].as_u64()),
                (Some(1), Some(1)),
                "{t}"
            );
        }
    }
    assert_eq!(json["staging_left"], 0);
    assert_eq!(json["audit_verify"], true);
}

/// The server holds no integrity incident at all (`why` says why none).
fn assert_no_incidents(data: &Path, why: &str) {
    let incidents = ok(custos()
        .args(["incidents", "list", "--json", "--data"])
        .arg(data));
    assert_eq!(incidents.trim(), "[]", "{why}");
}

/// SIGABRT, what `custos_faults::crash_point` ends a process with.
fn libc_sigabrt() -> i32 {
    6
}
