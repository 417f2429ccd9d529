//! Camera → dock → server, in one process: enrollment, verified ingest,
//! receipts, wipe, resume, and every refusal leaving the camera's copy.

use std::sync::atomic::Ordering;

use crate::common::*;
use custos_camera::CameraDir;
use custos_catalog::IncidentKind;
use custos_dock::Dock;
use custos_keys::secrecy::SecretString;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dock_offloads_verifies_receipts_and_wipes() {
    let w = world().await;
    let cam = w.camera("cam-a", 3, true).await;
    let (report, sent) = w.offload(&cam).await;
    assert_eq!(
        (report.stored, report.wiped, report.refused.len()),
        (3, 3, 0),
        "{report:?}"
    );
    assert!(report.interrupted.is_none());
    assert!(sent > 0);
    assert!(
        cam.pending_recordings().unwrap().is_empty(),
        "wiped after receipts"
    );
    assert_eq!(
        cam.receipts().unwrap().len(),
        3,
        "receipts kept as proof of handover"
    );

    let admin = w.admin().await;
    let stored = admin.recordings().await.unwrap();
    assert_eq!(
        stored.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(stored
        .iter()
        .all(|r| r.officer_id.as_deref() == Some("boa-5")));
    assert!(admin.incidents().await.unwrap().is_empty());
    // A blob alone opens with nothing: its age header (the wrapped file key)
    // lives only in the catalog. Header + blob is the camera's ciphertext.
    let identity = custos_keys::EvidenceKeyStore::new(&w.data)
        .unseal(&SecretString::from(PASS.to_owned()))
        .unwrap();
    for r in admin.catalog().recordings().await.unwrap() {
        let stored =
            std::fs::read(w.data.join("blobs").join(&r.camera().unwrap().blob_key)).unwrap();
        let h = r.camera().unwrap().age_header.len();
        assert!(
            h > 50
                && r.camera()
                    .unwrap()
                    .age_header
                    .starts_with(b"age-encryption.org/v1\n")
        );
        assert!(
            stored[..h].iter().all(|&b| b == 0),
            "header zeroed in the blob"
        );
        assert!(age::Decryptor::new(&stored[..]).is_err());
        let mut blob = r.camera().unwrap().age_header.clone();
        blob.extend_from_slice(&stored[h..]);
        let signed = custos_format::SignedManifest::parse(
            &r.camera().unwrap().manifest,
            &r.camera().unwrap().manifest_signature,
        )
        .unwrap();
        custos_format::verify::verify_recording(&signed, &cam.verifying_key().unwrap(), &blob[..])
            .unwrap();
        custos_format::verify::decrypt_recording(&signed, &blob[..], &identity, std::io::sink())
            .unwrap();
        assert_eq!(
            r.delete_after.as_millis() - r.ended_at.as_millis(),
            28 * 86_400_000
        );
    }
    assert_eq!(files(&w.data.join("staging")), 0, "no staging left behind");

    // More recordings later: the chain continues across the wipe.
    record(&cam, 2);
    let (report, _) = w.offload(&cam).await;
    assert_eq!((report.stored, report.wiped), (2, 2), "{report:?}");
    assert!(w.admin().await.incidents().await.unwrap().is_empty());
    w.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_recordings_get_the_same_receipt_and_uploads_resume() {
    let w = world().await;
    let cam = w.camera("cam-b", 2, true).await;
    let pending = cam.pending_recordings().unwrap();
    // A dock that died after the server stored #1 but before the wipe:
    // simulate by offloading a copy of the camera, then the original.
    let copy = CameraDir::new(w.tmp.path().join("cam-b-copy"));
    copy_dir(cam.root(), copy.root());
    let (first, _) = w.offload(&copy).await;
    assert_eq!(first.stored, 2);
    let (again, sent) = w.offload(&cam).await;
    assert_eq!(
        (again.stored, again.already_stored, again.wiped),
        (0, 2, 2),
        "{again:?}"
    );
    assert_eq!(sent, 0, "nothing re-sent");
    let receipts_a: Vec<_> = cam
        .receipts()
        .unwrap()
        .iter()
        .map(|p| std::fs::read(&p.receipt).unwrap())
        .collect();
    let receipts_b: Vec<_> = copy
        .receipts()
        .unwrap()
        .iter()
        .map(|p| std::fs::read(&p.receipt).unwrap())
        .collect();
    assert_eq!(receipts_a, receipts_b, "identical receipts");
    assert_eq!(
        w.admin().await.recordings().await.unwrap().len(),
        2,
        "no duplicates"
    );
    drop(pending);

    // An interrupted upload resumes where it stopped.
    let cam = w.camera("cam-c", 1, true).await;
    let paths = &cam.pending_recordings().unwrap()[0];
    let ciphertext = std::fs::read(&paths.ciphertext).unwrap();
    let half = ciphertext.len() as u64 / 2;
    let (upload_id, offset) = custom_offer(&w, paths).await;
    assert_eq!(offset, 0);
    custom_patch(&w, upload_id, 0, &ciphertext[..half as usize]).await;
    let (report, sent) = w.offload(&cam).await;
    assert_eq!(report.stored, 1, "{report:?}");
    assert_eq!(
        sent,
        ciphertext.len() as u64 - half,
        "only the rest was sent"
    );
    w.server.shutdown().await;
}

/// A camera the server does not know (cam-x, one recording), docked.
async fn stranger_docked(w: &World) -> (CameraDir, custos_dock::CameraReport) {
    let stranger = w.camera("cam-x", 1, false).await;
    let (report, _) = w.offload(&stranger).await;
    (stranger, report)
}

/// The world after an unknown camera was refused and cam-y docked with its
/// ciphertext #1 changed after signing, #2's manifest forged and #3 lost
/// on the camera (#4 good): cam-y, its recordings as they were, the
/// refused ones' bytes before the docking, and the dock's report.
struct Refused {
    w: World,
    cam: CameraDir,
    pending: Vec<custos_camera::storage::RecordingPaths>,
    before: Vec<Vec<u8>>,
    report: custos_dock::CameraReport,
}

async fn refused() -> Refused {
    let w = world().await;
    stranger_docked(&w).await;
    // Ciphertext changed after signing; a forged manifest; a recording lost on the camera.
    let cam = w.camera("cam-y", 4, true).await;
    let pending = cam.pending_recordings().unwrap();
    let mut bytes = std::fs::read(&pending[0].ciphertext).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x40;
    std::fs::write(&pending[0].ciphertext, &bytes).unwrap();
    let edited = String::from_utf8(std::fs::read(&pending[1].manifest).unwrap())
        .unwrap()
        .replace("boa-5", "boa-6");
    std::fs::write(&pending[1].manifest, edited).unwrap();
    for p in [
        &pending[2].ciphertext,
        &pending[2].manifest,
        &pending[2].signature,
    ] {
        std::fs::remove_file(p).unwrap();
    }
    let before: Vec<_> = [&pending[0], &pending[1]]
        .iter()
        .map(|p| std::fs::read(&p.ciphertext).unwrap())
        .collect();
    let (report, _) = w.offload(&cam).await;
    Refused {
        w,
        cam,
        pending,
        before,
        report,
    }
}

/// A camera the server does not know is refused; its recording stays on
/// it, and the camera's own status counts the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_camera_is_refused_and_keeps_its_recording() {
    let w = world().await;
    // An unknown camera.
    let (stranger, report) = stranger_docked(&w).await;
    assert_eq!(
        report
            .refused
            .iter()
            .map(|r| r.1.as_str())
            .collect::<Vec<_>>(),
        vec!["camera-unknown"]
    );
    assert_eq!(stranger.pending_recordings().unwrap().len(), 1, "kept");
    assert_eq!(
        custos_camera::camera::offline_status(&stranger)
            .unwrap()
            .refused_by_server,
        1
    );
    w.server.shutdown().await;
}

/// Ciphertext changed after signing and a forged manifest are refused and
/// stay on the camera untouched; the good recording after them is stored;
/// every refusal, the unknown camera's too, and the lost recording's gap
/// are incidents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_and_forged_recordings_are_refused_untouched_and_raise_incidents() {
    let Refused {
        w,
        pending,
        before,
        report,
        ..
    } = refused().await;
    let codes: Vec<_> = report.refused.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        codes,
        vec!["ciphertext-mismatch", "bad-signature"],
        "{report:?}"
    );
    assert_eq!(report.stored, 1, "#4 is good and stored");
    let after: Vec<_> = [&pending[0], &pending[1]]
        .iter()
        .map(|p| std::fs::read(&p.ciphertext).unwrap())
        .collect();
    assert_eq!(
        before, after,
        "refused recordings stay on the camera, untouched"
    );

    let kinds: Vec<_> = w
        .admin()
        .await
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.kind)
        .collect();
    for expected in [
        IncidentKind::UnknownOrRevoked,
        IncidentKind::CiphertextMismatch,
        IncidentKind::BadSignature,
        IncidentKind::Gap,
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected:?} missing from {kinds:?}"
        );
    }
    w.server.shutdown().await;
}

/// Docked again: the same refusals, the same incidents, counted twice
/// (issue 21: one incident per fact, not one per docking).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docked_again_the_same_refusals_are_counted_into_the_same_incidents() {
    let Refused { w, cam, .. } = refused().await;
    let incidents = w.admin().await.incidents().await.unwrap();
    let (again, _) = w.offload(&cam).await;
    let codes: Vec<_> = again.refused.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(codes, vec!["ciphertext-mismatch", "bad-signature"]);
    let now = w.admin().await.incidents().await.unwrap();
    assert_eq!(now.len(), incidents.len(), "{now:?}");
    for kind in [IncidentKind::CiphertextMismatch, IncidentKind::BadSignature] {
        let counted: Vec<_> = now.iter().filter(|i| i.kind == kind).collect();
        assert_eq!(counted.len(), 1, "{kind:?}");
        assert_eq!(counted[0].occurrences, 2, "{kind:?}");
    }
    w.server.shutdown().await;
}

/// A revoked camera's new recording is refused as revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_cameras_recordings_are_refused() {
    let Refused { w, cam, .. } = refused().await;
    w.admin().await.revoke_camera("cam-y").await.unwrap();
    record(&cam, 1);
    let (report, _) = w.offload(&cam).await;
    assert!(
        report.refused.iter().any(|r| r.1 == "camera-revoked"),
        "{report:?}"
    );
    w.server.shutdown().await;
}

/// A dock with a wrong token is turned away: its offload is interrupted,
/// unauthorized.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dock_with_a_wrong_token_is_unauthorized() {
    let w = world().await;
    let mut bad = w.dock_config.clone();
    bad.token = "0".repeat(64);
    let other = w.camera("cam-z", 1, true).await;
    let report = tokio::task::spawn_blocking(move || {
        Dock::new(bad).unwrap().offload(&other, &|_| {}).unwrap()
    })
    .await
    .unwrap();
    assert!(
        report
            .interrupted
            .as_deref()
            .unwrap_or("")
            .contains("unauthorized"),
        "{report:?}"
    );
    w.server.shutdown().await;
}

async fn custom_offer(
    w: &World,
    paths: &custos_camera::storage::RecordingPaths,
) -> (uuid::Uuid, u64) {
    let agent = agent(w);
    let url = format!("{}/api/v1/uploads", w.dock_config.server);
    let auth = format!("Bearer {}:{}", w.dock_config.dock_id, w.dock_config.token);
    let body = serde_json::json!({
        "manifest": std::fs::read_to_string(&paths.manifest).unwrap(),
        "signature": hex::encode(std::fs::read(&paths.signature).unwrap()),
    });
    tokio::task::spawn_blocking(move || {
        let mut r = agent
            .post(&url)
            .header("authorization", &auth)
            .send_json(body)
            .unwrap();
        let v: serde_json::Value = r.body_mut().read_json().unwrap();
        (
            v["upload_id"].as_str().unwrap().parse().unwrap(),
            v["offset"].as_u64().unwrap(),
        )
    })
    .await
    .unwrap()
}

async fn custom_patch(w: &World, id: uuid::Uuid, offset: u64, bytes: &[u8]) {
    let agent = agent(w);
    let url = format!("{}/api/v1/uploads/{id}", w.dock_config.server);
    let auth = format!("Bearer {}:{}", w.dock_config.dock_id, w.dock_config.token);
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        let r = agent
            .patch(&url)
            .header("authorization", &auth)
            .header("upload-offset", &offset.to_string())
            .send(&bytes[..])
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    })
    .await
    .unwrap();
}

/// Cam-r with three recordings of 300 frames (several 64 KiB chunks each),
/// not yet docked: the world, the camera and its recordings.
struct Uploads {
    w: World,
    cam: CameraDir,
    pending: Vec<custos_camera::storage::RecordingPaths>,
}

impl Uploads {
    async fn new() -> Self {
        let w = world().await;
        let cam = w.camera("cam-r", 0, true).await;
        record_frames(&cam, 3, 300);
        let pending = cam.pending_recordings().unwrap();
        Uploads { w, cam, pending }
    }

    /// After #1 was uploaded with two chunks swapped and refused.
    async fn after_a_refused_upload() -> Self {
        let u = Self::new().await;
        let id = reordered_upload(&u.w, &u.pending[0]).await;
        custom_complete(&u.w, id).await;
        u
    }

    /// After that, #1 uploaded again whole (completed early on the way, and
    /// 5 bytes too many refused) but not completed.
    async fn after_an_early_completion() -> Self {
        let u = Self::after_a_refused_upload().await;
        let (w, pending) = (&u.w, &u.pending);
        let good = std::fs::read(&pending[0].ciphertext).unwrap();
        let (id, _) = custom_offer(w, &pending[0]).await;
        custom_patch(w, id, 0, &good[..1000]).await;
        custom_complete(w, id).await;
        custom_patch_status(w, id, 1000, &good[1000..]).await;
        custom_patch_status(w, id, good.len() as u64, b"extra").await;
        u
    }

    /// After that, the camera docked: all three recordings stored.
    async fn all_stored() -> Self {
        let u = Self::after_an_early_completion().await;
        let (report, _) = u.w.offload(&u.cam).await;
        assert_eq!(report.stored, 3, "{report:?}");
        u
    }
}

/// #1 offered and its bytes sent with two 64 KiB chunks swapped on the
/// way: the upload's id.
async fn reordered_upload(
    w: &World,
    recording: &custos_camera::storage::RecordingPaths,
) -> uuid::Uuid {
    let mut bytes = std::fs::read(&recording.ciphertext).unwrap();
    assert!(
        bytes.len() > 1000 + 2 * 65552,
        "need several chunks: {}",
        bytes.len()
    );
    let (a, b, c) = (1000, 1000 + 65552, 65552);
    let first = bytes[a..a + c].to_vec();
    bytes.copy_within(b..b + c, a);
    bytes[b..b + c].copy_from_slice(&first);
    let (id, _) = custom_offer(w, recording).await;
    custom_patch(w, id, 0, &bytes).await;
    id
}

/// Reordered bytes (two 64 KiB chunks swapped on the way) do not match the
/// signed manifest: the upload is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_reordered_chunks_is_a_ciphertext_mismatch() {
    let Uploads { w, pending, .. } = Uploads::new().await;
    let id = reordered_upload(&w, &pending[0]).await;
    assert_eq!(
        custom_complete(&w, id).await,
        (422, "ciphertext-mismatch".to_owned())
    );
    w.server.shutdown().await;
}

/// After a refused upload the next offer starts from nothing; completing
/// an upload early stores nothing and leaves it resumable; bytes beyond
/// the recording's length are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_completed_early_is_incomplete_and_one_too_long_is_refused() {
    let Uploads { w, pending, .. } = Uploads::after_a_refused_upload().await;
    // Completing early: nothing stored, resumable.
    let good = std::fs::read(&pending[0].ciphertext).unwrap();
    let (id, offset) = custom_offer(&w, &pending[0]).await;
    assert_eq!(offset, 0, "the refused upload was discarded");
    custom_patch(&w, id, 0, &good[..1000]).await;
    assert_eq!(
        custom_complete(&w, id).await,
        (409, "incomplete".to_owned())
    );
    // Too many bytes.
    assert_eq!(custom_patch_status(&w, id, 1000, &good[1000..]).await, 204);
    assert_eq!(
        custom_patch_status(&w, id, good.len() as u64, b"extra").await,
        413
    );
    w.server.shutdown().await;
}

/// A full disk on the server: 507, the dock stops and the camera keeps
/// everything not stored, in order; once space is back the next docking
/// finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_on_the_server_is_507_and_the_camera_keeps_the_rest() {
    let Uploads { w, cam, pending } = Uploads::after_an_early_completion().await;
    let (id2, _) = custom_offer(&w, &pending[1]).await;
    let staging = w.data.join("staging").join(format!("{id2}.part"));
    std::fs::remove_file(&staging).unwrap();
    std::os::unix::fs::symlink("/dev/full", &staging).unwrap();
    let ct = std::fs::read(&pending[1].ciphertext).unwrap();
    assert_eq!(custom_patch_status(&w, id2, 0, &ct).await, 507);
    let (report, _) = w.offload(&cam).await;
    assert_eq!(report.stored, 1, "#1 completes; {report:?}");
    assert!(
        report
            .interrupted
            .as_deref()
            .unwrap_or("")
            .contains("storage-full"),
        "{report:?}"
    );
    assert_eq!(
        cam.pending_recordings().unwrap().len(),
        2,
        "#2 and #3 stay on the camera, in order"
    );
    // Space is back: the next docking finishes the job.
    std::fs::remove_file(&staging).unwrap();
    std::fs::File::create(&staging).unwrap();
    let (report, _) = w.offload(&cam).await;
    assert_eq!((report.stored, report.wiped), (2, 2), "{report:?}");
    w.server.shutdown().await;
}

/// The files of an offer of `manifest` (signed by `key`) with no payload,
/// in a directory of their own (kept while the paths are used).
fn offer_of(
    manifest: custos_format::Manifest,
    key: &custos_format::SigningKey,
) -> (tempfile::TempDir, custos_camera::storage::RecordingPaths) {
    let forged = custos_format::SignedManifest::sign(manifest, key).unwrap();
    let fake = tempfile::tempdir().unwrap();
    let paths = custos_camera::storage::RecordingPaths {
        stem: "x".into(),
        ciphertext: fake.path().join("x.age"),
        journal: fake.path().join("x.open"),
        manifest: fake.path().join("x.manifest.json"),
        signature: fake.path().join("x.manifest.sig"),
        receipt: fake.path().join("x.receipt.json"),
        receipt_signature: fake.path().join("x.receipt.sig"),
        refused: fake.path().join("x.refused.json"),
    };
    std::fs::write(&paths.manifest, forged.bytes()).unwrap();
    std::fs::write(&paths.signature, forged.signature()).unwrap();
    (fake, paths)
}

/// Replay: the camera's key signs different content under an old sequence
/// number. The offer is refused as a replay, and the replay is an incident
/// beside the earlier refused upload's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_signed_again_under_an_old_sequence_number_is_a_replay() {
    let Uploads { w, cam, .. } = Uploads::all_stored().await;
    let key = cam.signing_key().unwrap();
    let stored = w
        .admin()
        .await
        .catalog()
        .recording_by_sequence("cam-r", 2)
        .await
        .unwrap()
        .unwrap();
    let original = custos_format::SignedManifest::parse(
        &stored.camera().unwrap().manifest,
        &stored.camera().unwrap().manifest_signature,
    )
    .unwrap();
    let mut forged = original.manifest().clone();
    forged.officer_id = Some("someone-else".into());
    let (_fake, paths) = offer_of(forged, &key);
    assert_eq!(
        custom_offer_status(&w, &paths).await,
        (409, "replay".to_owned())
    );
    let kinds: Vec<_> = w
        .admin()
        .await
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.kind)
        .collect();
    assert!(
        kinds.contains(&IncidentKind::Replay) && kinds.contains(&IncidentKind::CiphertextMismatch),
        "{kinds:?}"
    );
    w.server.shutdown().await;
}

async fn custom_complete(w: &World, id: uuid::Uuid) -> (u16, String) {
    let agent = agent(w);
    let url = format!("{}/api/v1/uploads/{id}/complete", w.dock_config.server);
    let auth = format!("Bearer {}:{}", w.dock_config.dock_id, w.dock_config.token);
    tokio::task::spawn_blocking(move || {
        let mut r = agent
            .post(&url)
            .header("authorization", &auth)
            .send_empty()
            .unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.body_mut().read_json().unwrap();
        (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
    })
    .await
    .unwrap()
}

async fn custom_patch_status(w: &World, id: uuid::Uuid, offset: u64, bytes: &[u8]) -> u16 {
    let agent = agent(w);
    let url = format!("{}/api/v1/uploads/{id}", w.dock_config.server);
    let auth = format!("Bearer {}:{}", w.dock_config.dock_id, w.dock_config.token);
    let bytes = bytes.to_vec();
    tokio::task::spawn_blocking(move || {
        agent
            .patch(&url)
            .header("authorization", &auth)
            .header("upload-offset", &offset.to_string())
            .send(&bytes[..])
            .unwrap()
            .status()
            .as_u16()
    })
    .await
    .unwrap()
}

async fn custom_offer_status(
    w: &World,
    paths: &custos_camera::storage::RecordingPaths,
) -> (u16, String) {
    let agent = agent(w);
    let url = format!("{}/api/v1/uploads", w.dock_config.server);
    let auth = format!("Bearer {}:{}", w.dock_config.dock_id, w.dock_config.token);
    let body = serde_json::json!({
        "manifest": std::fs::read_to_string(&paths.manifest).unwrap(),
        "signature": hex::encode(std::fs::read(&paths.signature).unwrap()),
    });
    tokio::task::spawn_blocking(move || {
        let mut r = agent
            .post(&url)
            .header("authorization", &auth)
            .send_json(body)
            .unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.body_mut().read_json().unwrap();
        (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_uploads_expire_after_a_week_and_the_camera_offers_again() {
    let w = world().await;
    let cam = w.camera("cam-x", 1, true).await;
    let paths = cam.pending_recordings().unwrap().remove(0);
    let (id, offset) = custom_offer(&w, &paths).await;
    assert_eq!(offset, 0);
    let half = std::fs::read(&paths.ciphertext).unwrap();
    custom_patch(&w, id, 0, &half[..half.len() / 2]).await;
    let staged = w.data.join(format!("staging/{id}.part"));
    assert!(staged.exists());
    let ingest = &w.server.deployment.ingest;

    // Six days on it is still resumable; after seven it is gone.
    w.clock_offset.store(6 * 24 * 3600 * 1000, Ordering::SeqCst);
    assert_eq!(
        ingest
            .expire_abandoned(custos_server::ABANDONED_UPLOAD_MILLIS)
            .await
            .unwrap(),
        0
    );
    assert!(staged.exists());
    w.clock_offset
        .store(7 * 24 * 3600 * 1000 + 1000, Ordering::SeqCst);
    assert_eq!(
        ingest
            .expire_abandoned(custos_server::ABANDONED_UPLOAD_MILLIS)
            .await
            .unwrap(),
        1
    );
    assert!(!staged.exists());
    assert_eq!(
        ingest
            .expire_abandoned(custos_server::ABANDONED_UPLOAD_MILLIS)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        custom_patch_status(&w, id, half.len() as u64 / 2, b"x").await,
        404
    );
    // The camera never let go of it: the next docking stores it whole.
    assert_eq!(cam.pending_recordings().unwrap().len(), 1);
    let (report, _) = w.offload(&cam).await;
    assert_eq!((report.stored, report.wiped), (1, 1), "{report:?}");
    let admin = w.admin().await;
    assert_eq!(admin.recordings().await.unwrap()[0].size, half.len() as u64);
}
