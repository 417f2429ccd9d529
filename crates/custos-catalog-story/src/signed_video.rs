//! What the checks of Axis recordings' signed video found (issue 23 point
//! 5): kept once per recording, listed until made, gone with the
//! recording; and the key each camera signs with, pinned as first seen.

use custos_catalog::*;

use crate::axis_recordings::{completion, open_container, C};
use crate::*;

fn check(recording_id: uuid::Uuid, outcome: &str, at: i64) -> SignedVideoCheck {
    SignedVideoCheck {
        recording_id,
        outcome: outcome.into(),
        report: format!(r#"{{"clips":[{{"outcome":"{outcome}"}}]}}"#),
        key_sha256: Some("ab".repeat(32)),
        checked_at: t(at),
    }
}

pub async fn signed_video_story(catalog: &(impl Catalog + ?Sized)) {
    catalog
        .add_axis_connection(&crate::axis::connection(C, "k"))
        .await
        .unwrap();
    enrol(catalog).await;
    // A Custos camera's recording is never listed: it has no signed video.
    catalog
        .commit_recording(&recording("cam-1", 1), None)
        .await
        .unwrap();
    assert!(catalog
        .unchecked_axis_recordings(10)
        .await
        .unwrap()
        .is_empty());

    let mut made = Vec::new();
    for name in ["u_AXIS1_20261207T063000Z", "u_AXIS1_20261207T070000Z"] {
        let c = open_container(catalog, name).await;
        let r = catalog
            .complete_axis_recording(C, &completion(catalog, &c, "AXIS1").await, t(70_000))
            .await
            .unwrap();
        made.push(r.recording_id);
    }
    let [first, second] = [made[0], made[1]];
    assert_eq!(
        catalog.unchecked_axis_recordings(10).await.unwrap(),
        made,
        "oldest first"
    );
    assert_eq!(catalog.unchecked_axis_recordings(1).await.unwrap(), [first]);
    assert_eq!(catalog.signed_video_check(first).await.unwrap(), None);

    // Kept once: a second check (another node's) keeps the first.
    assert!(catalog
        .add_signed_video_check(&check(first, "altered", 71_000))
        .await
        .unwrap());
    assert!(!catalog
        .add_signed_video_check(&check(first, "authentic", 72_000))
        .await
        .unwrap());
    assert_eq!(
        catalog.signed_video_check(first).await.unwrap(),
        Some(check(first, "altered", 71_000))
    );
    assert_eq!(
        catalog.unchecked_axis_recordings(10).await.unwrap(),
        [second]
    );
    // None for a recording that does not exist.
    let nobody = uuid::Uuid::now_v7();
    assert!(!catalog
        .add_signed_video_check(&check(nobody, "authentic", 72_000))
        .await
        .unwrap());
    assert_eq!(catalog.signed_video_check(nobody).await.unwrap(), None);

    // Gone with its recording.
    let row = catalog.recording(first).await.unwrap().unwrap();
    catalog
        .replace_with_tombstones(&[row.tombstone(t(90_000), "retention-period")])
        .await
        .unwrap();
    assert_eq!(catalog.signed_video_check(first).await.unwrap(), None);
    assert_eq!(
        catalog.unchecked_axis_recordings(10).await.unwrap(),
        [second]
    );

    // A camera's key: the first one seen stays.
    assert_eq!(catalog.axis_signing_key("AXIS1").await.unwrap(), None);
    let a = "aa".repeat(32);
    let b = "bb".repeat(32);
    assert_eq!(
        catalog
            .pin_axis_signing_key("AXIS1", &a, t(71_000))
            .await
            .unwrap(),
        a
    );
    assert_eq!(
        catalog
            .pin_axis_signing_key("AXIS1", &b, t(72_000))
            .await
            .unwrap(),
        a,
        "another key later does not replace the first"
    );
    assert_eq!(
        catalog.axis_signing_key("AXIS1").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(catalog.axis_signing_key("AXIS2").await.unwrap(), None);
    catalog
        .pin_axis_signing_key("AXIS0", &b, t(73_000))
        .await
        .unwrap();
    assert_eq!(
        catalog.axis_signing_keys().await.unwrap(),
        [
            ("AXIS0".to_owned(), b.clone(), t(73_000)),
            ("AXIS1".to_owned(), a.clone(), t(71_000))
        ],
        "by camera"
    );
    // Forgotten, the next key seen is pinned; forgetting nothing is said.
    catalog.forget_axis_signing_key("AXIS1").await.unwrap();
    assert_eq!(catalog.axis_signing_key("AXIS1").await.unwrap(), None);
    assert!(matches!(
        catalog.forget_axis_signing_key("AXIS1").await,
        Err(CatalogError::NotFound { .. })
    ));
    assert_eq!(
        catalog
            .pin_axis_signing_key("AXIS1", &b, t(74_000))
            .await
            .unwrap(),
        b
    );
}
