//! The Axis content destination driven as the Axis system controller
//! drives it (issue 23, ADR 0017): by python-swiftclient, a Swift client
//! nobody here wrote, through the spec's whole flow; what arrived is then
//! read back out of the catalog and the blob store and compared byte for
//! byte with what was sent.

use std::path::PathBuf;
use std::process::Command;

use custos_catalog::AxisObject;
use custos_keys::secrecy::SecretString;
use custos_server::axis::AxisSettings;
use md5::{Digest, Md5};

use crate::common::raw::{request, Raw, RawAnswer};
use crate::common::*;

pub const USER: &str = "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10";
pub const SERIAL: &str = "ACCC8EF0A1B2";
pub const RECORDING: &str = "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10_ACCC8EF0A1B2_20260823T114706Z";

/// A deployment with an Axis listener and one connection, `scu-1`.
pub struct Scu {
    pub w: World,
    pub raw: Raw,
    pub key: String,
    pub cert: PathBuf,
    pub token: String,
}

pub async fn scu() -> Scu {
    scu_with(|_| {}).await
}

/// [`scu`] with the listener's settings changed by `change`.
pub async fn scu_with(change: impl FnOnce(&mut AxisSettings)) -> Scu {
    let mut settings = AxisSettings::new("127.0.0.1:0".parse().unwrap());
    change(&mut settings);
    scu_on(None, settings).await
}

/// [`scu`] on the given catalog and blob store.
pub async fn scu_on(
    storage: Option<custos_server::storage::StorageConfig>,
    settings: AxisSettings,
) -> Scu {
    scu_in(
        storage,
        settings,
        custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
    )
    .await
}

/// [`scu_on`] with the deployment's retention periods.
pub async fn scu_in(
    storage: Option<custos_server::storage::StorageConfig>,
    settings: AxisSettings,
    retention: custos_server::retention::RetentionPolicy,
) -> Scu {
    let w = world_with_axis(
        Default::default(),
        retention,
        storage,
        test_limits(),
        Some(settings),
    )
    .await;
    let credential = w.admin().await.add_axis_connection("scu-1").await.unwrap();
    let cert = w.tmp.path().join("axis-cert.pem");
    std::fs::write(&cert, &w.server.certificate_pem).unwrap();
    let raw = Raw::new(w.server.axis_addr.unwrap(), &w.server.certificate_pem);
    let mut scu = Scu {
        w,
        raw,
        key: credential.key.to_string(),
        cert,
        token: String::new(),
    };
    let answer = scu.authenticate("scu-1", &scu.key.clone()).await;
    assert_eq!(answer.status, Some(200), "{}", answer.head);
    scu.token = answer.header("x-auth-token").unwrap();
    scu
}

impl Scu {
    pub fn auth_url(&self) -> String {
        format!("https://localhost:{}/auth/v1.0", self.raw.addr.port())
    }

    pub async fn authenticate(&self, user: &str, key: &str) -> RawAnswer {
        let headers = [
            ("X-Auth-User", user.as_bytes()),
            ("X-Auth-Key", key.as_bytes()),
        ];
        self.raw
            .send(
                "127.0.0.1".parse().unwrap(),
                request("GET", b"/auth/v1.0", &headers, b""),
            )
            .await
            .unwrap()
    }

    /// `method` on `/v1/AUTH_scu-1/<path>` with this connection's token.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawAnswer {
        let target = format!("/v1/AUTH_scu-1/{path}");
        self.send_as(&self.token, method, target.as_bytes(), headers, body)
            .await
    }

    /// Any target, any token.
    pub async fn send_as(
        &self,
        token: &str,
        method: &str,
        target: &[u8],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawAnswer {
        let mut all: Vec<(&str, &[u8])> = vec![("X-Auth-Token", token.as_bytes())];
        all.extend(headers.iter().map(|(k, v)| (*k, v.as_bytes())));
        self.raw
            .send(
                "127.0.0.1".parse().unwrap(),
                request(method, target, &all, body),
            )
            .await
            .unwrap()
    }

    /// The user and camera of [`RECORDING`], registered.
    pub async fn registered(&self) {
        for (container, object) in [("Users", USER), ("Devices", SERIAL)] {
            assert_eq!(
                self.send("PUT", container, &[], b"").await.status,
                Some(201)
            );
            let path = format!("{container}/{object}");
            let answer = self
                .send("PUT", &path, &[("X-Object-Meta-Name", "x")], b"")
                .await;
            assert_eq!(answer.status, Some(201), "{}", answer.head);
        }
    }

    /// [`RECORDING`]'s container, made with the metadata the spec sends first.
    pub async fn recording(&self) {
        self.registered().await;
        let answer = self
            .send(
                "PUT",
                RECORDING,
                &[
                    ("X-Container-Meta-Starttime", "1787485620"),
                    ("X-Container-Meta-Triggerontime", "1787485626"),
                    ("X-Container-Meta-Status", "Transferring"),
                ],
                b"",
            )
            .await;
        assert_eq!(answer.status, Some(201), "{}", answer.head);
    }

    /// Recording container `name` of the registered user and camera,
    /// started (and triggered) at `start`, with `clips` (name, and its
    /// start and stop where given), then `Complete` at `stop`: the answer
    /// to the `Complete`.
    pub async fn recording_with(
        &self,
        name: &str,
        start: i64,
        stop: i64,
        clips: &[(&str, Option<(i64, i64)>)],
    ) -> RawAnswer {
        let start_text = start.to_string();
        let made = self
            .send(
                "PUT",
                name,
                &[
                    ("X-Container-Meta-Starttime", &start_text),
                    ("X-Container-Meta-Triggerontime", &start_text),
                ],
                b"",
            )
            .await;
        assert_eq!(made.status, Some(201), "{}", made.head);
        for (clip, times) in clips {
            let times = times.map(|(a, b)| (a.to_string(), b.to_string()));
            let mut headers = Vec::new();
            if let Some((a, b)) = &times {
                headers.push(("X-Object-Meta-Starttime", a.as_str()));
                headers.push(("X-Object-Meta-Stoptime", b.as_str()));
            }
            let put = self
                .send("PUT", &format!("{name}/{clip}"), &headers, b"x")
                .await;
            assert_eq!(put.status, Some(201), "{}", put.head);
        }
        let stop = stop.to_string();
        self.send(
            "POST",
            name,
            &[
                ("X-Container-Meta-Status", "Complete"),
                ("X-Container-Meta-Stoptime", &stop),
            ],
            b"",
        )
        .await
    }

    /// A clip of [`RECORDING`] named `name` holding `bytes`.
    pub async fn clip(&self, name: &str, bytes: &[u8]) -> RawAnswer {
        let path = format!("{RECORDING}/{name}");
        self.send(
            "PUT",
            &path,
            &[("X-Object-Meta-Containertype", "mp4")],
            bytes,
        )
        .await
    }

    /// `Status=Complete` with the stop time the spec sends with it.
    pub async fn complete(&self) -> RawAnswer {
        self.send(
            "POST",
            RECORDING,
            &[
                ("X-Container-Meta-Status", "Complete"),
                ("X-Container-Meta-Stoptime", "1787485700"),
            ],
            b"",
        )
        .await
    }

    pub async fn objects(&self, container: &str) -> Vec<AxisObject> {
        self.w
            .server
            .deployment
            .catalog
            .axis_objects("scu-1", container)
            .await
            .unwrap()
    }

    /// An object's bytes as they arrived: its blob (zeros where the header
    /// was) opened with the age header from the catalog and the evidence key.
    pub fn open(&self, object: &AxisObject) -> Vec<u8> {
        open_object(&self.w.data, PASS, object)
    }

    /// The Axis listener's audit entries: action, outcome, detail.
    pub async fn entries(&self) -> Vec<(String, String, String)> {
        audit_events(&self.w)
            .await
            .into_iter()
            .filter(|e| e.action.starts_with("axis.") && e.actor.starts_with("axis:"))
            .map(|e| {
                (
                    e.action,
                    format!("{:?}", e.outcome).to_lowercase(),
                    e.detail.unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// An object of the deployment in `data` (blobs in `DATA/blobs`) as it
/// arrived: its blob (zeros where the header was) opened with the age
/// header from the catalog and the evidence key.
pub fn open_object(data: &std::path::Path, passphrase: &str, object: &AxisObject) -> Vec<u8> {
    let mut blob = std::fs::read(data.join("blobs").join(&object.blob_key)).unwrap();
    assert!(blob[..object.age_header.len()].iter().all(|b| *b == 0));
    blob[..object.age_header.len()].copy_from_slice(&object.age_header);
    let identity = custos_keys::EvidenceKeyStore::new(data)
        .unseal(&SecretString::from(passphrase.to_owned()))
        .unwrap();
    let decryptor = age::Decryptor::new(&blob[..]).unwrap();
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut out).unwrap();
    out
}

/// An answer's body: the refusal's `code: reason`.
pub fn reason(answer: &RawAnswer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Bytes no file on the server may hold in the clear.
fn clip_bytes(seed: u8, len: usize) -> Vec<u8> {
    let mut out = b"ftypisom-custos-plaintext-marker".to_vec();
    out.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    out
}

/// Runs `swift_flow.py` against the destination and returns what it saw.
fn swift_flow(scu: &Scu, clips: [&PathBuf; 2]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/axis/swift_flow.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(scu.auth_url())
        .args(["scu-1", &scu.key])
        .arg(&scu.cert)
        .args(clips)
        .output()
        .expect("python3 (./test.sh installs python-swiftclient)");
    assert!(
        out.status.success(),
        "swift_flow.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The flow run once: the site, the clips sent and what swiftclient saw.
struct Flow {
    scu: Scu,
    clips: [Vec<u8>; 2],
    seen: serde_json::Value,
}

async fn flow() -> Flow {
    let scu = scu().await;
    let clips = [clip_bytes(1, 300_000), clip_bytes(2, 1_100_000)];
    let paths = [0, 1].map(|i| scu.w.tmp.path().join(format!("clip{i}.mp4")));
    for (path, bytes) in paths.iter().zip(&clips) {
        std::fs::write(path, bytes).unwrap();
    }
    let seen = tokio::task::block_in_place(|| swift_flow(&scu, [&paths[0], &paths[1]]));
    Flow { scu, clips, seen }
}

#[tokio::test(flavor = "multi_thread")]
async fn swiftclient_reads_the_system_objects_with_their_md5() {
    let f = flow().await;
    let caps = &f.seen["Capabilities.json"];
    assert_eq!(caps["etag_is_md5"], true);
    assert_eq!(caps["json"]["Store"]["StoreRejectedContent"], true);
    assert_eq!(caps["json"]["Store"]["StoreGNSSTrackRecording"], true);
    assert_eq!(caps["json"]["StoreAndRead"]["StoreUserIDKey"], false);
    let categories = &f.seen["Categories.json"];
    assert_eq!(categories["etag_is_md5"], true);
    assert_eq!(
        categories["json"],
        serde_json::json!([{"Name": "standard", "Id": "standard"}])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn swiftclient_stores_a_recording_and_its_clips_come_back_byte_for_byte() {
    let f = flow().await;
    assert_eq!(f.seen["container_put"], 201);
    assert_eq!(f.seen["complete"], 204);
    let etags = &f.seen["etags"];
    assert_eq!(etags["1787485620_4711.mp4"], md5_hex(&f.clips[0]));
    assert_eq!(
        etags["1787485660_4711.mp4"],
        md5_hex(&f.clips[1]),
        "chunked"
    );
    let objects = f.scu.objects(RECORDING).await;
    let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "1787485620_4711.key",
            "1787485620_4711.mp4",
            "1787485660_4711.mp4",
            "20260823_114700_4711_ACCC8EF0A1B2_gpstrail.json",
            "bookmark_1787485630_1",
        ]
    );
    for (object, clip) in objects[1..3].iter().zip(&f.clips) {
        assert_eq!(&f.scu.open(object), clip);
        assert_eq!(object.length, clip.len() as u64);
        assert_eq!(object.md5, md5_hex(clip));
    }
    assert_eq!(f.scu.open(&objects[4]), "Ruzie bij de ingang".as_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_file_of_the_server_holds_a_clip_in_the_clear() {
    let f = flow().await;
    let marker = b"ftypisom-custos-plaintext-marker";
    let mut stack = vec![f.scu.w.data.clone()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(marker.len()).any(|w| w == marker),
                "{} holds a clip in the clear",
                path.display()
            );
        }
    }
    assert!(files > 5, "the data directory was read ({files} files)");
    let staging = f.scu.w.data.join("staging-axis");
    assert_eq!(files_in(&staging), 0, "nothing is left staged");
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test(flavor = "multi_thread")]
async fn swiftclient_reads_back_the_metadata_as_it_was_sent() {
    let f = flow().await;
    let head = &f.seen["container_head"];
    assert_eq!(head["x-container-meta-status"], "Complete");
    // swiftclient decodes what the server percent-encoded.
    assert_eq!(head["x-container-meta-timezone"], "Europe/Amsterdam");
    assert_eq!(head["x-container-object-count"], "5");
    assert_eq!(
        head["x-container-meta-triggeronlocation"],
        "52.0907 5.1214 8 1787485626"
    );
    let user = &f.seen["user_head"];
    assert_eq!(user["x-object-meta-name"], "Renée de Vries ✓");
    let clip = &f.seen["clip_head"];
    assert_eq!(clip["etag"], md5_hex(&f.clips[0]));
    assert_eq!(clip["content-length"], f.clips[0].len().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_of_the_flow_is_on_record_with_its_connection() {
    let f = flow().await;
    let entries = f.scu.entries().await;
    let count = |action: &str| entries.iter().filter(|(a, _, _)| a == action).count();
    // Two tokens: this fixture's and swiftclient's.
    assert_eq!(count("axis.authenticate"), 2);
    assert_eq!(count("axis.object.get"), 2);
    assert_eq!(count("axis.container.put"), 4);
    assert_eq!(count("axis.object.put"), 8);
    assert_eq!(count("axis.container.post"), 1);
    assert_eq!(count("axis.container.head"), 1);
    assert_eq!(count("axis.object.head"), 2);
    assert!(
        entries.iter().all(|(_, outcome, _)| outcome == "ok"),
        "{entries:?}"
    );
    assert!(entries
        .iter()
        .any(|(a, _, d)| a == "axis.object.put" && d == "object 1787485620_4711.mp4; stored"));
}
