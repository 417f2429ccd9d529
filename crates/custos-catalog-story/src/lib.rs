//! The catalog stories: the whole contract, a story per store (three for
//! the statistics), run
//! unchanged against every backend. Each backend crate's `tests/story.rs`
//! calls [`stories!`] with a function that opens a fresh catalog, which
//! makes one test per story; a backend passes when every story does, and a
//! failure names the store that broke.

use custos_catalog::*;
use custos_format::UtcMillis;
use uuid::Uuid;

pub(crate) fn t(ms: i64) -> UtcMillis {
    UtcMillis::from_millis(1_795_424_400_000 + ms).unwrap()
}

pub(crate) fn recording(device: &str, seq: u64) -> Recording {
    Recording {
        recording_id: Uuid::now_v7(),
        device_id: device.into(),
        sequence: seq,
        officer_id: Some("boa-1".into()),
        started_at: t(0),
        ended_at: t(1000),
        truncated: false,
        stored_at: t(2000),
        delete_after: t(28 * 86_400_000),
        retention_category: STANDARD_CATEGORY.into(),
        provenance: Provenance::Camera(CameraRecording {
            ciphertext_sha256: [seq as u8; 32],
            ciphertext_length: 1234,
            manifest: b"{}".to_vec(),
            manifest_signature: vec![1; 64],
            manifest_sha256: [seq as u8 + 100; 32],
            blob_key: format!("{device}/{seq}.age"),
            receipt: b"{}".to_vec(),
            receipt_signature: vec![2; 64],
            age_header: b"age-encryption.org/v1\n--- x\n".to_vec(),
        }),
    }
}

/// One test per story, each on a fresh catalog from `$fresh(name)` (an
/// async function whose result derefs to a catalog).
#[macro_export]
macro_rules! stories {
    ($fresh:path) => {
        $crate::stories!(@each $fresh;
            device_story, lease_story, recording_story, incident_kind_story,
            user_story, session_story, audit_story, retention_story, hold_story,
            case_link_story, search_story, audit_search_story, export_story,
            subject_request_story, statistics_story, statistics_filter_story,
            statistics_cache_story, admission_story,
            incident_sighting_story, activation_story, axis_story,
            axis_container_story, axis_pending_blob_story, axis_recording_story,
            axis_stale_container_story, signed_video_story, axis_trail_story);
    };
    (@each $fresh:path; $($story:ident),*) => {
        $(
            #[tokio::test]
            async fn $story() {
                let catalog = $fresh(stringify!($story)).await;
                $crate::$story(&*catalog).await;
            }
        )*
    };
}

/// Camera `cam-1`, enrolled.
pub(crate) async fn enrol(catalog: &(impl DeviceStore + ?Sized)) {
    catalog
        .add_device(&Device {
            device_id: "cam-1".into(),
            public_key: "ab".repeat(32),
            enrolled_at: t(0),
            revoked_at: None,
            retention_category: STANDARD_CATEGORY.into(),
            assigned_officer: None,
            team: None,
            kind: DeviceKind::Custos,
        })
        .await
        .unwrap();
}

/// Camera `cam-1` with its recordings 1 to 3, committed.
pub(crate) async fn three_recordings(
    catalog: &(impl DeviceStore + RecordingStore + ?Sized),
) -> Vec<Recording> {
    enrol(catalog).await;
    let mut all = Vec::new();
    for seq in 1..=3 {
        let r = recording("cam-1", seq);
        catalog.commit_recording(&r, None).await.unwrap();
        all.push(r);
    }
    all
}

mod activations;
mod admission;
mod audit;
mod axis;
mod axis_recordings;
mod axis_trail;
mod cases;
mod devices;
mod exports;
mod leases;
mod recordings;
mod retention;
mod signed_video;
mod statistics;
mod subjects;
mod users;

pub use activations::*;
pub use admission::*;
pub use audit::*;
pub use axis::*;
pub use axis_recordings::*;
pub use axis_trail::*;
pub use cases::*;
pub use devices::*;
pub use exports::*;
pub use leases::*;
pub use recordings::*;
pub use retention::*;
pub use signed_video::*;
pub use statistics::*;
pub use subjects::*;
pub use users::*;
