//! Deadlines and tombstones.

use custos_catalog::*;
use uuid::Uuid;

use crate::*;

/// Deadlines: due recordings, moved deadlines, tombstones.
pub async fn retention_story(
    catalog: &(impl DeviceStore + RecordingStore + RetentionStore + ?Sized),
) {
    three_recordings(catalog).await;
    let all = catalog.recordings().await.unwrap();
    let held = all[0].clone();
    let day28 = t(28 * 86_400_000);
    assert!(catalog
        .due_recordings(t(27 * 86_400_000), 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 3);
    assert_eq!(
        catalog.due_recordings(day28, 1).await.unwrap().len(),
        1,
        "limit respected"
    );
    catalog
        .set_delete_after(held.recording_id, t(40 * 86_400_000))
        .await
        .unwrap();
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 2);
    // Moving a recording to a shorter category brings its deadline forward.
    catalog
        .set_recording_retention(held.recording_id, "training", t(2 * 86_400_000))
        .await
        .unwrap();
    let moved = catalog.recording(held.recording_id).await.unwrap().unwrap();
    assert_eq!(
        (moved.retention_category.as_str(), moved.delete_after),
        ("training", t(2 * 86_400_000))
    );
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 3);
    assert!(matches!(
        catalog
            .set_recording_retention(Uuid::now_v7(), "training", t(1))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog
        .set_recording_retention(held.recording_id, STANDARD_CATEGORY, t(40 * 86_400_000))
        .await
        .unwrap();
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 2);

    let doomed = recording("cam-1", 9);
    catalog.commit_recording(&doomed, None).await.unwrap();
    let tombstone = doomed.tombstone(t(30), "retention-period");
    assert_eq!(
        catalog
            .replace_with_tombstones(std::slice::from_ref(&tombstone))
            .await
            .unwrap(),
        vec![doomed.recording_id]
    );
    assert!(
        catalog
            .replace_with_tombstones(std::slice::from_ref(&tombstone))
            .await
            .unwrap()
            .is_empty(),
        "once"
    );
    assert_eq!(catalog.recording(doomed.recording_id).await.unwrap(), None);
    assert_eq!(
        catalog.tombstone(doomed.recording_id).await.unwrap(),
        Some(tombstone.clone())
    );
    assert_eq!(
        catalog.tombstone_by_sequence("cam-1", 9).await.unwrap(),
        Some(tombstone.clone())
    );
    assert_eq!(
        catalog.tombstones_with_blob().await.unwrap(),
        vec![tombstone.clone()]
    );
    catalog
        .mark_blobs_deleted(&[doomed.recording_id])
        .await
        .unwrap();
    assert!(catalog.tombstones_with_blob().await.unwrap().is_empty());
}
