//! One server story, run unchanged on every storage combination: SQLite +
//! local files (the default) and PostgreSQL + an S3-compatible store (a
//! regional deployment). Each run asserts which backends it really used.

use crate::common::*;
use custos_camera::CameraDir;
use custos_catalog::IncidentKind;
use custos_format::{Handover, Manifest, SignedManifest};
use custos_keys::secrecy::SecretString;

const DAY: i64 = 86_400_000;

/// Docking, listing, purpose-bound playback, a hold, a retention sweep that
/// shreds what is due and spares what is held, and an audit log that
/// verifies: the evidence server's promises on whatever storage it has.
async fn server_story(w: &World) {
    let stored = story_offload(w).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = story_playback(w, &token, &stored).await;
    story_hold_and_sweep(w, &token, &case, &stored).await;
}

/// Two recordings docked: stored whole, in order.
async fn story_offload(w: &World) -> Vec<custos_catalog::Recording> {
    let d = &w.server.deployment;
    let cam = w.camera("cam-b", 2, true).await;
    let (report, _) = w.offload(&cam).await;
    assert_eq!(
        (report.stored, report.wiped),
        (2, 2),
        "{:?}",
        report.refused
    );
    let mut stored = d.catalog.recordings().await.unwrap();
    stored.sort_by_key(|r| r.sequence);
    assert_eq!(stored.len(), 2);
    for r in &stored {
        assert_eq!(
            d.blobs.size(&r.camera().unwrap().blob_key).await.unwrap(),
            Some(r.camera().unwrap().ciphertext_length)
        );
    }

    stored
}

/// Playback decrypts what the store holds, for a purpose and a case: the
/// case made for it.
async fn story_playback(w: &World, token: &str, stored: &[custos_catalog::Recording]) -> String {
    let d = &w.server.deployment;
    let case = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(token),
            Some(serde_json::json!({"kind": "complaint", "label": "story"})),
            &[],
        )
        .await
        .json()["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.link(token, &case, stored[0].recording_id).await;
    let video = w
        .call(
            "GET",
            &format!(
                "/api/v1/recordings/{}/video?purpose=complaint&case={case}",
                stored[0].recording_id
            ),
            Some(token),
            None,
            &[],
        )
        .await;
    assert_eq!(video.status, 200);
    let identity = custos_keys::EvidenceKeyStore::new(&w.data)
        .unseal(&SecretString::from(PASS.to_owned()))
        .unwrap();
    let first = stored[0].camera().unwrap();
    let stored_bytes = d
        .blobs
        .get_range(&first.blob_key, 0..first.ciphertext_length)
        .await
        .unwrap();
    let mut file = first.age_header.clone();
    file.extend_from_slice(&stored_bytes[first.age_header.len()..]);
    let signed =
        custos_format::SignedManifest::parse(&first.manifest, &first.manifest_signature).unwrap();
    let mut plaintext = Vec::new();
    custos_format::verify::decrypt_recording(&signed, &file[..], &identity, &mut plaintext)
        .unwrap();
    assert_eq!(
        video.body, plaintext,
        "the player gets exactly what the camera recorded"
    );
    let ranged = w
        .call(
            "GET",
            &format!(
                "/api/v1/recordings/{}/video?purpose=complaint&case={case}",
                stored[0].recording_id
            ),
            Some(token),
            None,
            &[("range", "bytes=1000-1999")],
        )
        .await;
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.body, plaintext[1000..2000]);

    case
}

async fn story_hold_and_sweep(
    w: &World,
    token: &str,
    case: &str,
    stored: &[custos_catalog::Recording],
) {
    let d = &w.server.deployment;
    // The second recording is held; after 40 days the first is shredded.
    let held = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(token),
            Some(serde_json::json!({"recording_id": stored[1].recording_id, "reason": "story"})),
            &[],
        )
        .await;
    assert_eq!(held.status, 201);
    let report = w.sweep(w.now().plus_millis(40 * DAY)).await;
    assert_eq!(report.deleted, 1);
    assert!(d
        .catalog
        .recording(stored[0].recording_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        d.blobs
            .size(&stored[0].camera().unwrap().blob_key)
            .await
            .unwrap(),
        None
    );
    assert!(d
        .catalog
        .recording(stored[1].recording_id)
        .await
        .unwrap()
        .is_some());

    // Every step is in one audit log that verifies.
    let verified = custos_server::audit::verify_stored(&*d.catalog, d.audit.verifier())
        .await
        .unwrap()
        .unwrap();
    assert!(verified.size > 10, "{}", verified.size);
}

/// A deletion is final, whatever copy comes back: a camera copied before it
/// was offloaded (the state a dock leaves when it dies after the server
/// stored a recording but before the receipt reached the camera) docks
/// after the retention sweep. Nothing of the deleted recordings is stored
/// again — no blob, no age header, no staging file — the copy is wiped
/// against signed deletion receipts, each offer is an incident, and the
/// copy's later recordings are offloaded as usual. One recording the
/// catalog will not delete does not keep the others past their time.
async fn deletion_story(w: &World) {
    let (cam, copy, stored) = deletion_offloaded(w).await;
    deletion_swept(w, &stored).await;
    deletion_copy_docks(w, &copy, &stored).await;
    deletion_replays_refused(w, &cam, &stored).await;
    let d = &w.server.deployment;
    // The copy's next recording is offloaded as usual.
    record(&copy, 1);
    let (report, _) = w.offload(&copy).await;
    assert_eq!((report.stored, report.wiped), (1, 1), "{report:?}");
    assert!(report.interrupted.is_none() && report.refused.is_empty());

    let verified = custos_server::audit::verify_stored(&*d.catalog, d.audit.verifier())
        .await
        .unwrap()
        .unwrap();
    assert!(verified.size > 10);
}

/// cam-d's three recordings offloaded, and a copy of the camera taken
/// before: (camera, copy, stored in order).
async fn deletion_offloaded(w: &World) -> (CameraDir, CameraDir, Vec<custos_catalog::Recording>) {
    let d = &w.server.deployment;
    let cam = w.camera("cam-d", 3, true).await;
    let copy = CameraDir::new(w.tmp.path().join("cam-d-copy"));
    copy_dir(cam.root(), copy.root());
    let (report, _) = w.offload(&cam).await;
    assert_eq!((report.stored, report.wiped), (3, 3), "{report:?}");
    let mut stored = d.catalog.recordings().await.unwrap();
    stored.retain(|r| r.device_id == "cam-d");
    stored.sort_by_key(|r| r.sequence);

    (cam, copy, stored)
}

/// The sweep deletes the three after 40 days, whatever one bad row does.
async fn deletion_swept(w: &World, stored: &[custos_catalog::Recording]) {
    let d = &w.server.deployment;
    // A row the catalog will refuse to replace with a tombstone: its
    // device and sequence already have one (written behind the server's
    // back, as a damaged or hand-edited catalog would have it).
    let mut ghost = stored[0].clone();
    ghost.recording_id = uuid::Uuid::now_v7();
    ghost.sequence = 99;
    ghost.camera_mut().unwrap().blob_key = "cam-d/ghost-1.age".into();
    d.catalog.commit_recording(&ghost, None).await.unwrap();
    let gone = d
        .catalog
        .replace_with_tombstones(&[ghost.tombstone(w.now(), "retention-period")])
        .await
        .unwrap();
    assert_eq!(gone, vec![ghost.recording_id]);
    let mut bad = ghost.clone();
    bad.recording_id = uuid::Uuid::now_v7();
    bad.camera_mut().unwrap().blob_key = "cam-d/ghost-2.age".into();
    d.catalog.commit_recording(&bad, None).await.unwrap();

    let report = w.sweep(w.now().plus_millis(40 * DAY)).await;
    assert_eq!(
        report.deleted, 3,
        "the bad row stopped the sweep: {report:?}"
    );
    assert!(d
        .catalog
        .recording(bad.recording_id)
        .await
        .unwrap()
        .is_some());
    let incidents = d.catalog.incidents().await.unwrap();
    let failed: Vec<_> = incidents
        .iter()
        .filter(|i| i.kind == IncidentKind::SweepFailed)
        .collect();
    assert_eq!(failed.len(), 1, "{incidents:?}");
    assert_eq!(failed[0].recording_id, Some(bad.recording_id));
    for r in stored {
        assert!(d.catalog.recording(r.recording_id).await.unwrap().is_none());
        assert_eq!(
            d.blobs.size(&r.camera().unwrap().blob_key).await.unwrap(),
            None
        );
    }
}

async fn deletion_copy_docks(w: &World, copy: &CameraDir, stored: &[custos_catalog::Recording]) {
    let d = &w.server.deployment;
    // The copy docks: every recording is answered with a deletion receipt.
    let (report, sent) = w.offload(copy).await;
    assert_eq!(
        (
            report.stored,
            report.already_stored,
            report.deleted_on_server,
            report.wiped
        ),
        (0, 0, 3, 3),
        "{report:?}"
    );
    assert!(report.refused.is_empty() && report.interrupted.is_none());
    assert_eq!(sent, 0, "not a byte of a deleted recording was sent");
    assert!(copy.pending_recordings().unwrap().is_empty());
    for paths in copy.receipts().unwrap() {
        let kept = Handover::parse(
            &std::fs::read(&paths.receipt).unwrap(),
            &std::fs::read(&paths.receipt_signature).unwrap(),
        )
        .unwrap();
        match kept {
            Handover::Deleted(r) => {
                r.verify(&d.ingest.receipt_public()).unwrap();
                assert_eq!(r.content().reason, "retention-period");
            }
            Handover::Stored(_) => panic!("the copy holds an ingest receipt"),
        }
    }
    for r in stored {
        assert!(d.catalog.recording(r.recording_id).await.unwrap().is_none());
        assert!(d
            .catalog
            .upload_for_recording(r.recording_id)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            d.blobs.size(&r.camera().unwrap().blob_key).await.unwrap(),
            None
        );
    }
    let offered: Vec<_> = d
        .catalog
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == IncidentKind::DeletedOffered)
        .collect();
    assert_eq!(offered.len(), 3, "{offered:?}");
    let staging = d.ingest.staging_dir();
    assert_eq!(files(staging), 0, "nothing was staged");
}

async fn deletion_replays_refused(
    w: &World,
    cam: &CameraDir,
    stored: &[custos_catalog::Recording],
) {
    let d = &w.server.deployment;
    let staging = d.ingest.staging_dir();
    // The same sequence with other content (re-signed with the camera's
    // own key) is a replay, not a deletion receipt.
    let key = cam.signing_key().unwrap();
    let mut forged: Manifest =
        serde_json::from_slice(&stored[0].camera().unwrap().manifest).unwrap();
    forged.firmware = "forged".into();
    let forged = SignedManifest::sign(forged, &key).unwrap();
    let dock = &w.dock_config.dock_id;
    let refused = d
        .ingest
        .offer(dock, forged.bytes(), forged.signature())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), custos_server::http::Code::Replay);

    // An upload an older server began for a deleted recording (its row
    // holding the age header) is discarded, with its staged file, when it
    // is completed, and answered `recording-deleted`.
    let second = stored[1].camera().unwrap();
    let upload = custos_catalog::Upload {
        upload_id: uuid::Uuid::now_v7(),
        recording_id: stored[1].recording_id,
        device_id: "cam-d".into(),
        sequence: stored[1].sequence,
        manifest: second.manifest.clone(),
        manifest_signature: second.manifest_signature.clone(),
        dock_id: dock.clone(),
        created_at: w.now(),
        age_header: Some(second.age_header.clone()),
    };
    d.catalog.create_upload(&upload).await.unwrap();
    let part = staging.join(format!("{}.part", upload.upload_id));
    std::fs::write(&part, b"ciphertext").unwrap();
    let refused = d.ingest.complete(dock, upload.upload_id).await.unwrap_err();
    assert_eq!(refused.code(), custos_server::http::Code::RecordingDeleted);
    assert!(d.catalog.upload(upload.upload_id).await.unwrap().is_none());
    assert!(!part.exists());

    // A staged file no upload names (its row went with a deleted
    // recording) goes at the second maintenance round that finds it.
    let stray = staging.join(format!("{}.part", uuid::Uuid::now_v7()));
    std::fs::write(&stray, b"age-encryption.org/v1 ...").unwrap();
    assert_eq!(d.ingest.remove_orphaned_staging().await.unwrap(), 0);
    assert!(stray.exists(), "a file may be created just before its row");
    assert_eq!(d.ingest.remove_orphaned_staging().await.unwrap(), 1);
    assert!(!stray.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_is_final_on_sqlite_and_local_files() {
    let w = world().await;
    deletion_story(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_is_final_on_postgresql_and_s3() {
    let w = world_on_postgres_and_s3("deletion").await;
    assert_eq!(w.server.deployment.catalog.backend(), "postgres");
    deletion_story(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_story_on_sqlite_and_local_files() {
    let w = world().await;
    assert_eq!(w.server.deployment.catalog.backend(), "sqlite");
    assert_eq!(w.server.deployment.blobs.backend(), "local");
    server_story(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_story_on_postgresql_and_s3() {
    let w = world_on_postgres_and_s3("story").await;
    assert_eq!(w.server.deployment.catalog.backend(), "postgres");
    assert_eq!(w.server.deployment.blobs.backend(), "s3");
    // The CLI's view of the same data directory is the same storage.
    assert_eq!(w.admin().await.catalog().backend(), "postgres");
    server_story(&w).await;
    assert!(
        !w.data.join("blobs").exists()
            || std::fs::read_dir(w.data.join("blobs"))
                .unwrap()
                .next()
                .is_none(),
        "nothing was written to local blob files"
    );
    assert!(
        !w.data.join("catalog.sqlite").exists(),
        "no SQLite catalog was made"
    );
}

/// Several `custos serve` nodes on one PostgreSQL and one S3 store: their
/// audit appends form one log; the retention sweep runs on one node at a
/// time (a lease); a node killed mid-sweep (abort at a crash point, holding
/// the lease) has its sweep finished by another node once the lease expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_one_log_and_one_sweeper_and_a_node_killed_mid_sweep_is_finished_by_another() {
    // Recordings are due an hour after they end: the test camera's clock
    // stands earlier today, so they are due at once.
    let w = world_on_postgres_and_s3_with(
        "nodes",
        custos_server::retention::RetentionPolicy::new(3_600_000),
    )
    .await;
    let a = w.server.deployment.clone();
    let b_server = second_node(&w).await;
    let b = b_server.deployment.clone();
    assert_ne!(a.node_id, b.node_id);
    both_append(&w, &a, &b).await;

    let cam = w.camera("cam-n", 3, true).await;
    let (report, _) = w.offload(&cam).await;
    assert_eq!(report.stored, 3);
    let recordings = a.catalog.recordings().await.unwrap();
    assert!(recordings.iter().all(|r| r.delete_after < w.now()), "due");

    // A third `custos serve` node on the same deployment starts, takes the
    // sweep's lease in its first maintenance round, and is killed (abort,
    // like kill -9) between its tombstones and the blobs' deletion.
    serve_killed_mid_sweep(&w);
    assert!(
        a.catalog.recordings().await.unwrap().is_empty(),
        "rows gone, keys shredded"
    );
    for r in &recordings {
        assert!(
            a.blobs
                .size(&r.camera().unwrap().blob_key)
                .await
                .unwrap()
                .is_some(),
            "blobs left behind"
        );
    }
    let (holder, until) = a
        .catalog
        .lease(custos_server::SWEEP_LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(
        holder.starts_with("node-") && holder != a.node_id && holder != b.node_id,
        "the killed node holds it: {holder}"
    );

    // While the dead node's lease runs, no other node sweeps.
    assert!(custos_server::maintenance_once(&a).await.swept.is_none());
    assert!(custos_server::maintenance_once(&b).await.swept.is_none());
    // Once it expired, a node takes over and finishes the deletions.
    w.clock_offset.store(
        until.as_millis() - custos_format::UtcMillis::now().as_millis() + 60_000,
        std::sync::atomic::Ordering::SeqCst,
    );
    let finished = custos_server::maintenance_once(&b)
        .await
        .swept
        .expect("b sweeps");
    assert_eq!((finished.deleted, finished.finished_earlier), (0, 3));
    for r in &recordings {
        assert_eq!(
            a.blobs.size(&r.camera().unwrap().blob_key).await.unwrap(),
            None
        );
    }
    assert_eq!(
        a.catalog.lease(custos_server::SWEEP_LEASE).await.unwrap(),
        None,
        "released"
    );
    let again = custos_server::maintenance_once(&a)
        .await
        .swept
        .expect("a sweeps");
    assert_eq!(
        (again.deleted, again.finished_earlier),
        (0, 0),
        "nothing twice"
    );

    one_log_of_every_node(&a).await;
    b_server.shutdown().await;
}

/// Node B: another server on the same deployment (same keys, same storage).
async fn second_node(w: &World) -> custos_server::RunningServer {
    let offset = w.clock_offset.clone();
    let clock: custos_server::Clock = std::sync::Arc::new(move || {
        custos_format::UtcMillis::now()
            .plus_millis(offset.load(std::sync::atomic::Ordering::SeqCst))
    });
    custos_server::start(
        custos_server::ServerConfig {
            axis: None,
            limits: test_limits(),
            storage: custos_server::storage::StorageConfig::resolve(&w.data, None, None).unwrap(),
            data: w.data.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            server_id: "test-city".into(),
            retention: custos_server::retention::RetentionPolicy::new(3_600_000),
            policy: Default::default(),
        },
        &SecretString::from(PASS.to_owned()),
        clock,
    )
    .await
    .unwrap()
}

/// Both nodes append at once; the log stays one tree.
async fn both_append(w: &World, a: &custos_server::Deployment, b: &custos_server::Deployment) {
    let event = |n: usize, node: &str| {
        custos_audit::AuditEvent::new(
            w.now(),
            format!("system:{node}"),
            "test.append",
            custos_audit::Outcome::Ok,
        )
        .detail(format!("{n}"))
    };
    let (ra, rb) = tokio::join!(
        async {
            for n in 0..40 {
                a.audit.record(event(n, "a")).await.unwrap();
            }
        },
        async {
            for n in 0..40 {
                b.audit.record(event(n, "b")).await.unwrap();
            }
        }
    );
    let _ = (ra, rb);
}

fn serve_killed_mid_sweep(w: &World) {
    let killed = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--retention",
            "1h",
            "--data",
        ])
        .arg(&w.data)
        .env("CUSTOS_PASSPHRASE", PASS)
        .env("CUSTOS_CRASH_AT", "1")
        .env("CUSTOS_CRASH_FILTER", "sweeper:after-tombstones")
        .env("CUSTOS_LOG", "warn")
        .env_remove("CUSTOS_DATABASE")
        .env_remove("CUSTOS_BLOBS")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!killed.status.success(), "the node was killed");
    assert!(
        String::from_utf8_lossy(&killed.stderr).contains("crashing at `sweeper:after-tombstones`"),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
}

/// One log: entries from both nodes, the CLI and the sweeps, all verified.
async fn one_log_of_every_node(a: &custos_server::Deployment) {
    let verified = custos_server::audit::verify_stored(&*a.catalog, a.audit.verifier())
        .await
        .unwrap()
        .unwrap();
    let entries = a.catalog.audit_entries(0, 100_000).await.unwrap();
    assert_eq!(verified.size, entries.len() as u64);
    let actors: std::collections::BTreeSet<String> = entries
        .iter()
        .map(|e| {
            serde_json::from_slice::<serde_json::Value>(&e.bytes).unwrap()["actor"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for actor in ["system:a", "system:b", "system:sweeper"] {
        assert!(actors.contains(actor), "{actor} in {actors:?}");
    }
}
