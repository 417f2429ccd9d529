//! Shared by the in-process tests: a server with a movable clock, cameras
//! that record synthetic video, a dock, and an HTTP client for people.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use custos_camera::camera::Button;
use custos_camera::display::SimulatedDisplay;
use custos_camera::source::{CaptureSource, Pacing, SyntheticSource};
use custos_camera::storage::CameraConfig;
use custos_camera::{Camera, CameraDir};
use custos_dock::{Dock, DockConfig};
use custos_keys::secrecy::SecretString;
use custos_server::admin::Admin;
use custos_server::{RunningServer, ServerConfig};

pub mod builders;
pub mod raw;

pub const PASS: &str = "offload test passphrase";

/// Every role a person can have.
pub const ROLES: [&str; 6] = [
    "officer",
    "reviewer",
    "privacy-officer",
    "admin",
    "auditor",
    "evaluator",
];

pub struct World {
    pub tmp: tempfile::TempDir,
    pub data: std::path::PathBuf,
    pub server: RunningServer,
    pub dock_config: DockConfig,
    /// Added to the real time on the server's clock: lets a test skip days.
    pub clock_offset: Arc<AtomicI64>,
}

pub async fn world() -> World {
    world_with(Default::default()).await
}

pub async fn world_with(policy: custos_access::Policy) -> World {
    world_with_retention(
        policy,
        custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
    )
    .await
}

pub async fn world_with_retention(
    policy: custos_access::Policy,
    retention: custos_server::retention::RetentionPolicy,
) -> World {
    world_on(policy, retention, None).await
}

/// The PostgreSQL server the tests use (`CUSTOS_TEST_POSTGRES`), and the
/// S3-compatible one (`CUSTOS_TEST_S3`, bucket `custos-test`): see ./test.sh.
pub fn test_postgres() -> String {
    std::env::var("CUSTOS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn test_s3() -> String {
    std::env::var("CUSTOS_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:9000".into())
}

/// A world whose catalog is in a fresh PostgreSQL schema and whose blobs are
/// under a fresh prefix of the test S3 server, named in `DATA/custos.toml`
/// as a deployment would name them (so the CLI's `Admin` uses them too).
pub async fn world_on_postgres_and_s3(name: &str) -> World {
    world_on_postgres_and_s3_with(
        name,
        custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
    )
    .await
}

pub async fn world_on_postgres_and_s3_with(
    name: &str,
    retention: custos_server::retention::RetentionPolicy,
) -> World {
    let storage = postgres_and_s3(name).await;
    world_on(Default::default(), retention, Some(storage)).await
}

/// A fresh PostgreSQL schema and S3 prefix for a world named `name`.
pub async fn postgres_and_s3(name: &str) -> custos_server::storage::StorageConfig {
    let unique = format!(
        "{name}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let schema = format!("w_{unique}").replace('-', "_");
    let admin = sqlx::PgPool::connect(&test_postgres())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} ({e}): see ./test.sh", test_postgres()));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let database = format!("{}?options=-c%20search_path%3D{schema}", test_postgres());
    custos_server::storage::StorageConfig {
        database: Some(database),
        blobs: Some(format!("s3://custos-test/{unique}")),
        s3: custos_server::storage::S3Settings {
            endpoint: Some(test_s3()),
            region: Some("us-east-1".into()),
            access_key_id: Some("custos-test".into()),
            secret_access_key: Some("custos-test-secret".into()),
            ..Default::default()
        },
    }
}

pub async fn world_on(
    policy: custos_access::Policy,
    retention: custos_server::retention::RetentionPolicy,
    storage: Option<custos_server::storage::StorageConfig>,
) -> World {
    world_with_limits(policy, retention, storage, test_limits()).await
}

/// The server's limits for tests that are not about them: each call here
/// opens a connection of its own, far faster than one source may in
/// production (abuse.rs tests the limits themselves).
pub fn test_limits() -> custos_server::limits::Limits {
    custos_server::limits::Limits {
        new_connections_per_source_per_second: 1_000_000,
        new_connections_per_source_burst: 1_000_000,
        ..Default::default()
    }
}

/// A world whose server runs with `limits` (connections, timeouts, sign-in admission).
pub async fn world_with_limits(
    policy: custos_access::Policy,
    retention: custos_server::retention::RetentionPolicy,
    storage: Option<custos_server::storage::StorageConfig>,
    limits: custos_server::limits::Limits,
) -> World {
    world_with_axis(policy, retention, storage, limits, None).await
}

/// A world whose server also runs the Axis content destination with `axis`.
pub async fn world_with_axis(
    policy: custos_access::Policy,
    retention: custos_server::retention::RetentionPolicy,
    storage: Option<custos_server::storage::StorageConfig>,
    limits: custos_server::limits::Limits,
    axis: Option<custos_server::axis::AxisSettings>,
) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    custos_keys::EvidenceKeyStore::new(&data)
        .init(&SecretString::from(PASS.to_owned()), 10)
        .unwrap();
    if let Some(storage) = &storage {
        let s3 = &storage.s3;
        std::fs::write(
            data.join(custos_server::storage::CONFIG_FILE),
            format!(
                "database = {:?}\nblobs = {:?}\n[s3]\nendpoint = {:?}\nregion = {:?}\naccess_key_id = {:?}\nsecret_access_key = {:?}\n",
                storage.database.as_deref().unwrap_or_default(),
                storage.blobs.as_deref().unwrap_or_default(),
                s3.endpoint.as_deref().unwrap_or_default(),
                s3.region.as_deref().unwrap_or_default(),
                s3.access_key_id.as_deref().unwrap_or_default(),
                s3.secret_access_key.as_deref().unwrap_or_default(),
            ),
        )
        .unwrap();
    }
    let config = ServerConfig {
        axis,
        limits,
        storage: storage.unwrap_or_default(),
        data: data.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        server_id: "test-city".into(),
        retention,
        policy,
    };
    let clock_offset = Arc::new(AtomicI64::new(0));
    let offset = clock_offset.clone();
    let clock: custos_server::Clock = Arc::new(move || {
        custos_format::UtcMillis::now().plus_millis(offset.load(Ordering::SeqCst))
    });
    // As `custos serve` runs it: the web UI beside the API.
    let server = custos_server::start_with_pages(
        config,
        &SecretString::from(PASS.to_owned()),
        clock,
        custos_web::routes(custos_web::WebConfig::default()),
    )
    .await
    .unwrap();
    let admin = Admin::open(&data).await.unwrap();
    let credential = admin.enroll_dock("dock-1").await.unwrap();
    let dock_config = DockConfig {
        server: format!("https://localhost:{}", server.addr.port()),
        dock_id: credential.dock_id,
        token: credential.token,
        server_certificate_pem: server.certificate_pem.clone(),
    };
    World {
        tmp,
        data,
        server,
        dock_config,
        clock_offset,
    }
}

impl World {
    /// A camera with `n` one-second recordings, enrolled unless told otherwise.
    pub async fn camera(&self, name: &str, n: usize, enroll: bool) -> CameraDir {
        let recipient = custos_keys::EvidenceKeyStore::new(&self.data)
            .recipient()
            .unwrap();
        let dir = CameraDir::new(self.tmp.path().join(name));
        dir.init(&camera_config(name, &recipient.to_string()))
            .unwrap();
        if enroll {
            let admin = Admin::open(&self.data).await.unwrap();
            admin
                .enroll_camera(name, &dir.verifying_key().unwrap())
                .await
                .unwrap();
        }
        // The camera pins the server's receipt key either way (it may be revoked later).
        let mut config = dir.load_config().unwrap();
        config.server_receipt_key = Some(
            custos_server::keys::receipt_public_key(&self.data)
                .unwrap()
                .to_hex(),
        );
        dir.save_config(&config).unwrap();
        Dock::checkout(&dir, "boa-5").unwrap();
        record(&dir, n);
        dir
    }

    pub async fn offload(&self, cam: &CameraDir) -> (custos_dock::CameraReport, u64) {
        let config = self.dock_config.clone();
        let cam = cam.clone();
        tokio::task::spawn_blocking(move || {
            let sent = AtomicU64::new(0);
            let dock = Dock::new(config).unwrap();
            let report = dock.offload(&cam, &|n| {
                sent.fetch_add(n, Ordering::Relaxed);
            });
            (report.unwrap(), sent.load(Ordering::Relaxed))
        })
        .await
        .unwrap()
    }

    /// A camera that made one recording of `frames` frames and docked: the
    /// recording as the server stored it.
    pub async fn one_recording(&self, camera: &str, frames: usize) -> custos_catalog::Recording {
        let cam = self.camera(camera, 0, true).await;
        record_frames(&cam, 1, frames);
        self.offload(&cam).await;
        let mut all = self.server.deployment.catalog.recordings().await.unwrap();
        all.retain(|r| r.device_id == camera);
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    /// One retention sweep at `at`, as `serve`'s maintenance runs it.
    pub async fn sweep(
        &self,
        at: custos_format::UtcMillis,
    ) -> custos_server::retention::SweepReport {
        let d = &self.server.deployment;
        let sink = custos_server::retention::AuditSink::Server(d.audit.clone());
        custos_server::retention::sweep(&*d.catalog, &d.blobs, &sink, at)
            .await
            .unwrap()
    }

    pub async fn admin(&self) -> Admin {
        Admin::open(&self.data).await.unwrap()
    }
}

/// A small test camera's configuration: 160×120 at 30 fps, no pre-record,
/// no GPS, encrypting to `recipient`.
pub fn camera_config(name: &str, recipient: &str) -> CameraConfig {
    CameraConfig {
        device_id: name.into(),
        evidence_recipient: recipient.into(),
        officer_id: None,
        prerecord_seconds: 0,
        width: 160,
        height: 120,
        fps: 30,
        bitrate_bps: 300_000,
        storage_capacity_bytes: None,
        display_triggers_recording: false,
        simulated_gps: false,
        simulated_gps_start: None,
        server_receipt_key: None,
    }
}

pub fn record(dir: &CameraDir, n: usize) {
    record_frames(dir, n, 30);
}

pub fn record_frames(dir: &CameraDir, n: usize, frames: usize) {
    let mut source = SyntheticSource::new(
        160,
        120,
        30,
        1_795_424_400_000_000,
        "x",
        Pacing::AsFastAsPossible,
    )
    .unwrap();
    let mut cam = Camera::open(dir.clone(), SimulatedDisplay::default(), "test".into()).unwrap();
    let mut feed = |cam: &mut Camera<SimulatedDisplay>, frames: usize| {
        for _ in 0..frames {
            cam.on_frame(source.next_frame().unwrap().unwrap()).unwrap();
        }
    };
    for _ in 0..n {
        cam.press(Button::Record).unwrap();
        feed(&mut cam, frames);
        cam.press(Button::Stop).unwrap();
        feed(&mut cam, 1);
    }
}

/// One recording of the labelled face clip (custos-faces/testdata): the
/// camera set to 480×270 and fed each clip frame for a third of a second,
/// so the keyframes at 0, 1, 2 and 3 s show clip frames 0, 3, 6 and 9.
pub fn record_face_clip(dir: &CameraDir) {
    let clip =
        custos_faces::read_pgms(include_bytes!("../../../../custos-faces/testdata/clip.pgm"))
            .unwrap();
    let mut config = dir.load_config().unwrap();
    config.width = 480;
    config.height = 270;
    dir.save_config(&config).unwrap();
    let mut cam = Camera::open(dir.clone(), SimulatedDisplay::default(), "test".into()).unwrap();
    let start_us = 1_795_424_400_000_000i64;
    let frame = |n: usize| {
        let (luma, w, h) = &clip[(n / 10).min(clip.len() - 1)];
        let mut data = luma.clone();
        data.extend(std::iter::repeat_n(128u8, w * h / 2));
        custos_camera::source::RawFrame {
            data,
            width: *w,
            height: *h,
            captured_at_us: start_us + n as i64 * 1_000_000 / 30,
        }
    };
    cam.press(Button::Record).unwrap();
    for n in 0..100 {
        cam.on_frame(frame(n)).unwrap();
    }
    cam.press(Button::Stop).unwrap();
    cam.on_frame(frame(100)).unwrap();
}

/// Every audit entry's event, oldest first.
pub async fn audit_events(w: &World) -> Vec<custos_audit::AuditEvent> {
    let rows = w
        .server
        .deployment
        .catalog
        .audit_entries(0, 1_000_000)
        .await
        .unwrap();
    rows.iter()
        .map(|r| custos_audit::AuditEntry::parse(&r.bytes).unwrap().event)
        .collect()
}

/// A copy of a directory tree (a camera copied before it was offloaded).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

pub fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

/// Runs `tests/browser/SCRIPT` (playwright-core in Debian's Chromium)
/// with `env`, on a blocking thread, and gives the one JSON line it
/// prints of what it saw.
pub async fn browser(script: &str, env: Vec<(String, std::ffi::OsString)>) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser")
        .join(script);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&script)
            .envs(env)
            .output()
            .expect("node must be installed (see ./test.sh)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// `(name, value)` pairs for [`browser`].
pub fn vars<const N: usize>(
    pairs: [(&str, &dyn AsRef<std::ffi::OsStr>); N],
) -> Vec<(String, std::ffi::OsString)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.as_ref().to_owned()))
        .collect()
}

pub fn agent(w: &World) -> ureq::Agent {
    agent_with_redirects(w, 10)
}

/// An agent that trusts the test server and follows at most `redirects`
/// (0: the web tests look at each 303 themselves).
pub fn agent_with_redirects(w: &World, redirects: u32) -> ureq::Agent {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = ureq::tls::Certificate::from_pem(w.server.certificate_pem.as_bytes()).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(redirects)
        .build()
        .into()
}

/// Someone who can sign in.
pub struct Account {
    pub name: String,
    pub password: String,
    pub secret: String,
}

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

impl World {
    pub fn base(&self) -> String {
        format!("https://localhost:{}", self.server.addr.port())
    }

    pub fn now(&self) -> custos_format::UtcMillis {
        custos_format::UtcMillis::now().plus_millis(self.clock_offset.load(Ordering::SeqCst))
    }

    /// Moves the server's clock to `at` (and lets it run on from there).
    pub fn set_time(&self, at: custos_format::UtcMillis) {
        let offset = at.as_millis() - custos_format::UtcMillis::now().as_millis();
        self.clock_offset.store(offset, Ordering::SeqCst);
    }

    pub async fn add_user(&self, name: &str, role: &str, officer_id: Option<&str>) -> Account {
        let role = custos_access::Role::parse(role).unwrap();
        let e = self
            .admin()
            .await
            .add_user(name, role, officer_id.map(str::to_owned))
            .await
            .unwrap();
        let initial = Account {
            name: name.into(),
            password: e.password.to_string(),
            secret: e.totp_secret.to_string(),
        };
        // The initial password must be replaced at the first sign-in.
        let token = self.sign_in(&initial).await;
        let renewed = format!("renewed {}", initial.password);
        let answer = self
            .call(
                "POST",
                "/api/v1/session/password",
                Some(&token),
                Some(serde_json::json!({"current_password": initial.password, "new_password": renewed})),
                &[],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.json());
        Account {
            password: renewed,
            ..initial
        }
    }

    /// Signs in with a fresh TOTP code (the clock steps 30 s first, so the
    /// same person can sign in again).
    /// Links a recording to a case for viewing (as a reviewer or privacy
    /// officer must before playing it for that case).
    pub async fn link(&self, token: &str, case: &str, recording: impl std::fmt::Display) {
        let answer = self
            .call(
                "POST",
                &format!("/api/v1/cases/{case}/recordings"),
                Some(token),
                Some(serde_json::json!({"recording_id": recording.to_string(), "reason": "seen at the scene"})),
                &[],
            )
            .await;
        assert!(
            answer.status == 201 || answer.status == 200,
            "linking: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }

    pub async fn sign_in(&self, a: &Account) -> String {
        self.clock_offset.fetch_add(30_000, Ordering::SeqCst);
        let code = custos_server::auth::totp_code(&a.secret, self.now()).unwrap();
        let body = serde_json::json!({"name": a.name, "password": a.password, "code": code});
        let answer = self
            .call("POST", "/api/v1/session", None, Some(body), &[])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.json());
        answer.json()["token"].as_str().unwrap().to_owned()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let agent = agent(self);
        let url = format!("{}{path}", self.base());
        let method = method.to_owned();
        let token = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let mut request = ureq::http::Request::builder()
                .method(method.as_str())
                .uri(&url);
            if let Some(t) = &token {
                request = request.header("authorization", t);
            }
            for (k, v) in &headers {
                request = request.header(k, v);
            }
            let response = match body {
                Some(b) => agent.run(
                    request
                        .header("content-type", "application/json")
                        .body(serde_json::to_vec(&b).unwrap())
                        .unwrap(),
                ),
                None => agent.run(request.body(()).unwrap()),
            };
            let mut response = response.unwrap();
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let body = response
                .body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_vec()
                .unwrap();
            Answer {
                status,
                headers,
                body,
            }
        })
        .await
        .unwrap()
    }
}

/// An export package opened with its passphrase, as the age CLI would: the
/// tar inside.
pub fn open_package(package: &[u8], passphrase: &str) -> Vec<u8> {
    use std::io::Read;
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let mut tar = Vec::new();
    age::Decryptor::new(package)
        .unwrap()
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut tar)
        .unwrap();
    tar
}
