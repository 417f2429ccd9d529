//! Issue 21, offload under faults: one dock per camera, every recording
//! decided on its own, gaps from the signed chain, and the camera's files
//! offered in their signed order whatever their names say.

use crate::common::{self, *};
use custos_camera::CameraDir;
use custos_catalog::IncidentKind;

/// Issue 21: one dock at a time per camera. A second dock (the camera moved
/// mid-offload, or docked twice) is told "in use" and touches nothing; two
/// docks started together store each recording once, wipe each once and
/// raise no integrity incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_is_offloaded_by_one_dock_at_a_time() {
    let w = world().await;
    let cam = w.camera("cam-l", 3, true).await;

    // Another dock holds the camera: this one leaves it as it is.
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cam.dock_lock_path())
        .unwrap();
    held.lock().unwrap();
    let (report, sent) = w.offload(&cam).await;
    let why = report.interrupted.clone().unwrap_or_default();
    assert!(why.starts_with(custos_dock::IN_USE), "{report:?}");
    assert!(why.contains("cam-l"), "{why}");
    assert_eq!((report.stored, report.wiped, sent), (0, 0, 0));
    assert_eq!(cam.pending_recordings().unwrap().len(), 3);
    drop(held);

    // Two docks at once, over and over: each recording stored and wiped once.
    for round in 0..4 {
        common::record(&cam, 2);
        let pending = cam.pending_recordings().unwrap().len();
        let (a, b) = tokio::join!(w.offload(&cam), w.offload(&cam));
        let (a, b) = (a.0, b.0);
        let in_use = [&a, &b]
            .iter()
            .filter(|r| {
                r.interrupted
                    .as_deref()
                    .is_some_and(|i| i.starts_with(custos_dock::IN_USE))
            })
            .count();
        assert!(
            a.interrupted.is_none() || in_use >= 1,
            "round {round}: {a:?}"
        );
        assert!(
            b.interrupted.is_none() || in_use >= 1,
            "round {round}: {b:?}"
        );
        assert_eq!(
            a.stored + a.already_stored + b.stored + b.already_stored,
            pending,
            "round {round}: {a:?} {b:?}"
        );
        assert_eq!(a.wiped + b.wiped, pending, "round {round}");
        assert!(a.refused.is_empty() && b.refused.is_empty());
        assert!(cam.pending_recordings().unwrap().is_empty());
    }
    let stored = w.server.deployment.catalog.recordings().await.unwrap();
    assert_eq!(stored.len(), 3 + 4 * 2);
    assert!(
        w.server
            .deployment
            .catalog
            .incidents()
            .await
            .unwrap()
            .is_empty(),
        "a second dock is no integrity incident"
    );
}

/// Cam-d's four recordings, #2 cut short on the camera (its last 1,000
/// bytes gone) and #3's file gone, docked once: the world, the camera, its
/// recordings as they were before the docking, and the dock's report.
struct Damaged {
    w: World,
    cam: CameraDir,
    pending: Vec<custos_camera::storage::RecordingPaths>,
    report: custos_dock::CameraReport,
}

async fn damaged() -> Damaged {
    let w = world().await;
    let cam = w.camera("cam-d", 4, true).await;
    let pending = cam.pending_recordings().unwrap();
    // Recording 2 loses its last 1,000 bytes; recording 3's file is gone.
    let short = std::fs::read(&pending[1].ciphertext).unwrap();
    std::fs::write(&pending[1].ciphertext, &short[..short.len() - 1000]).unwrap();
    std::fs::remove_file(&pending[2].ciphertext).unwrap();
    let (report, _) = w.offload(&cam).await;
    Damaged {
        w,
        cam,
        pending,
        report,
    }
}

/// Issue 21: every recording is decided on its own. A recording cut short
/// on the camera and one whose file is gone are each set aside with a
/// local report the camera's status shows; the recordings after them are
/// offloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_recording_is_set_aside_and_the_next_ones_go_on() {
    let Damaged {
        w,
        cam,
        pending,
        report,
    } = damaged().await;
    assert_eq!(report.interrupted, None, "{report:?}");
    assert!(report.refused.is_empty(), "{report:?}");
    assert_eq!((report.stored, report.wiped), (2, 2), "{report:?}");
    assert_eq!(
        report.set_aside,
        vec![
            (pending[1].stem.clone(), "damaged-on-camera".to_owned()),
            (pending[2].stem.clone(), "unreadable-on-camera".to_owned()),
        ]
    );
    // Kept on the camera with a report the camera's status shows.
    let left = cam.pending_recordings().unwrap();
    assert_eq!(left.len(), 2);
    let note: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&left[0].refused).unwrap()).unwrap();
    assert_eq!(note["code"], "damaged-on-camera");
    assert!(note["message"].as_str().unwrap().contains("manifest says"));
    let stored: Vec<u64> = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert_eq!(stored, vec![1, 4]);
}

/// Issue 21: the dock tells the server of each recording it set aside: one
/// incident each, named by its signed manifest, and the gap they leave is
/// named for what it is (set aside, not missing); the dock's directories
/// stay with the dock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_aside_recordings_are_incidents_and_their_gap_says_set_aside() {
    let Damaged { w, cam, .. } = damaged().await;
    let incidents = w.server.deployment.catalog.incidents().await.unwrap();
    let set_aside: Vec<_> = incidents
        .iter()
        .map(|i| (i.kind, i.sequence, i.occurrences))
        .collect();
    // They are not stored, so they are a gap, named for what they are: seen
    // at #3's report and again at #4's offer.
    assert_eq!(
        set_aside,
        [
            (IncidentKind::SetAsideOnCamera, Some(2), 1),
            (IncidentKind::SetAsideOnCamera, Some(3), 1),
            (IncidentKind::Gap, Some(2), 2),
        ],
        "{incidents:?}"
    );
    assert!(incidents[0].detail.starts_with("damaged-on-camera: "));
    assert!(incidents[1].detail.starts_with("unreadable-on-camera: "));
    assert_eq!(
        incidents[2].detail,
        "set aside on the camera 2..=3; before 4"
    );
    // The dock's directories stay with the dock.
    let dir = cam.root().to_string_lossy().into_owned();
    assert!(incidents.iter().all(|i| !i.detail.contains(&dir)));
}

/// Issue 21: docked again, the same two recordings are set aside; nothing
/// new is stored or raised, the incidents are counted again, and the gap,
/// now behind the stored #4, is not seen again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docked_again_the_damaged_recordings_are_set_aside_and_only_counted() {
    let Damaged { w, cam, report, .. } = damaged().await;
    let (again, _) = w.offload(&cam).await;
    assert_eq!(again.set_aside, report.set_aside);
    assert_eq!((again.stored, again.wiped, again.interrupted), (0, 0, None));
    let now = w.server.deployment.catalog.incidents().await.unwrap();
    let counted: Vec<_> = now.iter().map(|i| (i.kind, i.occurrences)).collect();
    assert_eq!(
        counted,
        [
            (IncidentKind::SetAsideOnCamera, 2),
            (IncidentKind::SetAsideOnCamera, 2),
            // #2 and #3 now lie behind the stored #4: no gap is seen again.
            (IncidentKind::Gap, 2),
        ]
    );
}

/// Issue 21: a copy of a camera taken before its offload, whose recording 1
/// was changed since (same length): the server has it, but the copy does
/// not match the receipt, so it is kept (never wiped unconfirmed) with a
/// `not-wiped` incident, and the next recording is still wiped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_no_longer_matches_its_receipt_is_kept_and_the_next_is_wiped() {
    let w = world().await;
    let original = w.camera("cam-e", 2, true).await;
    let copy = CameraDir::new(w.tmp.path().join("cam-e-copy"));
    copy_dir(original.root(), copy.root());
    let (first, _) = w.offload(&original).await;
    assert_eq!(first.stored, 2);
    let copied = copy.pending_recordings().unwrap();
    let mut bytes = std::fs::read(&copied[0].ciphertext).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&copied[0].ciphertext, &bytes).unwrap();
    let (from_copy, _) = w.offload(&copy).await;
    assert_eq!(from_copy.interrupted, None, "{from_copy:?}");
    assert_eq!(from_copy.already_stored, 2, "{from_copy:?}");
    assert_eq!(from_copy.wiped, 1, "{from_copy:?}");
    assert_eq!(
        from_copy.set_aside,
        vec![(copied[0].stem.clone(), "not-wiped".to_owned())]
    );
    assert!(copied[0].ciphertext.exists() && !copied[1].ciphertext.exists());
    let not_wiped: Vec<_> = w
        .server
        .deployment
        .catalog
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.device_id.as_deref() == Some("cam-e"))
        .map(|i| (i.kind, i.sequence, i.detail.starts_with("not-wiped: ")))
        .collect();
    assert_eq!(not_wiped, [(IncidentKind::SetAsideOnCamera, Some(1), true)]);
}

/// A recording lost on the camera: its three files gone.
fn gone(r: &custos_camera::storage::RecordingPaths) {
    for f in [&r.ciphertext, &r.manifest, &r.signature] {
        std::fs::remove_file(f).unwrap();
    }
}

/// A recording's payload tampered with (one bit flipped mid-file), its
/// manifest and signature intact.
fn flip(r: &custos_camera::storage::RecordingPaths) {
    let mut bytes = std::fs::read(&r.ciphertext).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x40;
    std::fs::write(&r.ciphertext, &bytes).unwrap();
}

/// The gap incidents among `all`: (first missing number, detail, occurrences).
fn gaps(all: &[custos_catalog::Incident]) -> Vec<(Option<u64>, String, u64)> {
    all.iter()
        .filter(|i| i.kind == IncidentKind::Gap)
        .map(|i| (i.sequence, i.detail.clone(), i.occurrences))
        .collect()
}

/// Cam-g's six recordings, some lost or tampered, docked once: the world,
/// the camera, the dock's report and the incidents after.
struct Chain {
    w: World,
    cam: CameraDir,
    report: custos_dock::CameraReport,
    all: Vec<custos_catalog::Incident>,
}

async fn chain() -> Chain {
    let w = world().await;
    let cam = w.camera("cam-g", 6, true).await;
    let p = cam.pending_recordings().unwrap();
    // #2 and #3 lost on the camera, #4's payload tampered (its manifest
    // and signature intact), #5 good, #6 tampered.
    gone(&p[1]);
    gone(&p[2]);
    flip(&p[3]);
    flip(&p[5]);
    let (report, _) = w.offload(&cam).await;
    let all = w.server.deployment.catalog.incidents().await.unwrap();
    Chain {
        w,
        cam,
        report,
        all,
    }
}

/// Issue 21: a gap is recorded from the signed chain as soon as a validly
/// signed manifest beyond it is offered, whatever becomes of that
/// recording's payload; a refused recording is named refused, not missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_seen_from_the_signed_chain_and_a_refusal_is_no_gap() {
    let Chain { report, all, .. } = chain().await;
    let codes: Vec<_> = report.refused.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        codes,
        ["ciphertext-mismatch", "ciphertext-mismatch"],
        "{report:?}"
    );
    assert_eq!(report.stored, 2, "{report:?}");
    // Seen at #4's offer (refused later), and again at #5's: one incident,
    // about #2, counted twice, saying what the latest sighting saw: #4
    // refused is named so, not missing. #6 after #5: no gap (#5 is stored).
    assert_eq!(
        gaps(&all),
        [(
            Some(2),
            "missing 2..=3; refused 4 (ciphertext-mismatch); before 5".to_owned(),
            2
        )],
        "{all:?}"
    );
}

/// Issue 21: docked again, #4 and #6 are offered again and refused again;
/// they lie behind the stored #5 now, so the gap is not seen again, and
/// the refusals are counted into their incidents (one incident per fact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docked_again_a_gap_is_not_seen_again_and_refusals_are_counted() {
    let Chain { w, cam, all, .. } = chain().await;
    w.offload(&cam).await;
    let again = w.server.deployment.catalog.incidents().await.unwrap();
    assert_eq!(again.len(), all.len(), "{again:?}");
    assert_eq!(gaps(&again), gaps(&all));
    let mismatches: Vec<_> = again
        .iter()
        .filter(|i| i.kind == IncidentKind::CiphertextMismatch)
        .map(|i| (i.sequence, i.occurrences))
        .collect();
    assert_eq!(mismatches, [(Some(4), 2), (Some(6), 2)]);
}

/// Issue 21: a camera whose #2 is refused and #3 good has no gap at all: a
/// refused recording is not a missing one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recording_before_a_good_one_is_no_gap() {
    let w = world().await;
    let cam = w.camera("cam-h", 3, true).await;
    let p = cam.pending_recordings().unwrap();
    flip(&p[1]);
    let (report, _) = w.offload(&cam).await;
    assert_eq!(report.stored, 2);
    let all = w.server.deployment.catalog.incidents().await.unwrap();
    assert!(
        !all.iter()
            .any(|i| i.kind == IncidentKind::Gap && i.device_id.as_deref() == Some("cam-h")),
        "{all:?}"
    );
}

/// Issue 21: the refused one is named refused in a gap that does exist (#2
/// lost, #3 refused, #4 arrives), and the same gap seen again at #4's
/// offer is one incident, counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recording_inside_a_real_gap_is_named_refused_and_the_gap_counted() {
    let w = world().await;
    let cam = w.camera("cam-k", 4, true).await;
    let p = cam.pending_recordings().unwrap();
    gone(&p[1]);
    flip(&p[2]);
    w.offload(&cam).await;
    let all = w.server.deployment.catalog.incidents().await.unwrap();
    let k: Vec<_> = all
        .iter()
        .filter(|i| i.kind == IncidentKind::Gap && i.device_id.as_deref() == Some("cam-k"))
        .map(|i| i.detail.clone())
        .collect();
    assert_eq!(
        k,
        ["missing 2; refused 3 (ciphertext-mismatch); before 4".to_owned()],
        "{all:?}"
    );
    let later: Vec<_> = all
        .iter()
        .filter(|i| i.device_id.as_deref() == Some("cam-k"))
        .map(|i| (i.kind, i.sequence, i.occurrences))
        .collect();
    assert!(
        later.contains(&(IncidentKind::Gap, Some(2), 2)),
        "seen again at #4's offer: {later:?}"
    );
}

/// Issue 21: recordings whose file names were shuffled on the camera (#2's
/// files named as #3's and the other way round) are still offered in the
/// order their signed manifests give: all are stored and wiped, and no gap
/// is raised for a number that was never missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffled_file_names_are_offered_in_signed_order() {
    let w = world().await;
    let cam = w.camera("cam-r", 4, true).await;
    let p = cam.pending_recordings().unwrap();
    let rename_all = |from: &custos_camera::storage::RecordingPaths, to_stem: &str| {
        for (path, suffix) in [
            (&from.ciphertext, ".age"),
            (&from.manifest, ".manifest.json"),
            (&from.signature, ".manifest.sig"),
        ] {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.ends_with(suffix), "{name}");
            std::fs::rename(path, path.with_file_name(format!("{to_stem}{suffix}"))).unwrap();
        }
    };
    let id = |stem: &str| stem.split_once('-').unwrap().1.to_owned();
    // #2 goes under #4's number and #4 under #2's; #3 under number 0.
    rename_all(&p[1], &format!("00000004-{}", id(&p[1].stem)));
    rename_all(&p[3], &format!("00000002-{}", id(&p[3].stem)));
    rename_all(&p[2], &format!("00000000-{}", id(&p[2].stem)));
    let names: Vec<_> = cam
        .pending_recordings()
        .unwrap()
        .into_iter()
        .map(|r| r.stem)
        .collect();
    assert_eq!(names[0], format!("00000000-{}", id(&p[2].stem)), "shuffled");

    let (report, _) = w.offload(&cam).await;
    assert_eq!(
        (
            report.stored,
            report.wiped,
            report.refused.len(),
            report.set_aside.len()
        ),
        (4, 4, 0, 0),
        "{report:?}"
    );
    assert!(report.interrupted.is_none(), "{report:?}");
    assert!(cam.pending_recordings().unwrap().is_empty());
    let stored: Vec<u64> = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert_eq!(stored, [1, 2, 3, 4]);
    let incidents = w.server.deployment.catalog.incidents().await.unwrap();
    assert!(incidents.is_empty(), "no false gap: {incidents:?}");
}
