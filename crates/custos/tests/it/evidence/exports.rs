//! Export packages: offline verification, approval by a second person, cut-off exports, the export command.

use super::*;

/// Camera cam-x's three recordings; #1 and #3 held for a police request
/// (#2, between them, is not and must not be exported); #1 played for the
/// case; a reviewer (rita) and an admin (adam) signed in; the audit
/// checkpoint as it was before the export.
struct ExportCase {
    w: World,
    recordings: Vec<custos_catalog::Recording>,
    tr: String,
    ta: String,
    case: String,
    path: String,
    old_checkpoint: serde_json::Value,
}

async fn export_case() -> ExportCase {
    let w = world().await;
    let cam = w.camera("cam-x", 3, true).await;
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    assert_eq!(recordings.len(), 3);
    let rita = w.add_user("rita", "reviewer", None).await;
    let adam = w.add_user("adam", "admin", None).await;
    let (tr, ta) = (w.sign_in(&rita).await, w.sign_in(&adam).await);
    let case = w.with_case(&tr, "police-request").await;
    // #1 and #3 are secured; #2 (between them) is not and must not be exported.
    for r in [&recordings[0], &recordings[2]] {
        let hold = w
            .call(
                "POST",
                &format!("/api/v1/cases/{case}/holds"),
                Some(&tr),
                Some(serde_json::json!({"recording_id": r.recording_id, "reason": "PV"})),
                &[],
            )
            .await;
        assert_eq!(hold.status, 201, "{}", hold.json());
    }
    // Someone played #1 for the case before: the package must show it.
    let played = w
        .call(
            "GET",
            &format!(
                "/api/v1/recordings/{}/video?purpose=investigation&case={case}",
                recordings[0].recording_id
            ),
            Some(&tr),
            None,
            &[("range", "bytes=0-99")],
        )
        .await;
    assert_eq!(played.status, 206);
    let old_checkpoint = w
        .call(
            "GET",
            "/api/v1/audit/checkpoint",
            Some(&w.sign_in(&w.add_user("otto", "auditor", None).await).await),
            None,
            &[],
        )
        .await;
    assert_eq!(old_checkpoint.status, 200);
    let path = format!("/api/v1/cases/{case}/exports");
    ExportCase {
        old_checkpoint: old_checkpoint.json(),
        w,
        recordings,
        tr,
        ta,
        case,
        path,
    }
}

/// An export request's body, with `extra`'s fields.
fn request(extra: serde_json::Value) -> serde_json::Value {
    let mut body = serde_json::json!({"purpose": "investigation", "recipient": "Politie Rotterdam, PV-2026-1"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// The package as delivered (to a one-time passphrase), with the server's
/// public key beside it.
struct Exported {
    body: Vec<u8>,
    export_id: String,
    tmp: tempfile::TempDir,
    delivered: std::path::PathBuf,
    server_pem: std::path::PathBuf,
}

async fn exported(c: &ExportCase) -> Exported {
    let (w, path, tr) = (&c.w, &c.path, &c.tr);
    let answer = w
        .call(
            "POST",
            path,
            Some(tr),
            Some(request(serde_json::json!({"passphrase": EXPORT_PASS}))),
            &[],
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let export_id = answer.header("custos-export-id").unwrap().to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let delivered = tmp.path().join("package.tar.age");
    std::fs::write(&delivered, &answer.body).unwrap();
    let server_pem = tmp.path().join("server.pem");
    std::fs::write(
        &server_pem,
        w.server.deployment.keys.receipt_public().to_pem(),
    )
    .unwrap();
    Exported {
        body: answer.body,
        export_id,
        tmp,
        delivered,
        server_pem,
    }
}

/// The package decrypted and unpacked into a directory.
fn unpacked(e: &Exported) -> std::path::PathBuf {
    let tar = open_package(&e.body, EXPORT_PASS);
    let tar_path = e.tmp.path().join("package.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    let good = e.tmp.path().join("good");
    std::fs::create_dir(&good).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-xmf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&good)
        .status()
        .unwrap()
        .success());
    good
}

/// docs/VERIFY.md's checks, with standard tools alone.
fn standard(dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new("sh")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/verify-export-with-standard-tools.sh"
        ))
        .arg(dir)
        .output()
        .unwrap()
}

const VIDEO1: &str = "recordings/cam-x-000001/video.mp4";

/// Export requests out of bounds, each with who asks, the status and the
/// error code it must get: an admin, a purpose not on the list, no or a
/// weak protection, a bad recipient key, no recipient, a recording not
/// secured, an unknown time zone.
fn out_of_bounds(c: &ExportCase) -> Vec<(&String, serde_json::Value, u16, &'static str)> {
    let ExportCase {
        recordings, tr, ta, ..
    } = c;
    vec![
        (
            ta,
            request(serde_json::json!({"passphrase": EXPORT_PASS})),
            403,
            "forbidden",
        ),
        (
            tr,
            request(serde_json::json!({"passphrase": EXPORT_PASS, "purpose": "curiosity"})),
            403,
            "purpose-not-allowed",
        ),
        (
            tr,
            request(serde_json::json!({})),
            400,
            "protection-required",
        ),
        (
            tr,
            request(serde_json::json!({"passphrase": "short"})),
            400,
            "protection-required",
        ),
        (
            tr,
            request(serde_json::json!({"age_recipient": "age1notakey"})),
            400,
            "bad-recipient-key",
        ),
        (
            tr,
            request(serde_json::json!({"passphrase": EXPORT_PASS, "recipient": " "})),
            400,
            "recipient-required",
        ),
        (
            tr,
            request(
                serde_json::json!({"passphrase": EXPORT_PASS, "recordings": [recordings[1].recording_id]}),
            ),
            409,
            "not-secured",
        ),
        (
            tr,
            request(
                serde_json::json!({"passphrase": EXPORT_PASS, "time_zone": "Mars/Olympus_Mons"}),
            ),
            400,
            "bad-time-zone",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_requests_out_of_bounds_are_refused_audited_and_write_nothing() {
    let c = export_case().await;
    let ExportCase { w, tr, path, .. } = &c;
    let before = audit(w).await.len();
    for (token, body, status, code) in out_of_bounds(&c) {
        let answer = w
            .call("POST", path, Some(token), Some(body.clone()), &[])
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{body}"
        );
    }
    let refusals = audit(w).await;
    assert_eq!(refusals.len(), before + 8);
    assert!(refusals[before..]
        .iter()
        .all(|e| e.action == "export.create" && e.outcome == custos_audit::Outcome::Refused));
    for garbage in [
        serde_json::json!([1]),
        serde_json::json!({"purpose": "investigation"}),
        request(serde_json::json!({"passphrase": EXPORT_PASS, "extra": 1})),
    ] {
        let answer = w
            .call("POST", path, Some(tr), Some(garbage.clone()), &[])
            .await;
        assert_eq!(answer.status, 400, "{garbage}");
    }
    let unknown = w
        .call(
            "POST",
            "/api/v1/cases/no-such-case/exports",
            Some(tr),
            Some(request(serde_json::json!({"passphrase": EXPORT_PASS}))),
            &[],
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (403, "case-unknown")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_age_encrypted_audited_per_recording_and_passes_custos_verify() {
    let c = export_case().await;
    let ExportCase { w, case, .. } = &c;
    let e = exported(&c).await;
    let (export_id, delivered, server_pem) = (&e.export_id, &e.delivered, &e.server_pem);
    assert!(e.body.starts_with(b"age-encryption.org/v1"));
    let events = audit(w).await;
    let made: Vec<_> = events
        .iter()
        .filter(|e| {
            e.detail
                .as_deref()
                .is_some_and(|d| d.contains(export_id.as_str()))
        })
        .collect();
    assert_eq!(made.len(), 3, "one entry for the export, one per recording");
    assert!(made
        .iter()
        .all(|e| e.purpose.as_deref() == Some("investigation")
            && e.case.as_deref() == Some(case.as_str())));
    let log_key = w.server.deployment.audit.verifier().to_vkey();
    let (code, out) = verify_package(
        delivered,
        &[
            "--server-key",
            server_pem.to_str().unwrap(),
            "--log-key",
            &log_key,
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERDICT: the package is complete"), "{out}");
    for item in [
        "recording cam-x #1",
        "recording cam-x #3",
        "audit checkpoint",
        "SHA256SUMS.sig",
    ] {
        assert!(out.contains(&format!("ok   {item}")), "{item}: {out}");
    }
    assert!(out.contains("the camera's first recording"), "{out}");
    assert!(
        out.contains("next recording #2 links to it (camera-signed)"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_passphrase_or_a_damaged_file_gets_a_clear_error_and_no_verdict() {
    let c = export_case().await;
    let e = exported(&c).await;
    let (tmp, delivered) = (&e.tmp, &e.delivered);
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["verify"])
        .arg(delivered)
        .env("CUSTOS_EXPORT_PASSPHRASE", "not the passphrase at all")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("passphrase does not open"));
    let mut cut = e.body.clone();
    cut.truncate(cut.len() - 1000);
    let cut_path = tmp.path().join("cut.tar.age");
    std::fs::write(&cut_path, &cut).unwrap();
    assert_eq!(verify_package(&cut_path, &[]).0, 2);
    let mut flipped = e.body.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    let flipped_path = tmp.path().join("flipped.tar.age");
    std::fs::write(&flipped_path, &flipped).unwrap();
    assert_eq!(verify_package(&flipped_path, &[]).0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unpacked_package_holds_the_originals_and_a_chain_of_custody_report() {
    let c = export_case().await;
    let ExportCase { w, recordings, .. } = &c;
    let e = exported(&c).await;
    let (tmp, server_pem) = (&e.tmp, &e.server_pem);
    let tar = open_package(&e.body, EXPORT_PASS);
    let tar_path = tmp.path().join("package.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    assert_eq!(verify_package(&tar_path, &[]).0, 0);
    let good = tmp.path().join("good");
    std::fs::create_dir(&good).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-xmf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&good)
        .status()
        .unwrap()
        .success());
    for r in [&recordings[0], &recordings[2]] {
        let video =
            std::fs::read(good.join(format!("recordings/cam-x-{:06}/video.mp4", r.sequence)))
                .unwrap();
        assert_eq!(video, plaintext(w, r));
    }
    assert!(!good.join("recordings/cam-x-000002").exists());
    let report = std::fs::read_to_string(good.join("report.html")).unwrap();
    assert!(report.contains("<html lang=\"en\">") && report.contains("Chain-of-custody report"));
    assert!(
        report.contains("All times: UTC.") && report.contains(" UTC (+00:00)"),
        "{report}"
    );
    assert!(
        report.contains("next recording #2: its signed manifest is included"),
        "{report}"
    );
    assert!(
        report.contains("recording.play")
            && report.contains("recording.export")
            && report.contains("PV-2026-1")
    );
    let (code, out) = verify_package(&good, &["--server-key", server_pem.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_tools_alone_verify_the_package_and_show_the_server_key() {
    let c = export_case().await;
    let w = &c.w;
    let e = exported(&c).await;
    let good = unpacked(&e);
    let checked = standard(&good);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(String::from_utf8_lossy(&checked.stdout).contains(&format!(
        "server key SHA-256 (compare with the published one): {}",
        hex::encode(custos_format::sha256(
            &w.server.deployment.keys.receipt_public().to_bytes()
        ))
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_single_change_to_the_package_fails_naming_what_changed() {
    let c = export_case().await;
    let e = exported(&c).await;
    let good = unpacked(&e);
    let (tmp, old_checkpoint) = (&e.tmp, &c.old_checkpoint);
    let manifest3 = "recordings/cam-x-000003/manifest.json";
    let audit1 = "recordings/cam-x-000001/audit.json";
    type Change = Box<dyn Fn(&std::path::Path)>;
    let changes: Vec<(&str, Change, &str)> = vec![
        (
            "a byte of a video",
            Box::new(move |d| {
                let p = d.join(VIDEO1);
                let mut b = std::fs::read(&p).unwrap();
                b[1000] ^= 0x20;
                std::fs::write(p, b).unwrap();
            }),
            VIDEO1,
        ),
        (
            "a manifest field",
            Box::new(move |d| {
                let p = d.join(manifest3);
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(p, t.replacen("\"sequence\":3", "\"sequence\":4", 1)).unwrap();
            }),
            manifest3,
        ),
        (
            "an audit entry removed",
            Box::new(move |d| {
                let p = d.join(audit1);
                let mut a: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                a["entries"].as_array_mut().unwrap().remove(0);
                std::fs::write(p, serde_json::to_vec_pretty(&a).unwrap()).unwrap();
            }),
            audit1,
        ),
        (
            "a file added",
            Box::new(|d| {
                std::fs::write(d.join("recordings/cam-x-000001/extra.mp4"), b"x").unwrap()
            }),
            "recordings/cam-x-000001/extra.mp4",
        ),
        (
            "a file removed",
            Box::new(|d| {
                std::fs::remove_file(d.join("recordings/cam-x-000003/receipt.sig")).unwrap()
            }),
            "recordings/cam-x-000003/receipt.sig",
        ),
    ];
    let old_note = old_checkpoint["checkpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!old_note.is_empty(), "{}", old_checkpoint);
    let mut changes = changes;
    changes.push((
        "the checkpoint swapped for an older one",
        Box::new(move |d| std::fs::write(d.join("audit/checkpoint.txt"), &old_note).unwrap()),
        "audit/checkpoint.txt",
    ));
    for (n, (what, change, item)) in changes.iter().enumerate() {
        let copy = tmp.path().join(format!("bad-{n}"));
        copy_tree(&good, &copy);
        change(&copy);
        let (code, out) = verify_package(&copy, &[]);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains(&format!("FAIL {item}")),
            "{what} should name {item}: {out}"
        );
        assert!(out.contains("VERDICT: NOT VERIFIED"), "{what}: {out}");
        let checked = standard(&copy);
        assert!(!checked.status.success(), "standard tools passed {what}");
    }
}

/// A forger who changes a video and re-signs SHA256SUMS with a key of
/// their own: the receipts betray them, and so does the published key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forger_who_re_signs_with_a_key_of_their_own_is_betrayed_by_the_receipts() {
    let c = export_case().await;
    let e = exported(&c).await;
    let good = unpacked(&e);
    let (tmp, server_pem) = (&e.tmp, &e.server_pem);
    let forged = tmp.path().join("forged");
    copy_tree(&good, &forged);
    {
        let p = forged.join(VIDEO1);
        let mut b = std::fs::read(&p).unwrap();
        b[2000] ^= 1;
        std::fs::write(&p, &b).unwrap();
        let key = custos_format::SigningKey::generate();
        std::fs::write(forged.join("server.pub.pem"), key.verifying_key().to_pem()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("find . -type f ! -name 'SHA256SUMS*' | sed 's|^\\./||' | sort | xargs sha256sum")
            .current_dir(&forged)
            .output()
            .unwrap();
        std::fs::write(forged.join("SHA256SUMS"), &out.stdout).unwrap();
        std::fs::write(forged.join("SHA256SUMS.sig"), key.sign(&out.stdout)).unwrap();
    }
    let (code, out) = verify_package(&forged, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not the server's signature of receipt.json"),
        "{out}"
    );
    let (code, out) = verify_package(&forged, &["--server-key", server_pem.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL server.pub.pem: not the server key you named"),
        "{out}"
    );
    assert!(!standard(&forged).status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_to_the_recipients_age_key_opens_with_the_standard_age_cli() {
    let c = export_case().await;
    let ExportCase {
        w,
        recordings,
        tr,
        path,
        ..
    } = &c;
    let tmp = tempfile::tempdir().unwrap();
    let key = age::x25519::Identity::generate();
    let key_file = tmp.path().join("police.key");
    std::fs::write(
        &key_file,
        format!(
            "{}\n",
            custos_keys::secrecy::ExposeSecret::expose_secret(&key.to_string())
        ),
    )
    .unwrap();
    let answer = w
        .call(
            "POST",
            path,
            Some(tr),
            Some(request(serde_json::json!({"age_recipient": key.to_public().to_string(), "recordings": [recordings[2].recording_id]}))),
            &[],
        )
        .await;
    assert_eq!(answer.status, 200);
    let to_key = tmp.path().join("to-key.tar.age");
    std::fs::write(&to_key, &answer.body).unwrap();
    let opened = tmp.path().join("to-key.tar");
    let age_cli = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&key_file)
        .arg("-o")
        .arg(&opened)
        .arg(&to_key)
        .output()
        .unwrap();
    assert!(
        age_cli.status.success(),
        "{}",
        String::from_utf8_lossy(&age_cli.stderr)
    );
    let (code, out) = verify_package(&opened, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok   recording cam-x #3") && !out.contains("recording cam-x #1"),
        "{out}"
    );
    let (code, out) = verify_package(&to_key, &["--identity", key_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

/// A deployment where an export needs a second person's approval: camera
/// cam-y's two recordings, both held for a police request's case; a
/// reviewer (rita) and a privacy officer (petra) signed in.
struct Approval {
    w: World,
    recordings: Vec<custos_catalog::Recording>,
    tr: String,
    tp: String,
    exports: String,
    requests: String,
}

async fn approval() -> Approval {
    let w = world_with(custos_access::Policy {
        export_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let cam = w.camera("cam-y", 2, true).await;
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let (tr, tp) = (w.sign_in(&rita).await, w.sign_in(&petra).await);
    let case = w.with_case(&tr, "police-request").await;
    for r in &recordings {
        w.held(&tr, &case, r.recording_id, "PV").await;
    }
    Approval {
        exports: format!("/api/v1/cases/{case}/exports"),
        requests: format!("/api/v1/cases/{case}/export-requests"),
        w,
        recordings,
        tr,
        tp,
    }
}

/// An export's body for OM Rotterdam, with `extra`'s fields.
fn export_body(extra: serde_json::Value) -> serde_json::Value {
    let mut b = serde_json::json!({"purpose": "investigation", "recipient": "OM Rotterdam", "passphrase": EXPORT_PASS});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

/// Asks for what could not be exported, with the status and code each gets.
fn bad_asks() -> [(serde_json::Value, u16, &'static str); 3] {
    [
        (
            serde_json::json!({"purpose": "curiosity", "recipient": "OM"}),
            403,
            "purpose-not-allowed",
        ),
        (
            serde_json::json!({"purpose": "investigation", "recipient": ""}),
            400,
            "recipient-required",
        ),
        (
            serde_json::json!({"purpose": "investigation", "recipient": "OM", "recordings": [uuid::Uuid::now_v7()]}),
            409,
            "not-secured",
        ),
    ]
}

impl Approval {
    /// Rita asks for the export request `asked`.
    async fn ask(&self, asked: serde_json::Value) -> Answer {
        let (w, requests, tr) = (&self.w, &self.requests, &self.tr);
        w.call("POST", requests, Some(tr), Some(asked), &[]).await
    }

    /// Rita asks for recording #1 for OM Rotterdam: the request's id.
    async fn asked(&self) -> String {
        let asked = self
            .ask(serde_json::json!({"purpose": "investigation", "recipient": "OM Rotterdam", "recordings": [self.recordings[0].recording_id]}))
            .await;
        assert_eq!(asked.status, 201, "{}", asked.json());
        asked.json()["request_id"].as_str().unwrap().to_owned()
    }

    /// `token` approves the request `id`.
    async fn approve(&self, token: &str, id: &str) -> Answer {
        let approve = format!("/api/v1/export-requests/{id}/approve");
        self.w.call("POST", &approve, Some(token), None, &[]).await
    }

    /// Asked by rita and approved by petra: the request's id.
    async fn approved(&self) -> String {
        let request_id = self.asked().await;
        let approved = self.approve(&self.tp, &request_id).await;
        assert_eq!(approved.status, 200, "{}", approved.json());
        request_id
    }

    /// `token` makes the export, with `extra`'s fields.
    async fn export(&self, token: &str, extra: serde_json::Value) -> Answer {
        let body = Some(export_body(extra));
        self.w
            .call("POST", &self.exports, Some(token), body, &[])
            .await
    }

    /// Approved, and made by rita: the package.
    async fn made(&self) -> Vec<u8> {
        let request_id = self.approved().await;
        let made = self
            .export(&self.tr, serde_json::json!({"request_id": request_id}))
            .await;
        assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
        made.body
    }

    /// Request `request_id` with something changed: another recipient,
    /// purpose, or set of recordings.
    fn changed(&self, request_id: &str) -> [serde_json::Value; 3] {
        let r = &self.recordings;
        [
            serde_json::json!({"request_id": request_id, "recipient": "someone else"}),
            serde_json::json!({"request_id": request_id, "purpose": "complaint"}),
            serde_json::json!({"request_id": request_id, "recordings": [r[0].recording_id, r[1].recording_id]}),
        ]
    }

    /// Every step the tests below take, in order, refusals included.
    async fn every_step(&self) {
        let (tr, tp) = (&self.tr, &self.tp);
        self.export(tr, serde_json::json!({})).await;
        for (asked, _, _) in bad_asks() {
            self.ask(asked).await;
        }
        let id = self.asked().await;
        let r0 = self.recordings[0].recording_id;
        self.export(
            tr,
            serde_json::json!({"request_id": id, "recordings": [r0]}),
        )
        .await;
        self.approve(tr, &id).await;
        assert_eq!(self.approve(tp, &id).await.status, 200);
        self.approve(tp, &id).await;
        self.approve(tp, "nonsense").await;
        self.export(tp, serde_json::json!({"request_id": id})).await;
        for changed in self.changed(&id) {
            self.export(tr, changed).await;
        }
        let made = self.export(tr, serde_json::json!({"request_id": id})).await;
        assert_eq!(made.status, 200);
        self.export(tr, serde_json::json!({"request_id": id})).await;
    }
}

/// Where a second person must approve, an export is not made directly;
/// only what could be exported may be asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_approval_no_export_is_made_and_only_what_could_be_exported_may_be_asked_for() {
    let c = approval().await;
    let direct = c.export(&c.tr, serde_json::json!({})).await;
    assert_eq!(
        (direct.status, direct.code().as_str()),
        (409, "approval-required")
    );
    // Asking: only what could be exported may be asked for.
    for (asked, status, code) in bad_asks() {
        let answer = c.ask(asked.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{asked}"
        );
    }
    c.asked().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_request_is_approved_once_by_a_second_person_not_the_requester() {
    let c = approval().await;
    let (w, tr, tp, recordings) = (&c.w, c.tr.clone(), c.tp.clone(), &c.recordings);
    let request_id = c.asked().await;
    let approve = format!("/api/v1/export-requests/{request_id}/approve");
    let unapproved = c
        .export(&tr, serde_json::json!({"request_id": request_id, "recordings": [recordings[0].recording_id]}))
        .await;
    assert_eq!(
        (unapproved.status, unapproved.code().as_str()),
        (409, "not-approved")
    );
    let own = w.call("POST", &approve, Some(&tr), None, &[]).await;
    assert_eq!((own.status, own.code().as_str()), (403, "four-eyes"));
    let approved = w.call("POST", &approve, Some(&tp), None, &[]).await;
    assert_eq!(approved.status, 200, "{}", approved.json());
    assert_eq!(approved.json()["approved_by"], "petra");
    assert_eq!(
        w.call("POST", &approve, Some(&tp), None, &[]).await.status,
        409
    );
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/export-requests/nonsense/approve",
            Some(&tp),
            None,
            &[]
        )
        .await
        .status,
        404
    );
}

/// Only the requester makes it, and only exactly what was approved, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requester_makes_an_approved_export_exactly_as_approved_and_once() {
    let c = approval().await;
    let (tr, tp) = (c.tr.clone(), c.tp.clone());
    let request_id = c.approved().await;
    let by_other = c
        .export(&tp, serde_json::json!({"request_id": request_id}))
        .await;
    assert_eq!(
        (by_other.status, by_other.code().as_str()),
        (404, "request-unknown")
    );
    for changed in c.changed(&request_id) {
        let answer = c.export(&tr, changed.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (409, "request-mismatch"),
            "{changed}"
        );
    }
    let made = c
        .export(&tr, serde_json::json!({"request_id": request_id}))
        .await;
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    let again = c
        .export(&tr, serde_json::json!({"request_id": request_id}))
        .await;
    assert_eq!((again.status, again.code().as_str()), (409, "request-used"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_export_names_its_approver_and_holds_only_the_approved_recording() {
    let c = approval().await;
    let made = c.made().await;
    let tmp = tempfile::tempdir().unwrap();
    let package = tmp.path().join("approved.tar.age");
    std::fs::write(&package, &made).unwrap();
    let (code, out) = verify_package(&package, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("approved by petra"), "{out}");
    assert!(
        out.contains("recording cam-y #1") && !out.contains("recording cam-y #2"),
        "{out}"
    );
}

/// After every step above, the request is listed as used, and the log
/// holds each step that counts, refusals included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_export_request_is_listed_as_used_and_each_step_is_in_the_log() {
    let c = approval().await;
    c.every_step().await;
    let (w, requests, tr) = (&c.w, &c.requests, c.tr.clone());
    let listed = w.call("GET", requests, Some(&tr), None, &[]).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed[0]["used_at"].is_null());
    let events = audit(w).await;
    let count = |action: &str, outcome: custos_audit::Outcome| {
        events
            .iter()
            .filter(|e| e.action == action && e.outcome == outcome)
            .count()
    };
    assert_eq!(count("export.request", custos_audit::Outcome::Ok), 1);
    assert_eq!(count("export.request", custos_audit::Outcome::Refused), 3);
    assert_eq!(count("export.approve", custos_audit::Outcome::Ok), 1);
    assert_eq!(count("export.approve", custos_audit::Outcome::Refused), 1);
    assert_eq!(count("export.create", custos_audit::Outcome::Ok), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_cannot_be_made_whole_is_cut_off_and_audited_as_failed() {
    let w = world().await;
    let cam = w.camera("cam-z", 1, true).await;
    w.offload(&cam).await;
    let recording = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let rita = w.add_user("rita", "reviewer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = w.with_case(&tr, "incident").await;
    w.held(&tr, &case, recording.recording_id, "x").await;
    // The stored ciphertext is damaged after the checks (a disk fault).
    let blob = w
        .data
        .join("blobs")
        .join(&recording.camera().unwrap().blob_key);
    let mut bytes = std::fs::read(&blob).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let agent = agent(&w);
    let url = format!("{}/api/v1/cases/{case}/exports", w.base());
    let (status, body) = tokio::task::spawn_blocking(move || {
        let mut response = agent
            .post(&url)
            .header("authorization", &format!("Bearer {tr}"))
            .send_json(serde_json::json!({"purpose": "investigation", "recipient": "OM", "passphrase": EXPORT_PASS}))
            .unwrap();
        let mut body = Vec::new();
        // The body breaks off: reading it ends in an error or short.
        let _ = std::io::Read::read_to_end(&mut response.body_mut().as_reader(), &mut body);
        (response.status().as_u16(), body)
    })
    .await
    .unwrap();
    assert_eq!(
        status, 200,
        "the checks passed; the failure comes while writing"
    );
    // What arrived does not open: age's last chunk never came.
    let identity = age::scrypt::Identity::new(SecretString::from(EXPORT_PASS.to_owned()));
    let opened = age::Decryptor::new(&body[..]).ok().and_then(|d| {
        let mut reader = d
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .ok()?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut out).ok()
    });
    assert!(opened.is_none(), "a broken-off package must not decrypt");
    // The log says it was not delivered whole: durable before the body ended.
    let failed: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "export.create" && e.outcome == custos_audit::Outcome::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("not delivered whole"));
    assert_eq!(failed[0].case.as_deref(), Some(case.as_str()));
    assert_eq!(failed[0].role.as_deref(), Some("reviewer"));
}

/// `custos export` for scripts: a package to a file, or a download link;
/// refusals are the server's words, and no file is left behind.
/// Camera cam-c's recording held for an incident's case of a reviewer's
/// (rita, signed in); the server's certificate in a file for the command.
struct ExportCommand {
    w: World,
    tmp: tempfile::TempDir,
    cert: std::path::PathBuf,
    case: String,
    tr: String,
}

async fn export_command() -> ExportCommand {
    let w = world().await;
    let cam = w.camera("cam-c", 1, true).await;
    w.offload(&cam).await;
    let recording = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let rita = w.add_user("rita", "reviewer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = w.with_case(&tr, "incident").await;
    w.held(&tr, &case, recording.recording_id, "x").await;
    let tmp = tempfile::tempdir().unwrap();
    let cert = tmp.path().join("server.pem");
    std::fs::write(&cert, &w.server.certificate_pem).unwrap();
    ExportCommand {
        w,
        tmp,
        cert,
        case,
        tr,
    }
}

/// The one-time passphrase `custos export` printed.
fn passphrase_in(stdout: &str) -> String {
    let marker = "One-time passphrase (shown only now): ";
    let at = stdout.find(marker).unwrap() + marker.len();
    stdout[at..at + stdout[at..].find('\n').unwrap()].to_owned()
}

impl ExportCommand {
    /// `custos export` of the case for OM Rotterdam, with `extra`: its exit
    /// code, what it printed and what it complained.
    async fn export(&self, extra: &[&str]) -> (i32, String, String) {
        let (cert, base, token, case) = (
            self.cert.clone(),
            self.w.base(),
            self.tr.clone(),
            self.case.clone(),
        );
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
                .arg("export")
                .args(["--server", &base, "--case", &case, "--for", "OM Rotterdam"])
                .arg("--server-cert")
                .arg(&cert)
                .env("CUSTOS_TOKEN", &token)
                .args(extra)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .unwrap()
    }

    /// A file `name` in the test's directory: its path, as text.
    fn file(&self, name: &str) -> String {
        self.tmp.path().join(name).to_str().unwrap().to_owned()
    }

    /// A package written to the file package.tar.age: its bytes.
    async fn written(&self) -> Vec<u8> {
        let path = self.file("package.tar.age");
        let (code, stdout, stderr) = self
            .export(&["--purpose", "investigation", "--out", &path])
            .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        std::fs::read(&path).unwrap()
    }
}

/// A package to a file, opened with the passphrase printed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_writes_a_package_that_opens_with_the_passphrase_printed_once() {
    let c = export_command().await;
    let path = c.file("package.tar.age");
    let (code, stdout, stderr) = c
        .export(&["--purpose", "investigation", "--out", &path])
        .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let passphrase = passphrase_in(&stdout);
    let package = std::fs::read(&path).unwrap();
    let tar = open_package(&package, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
}

/// An existing file is never overwritten, and the server is not asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_never_overwrites_a_file_and_then_does_not_ask_the_server() {
    let c = export_command().await;
    let w = &c.w;
    let package = c.written().await;
    let path = c.file("package.tar.age");
    let file = std::path::PathBuf::from(&path);
    let exports_before = audit(w)
        .await
        .iter()
        .filter(|e| e.action == "export.create")
        .count();
    let (code, _, stderr) = c
        .export(&["--purpose", "investigation", "--out", &path])
        .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("must not exist yet"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), package);
    assert_eq!(
        audit(w)
            .await
            .iter()
            .filter(|e| e.action == "export.create")
            .count(),
        exports_before
    );
}

/// Refusals: the server's reason, and no file left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_gives_the_servers_reason_for_a_refusal_and_leaves_no_file() {
    let c = export_command().await;
    let other = c.file("other.tar.age");
    for (extra, words) in [
        (
            vec!["--purpose", "curiosity", "--out", &other],
            "not on this deployment's list",
        ),
        (
            vec![
                "--purpose",
                "investigation",
                "--to",
                "age1nonsense",
                "--out",
                &other,
            ],
            "age public key",
        ),
        (
            vec!["--purpose", "investigation", "--link-hours", "100000"],
            "download link is valid from 1 to 168 hours",
        ),
    ] {
        let (code, stdout, stderr) = c.export(&extra).await;
        assert_ne!(code, 0, "{extra:?}: {stdout}");
        assert!(stderr.contains("the server refused the export"), "{stderr}");
        assert!(stderr.contains(words), "{extra:?}: {stderr}");
        assert!(!std::path::Path::new(&other).exists());
    }
}

/// Arguments that do not go together are refused before anything happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_refuses_arguments_that_do_not_go_together_before_anything_happens() {
    let c = export_command().await;
    let other = c.file("other.tar.age");
    let (code, _, stderr) = c
        .export(&[
            "--purpose",
            "investigation",
            "--out",
            &other,
            "--link-downloads",
            "2",
        ])
        .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--link-downloads goes with --link-hours"),
        "{stderr}"
    );
    assert!(!std::path::Path::new(&other).exists());
    for extra in [
        vec!["--purpose", "investigation"],
        vec![
            "--purpose",
            "investigation",
            "--out",
            &other,
            "--link-hours",
            "24",
        ],
    ] {
        let (code, _, stderr) = c.export(&extra).await;
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains("Usage: custos export"), "{stderr}");
        assert!(!std::path::Path::new(&other).exists());
    }
}

/// A download link, printed once; it serves the package.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_makes_a_download_link_printed_once_that_serves_the_package() {
    let c = export_command().await;
    let w = &c.w;
    let (code, stdout, stderr) = c
        .export(&[
            "--purpose",
            "investigation",
            "--link-hours",
            "24",
            "--link-downloads",
            "1",
        ])
        .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let url = {
        let at = stdout.find("Download link (shown only now): ").unwrap() + 32;
        stdout[at..at + stdout[at..].find('\n').unwrap()].to_owned()
    };
    let token = url
        .strip_prefix(&format!("{}/download/", w.base()))
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();
    let passphrase = passphrase_in(&stdout);
    let fetched = w
        .call(
            "POST",
            &format!("/api/v1/downloads/{token}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(fetched.status, 200);
    let tar = open_package(&fetched.body, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
}
