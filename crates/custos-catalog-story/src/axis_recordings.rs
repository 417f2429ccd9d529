//! An Axis recording in the catalog (issue 23 point 3): made by its
//! container's `Complete` with its camera, listed as any other, and deleted
//! with every object of its container.

use custos_catalog::*;

use crate::*;

pub(crate) const C: &str = "scu-1";

fn axis_device(serial: &str) -> Device {
    Device {
        device_id: serial.into(),
        public_key: String::new(),
        enrolled_at: t(10),
        revoked_at: None,
        retention_category: STANDARD_CATEGORY.into(),
        assigned_officer: None,
        team: None,
        kind: DeviceKind::Axis,
    }
}

pub(crate) async fn open_container(catalog: &(impl Catalog + ?Sized), name: &str) -> AxisContainer {
    let c = AxisContainer {
        connection: C.into(),
        name: name.into(),
        recording_id: Some(uuid::Uuid::now_v7()),
        metadata: r#"{"status":"Transferring"}"#.into(),
        created_at: t(0),
        updated_at: t(0),
        completed_at: None,
    };
    catalog.add_axis_container(&c).await.unwrap();
    for object in ["20261207_063000_1.mp4", "bookmark_1796625010_1"] {
        let o = AxisObject {
            connection: C.into(),
            container: name.into(),
            name: object.into(),
            metadata: "{}".into(),
            length: 1000,
            sha256: [object.len() as u8; 32],
            md5: "0".repeat(32),
            blob_key: format!("axis/{name}/{object}.age"),
            age_header: b"age-encryption.org/v1\n--- x\n".to_vec(),
            stored_at: t(5),
        };
        catalog
            .add_axis_pending_blob(&o.blob_key, C, t(5))
            .await
            .unwrap();
        catalog.add_axis_object(&o).await.unwrap();
    }
    c
}

pub(crate) async fn completion(
    catalog: &(impl Catalog + ?Sized),
    c: &AxisContainer,
    serial: &str,
) -> AxisCompletion {
    let objects = catalog.axis_objects(C, &c.name).await.unwrap();
    AxisCompletion {
        expected: c.metadata.clone(),
        metadata: r#"{"status":"Complete","triggeron":"Button"}"#.into(),
        device: axis_device(serial),
        recording: Recording {
            recording_id: c.recording_id.unwrap(),
            device_id: serial.into(),
            sequence: 0,
            officer_id: Some("boa-7".into()),
            started_at: t(100),
            ended_at: t(60_100),
            truncated: false,
            stored_at: t(70_000),
            delete_after: t(28 * 86_400_000),
            retention_category: STANDARD_CATEGORY.into(),
            provenance: Provenance::Axis(AxisRecording {
                connection: C.into(),
                container: c.name.clone(),
                length: objects.iter().map(|o| o.length).sum(),
                content_sha256: axis_content_digest(&objects),
                metadata_sha256: [9; 32],
            }),
        },
        objects: objects.clone(),
        facts: AxisFacts {
            prerecord_ms: Some(30_000),
            trigger: Some("Button".into()),
            stop_reason: Some("Button".into()),
            firmware: Some("11.2.1".into()),
        },
    }
}

pub async fn axis_recording_story(catalog: &(impl Catalog + ?Sized)) {
    catalog
        .add_axis_connection(&crate::axis::connection(C, "k"))
        .await
        .unwrap();
    enrol(catalog).await;

    // A serial that is a Custos camera's id makes nothing: the container
    // stays open, no recording, no camera changed.
    let a = open_container(catalog, "u_AXIS1_20261207T063000Z").await;
    let clash = completion(catalog, &a, "cam-1").await;
    assert!(matches!(
        catalog.complete_axis_recording(C, &clash, t(70_000)).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    let still = catalog.axis_container(C, &a.name).await.unwrap().unwrap();
    assert_eq!(still.completed_at, None);
    assert_eq!(still.metadata, a.metadata);
    assert_eq!(
        catalog.recording(a.recording_id.unwrap()).await.unwrap(),
        None
    );
    assert_eq!(
        catalog.device("cam-1").await.unwrap().unwrap().kind,
        DeviceKind::Custos
    );

    // Metadata changed since it was read: nothing happens.
    let mut stale = completion(catalog, &a, "AXIS1").await;
    stale.expected = r#"{"status":"Other"}"#.into();
    assert!(matches!(
        catalog.complete_axis_recording(C, &stale, t(70_000)).await,
        Err(CatalogError::Conflict(_))
    ));
    assert_eq!(catalog.device("AXIS1").await.unwrap(), None);

    // An object stored after the completion read the container's objects:
    // nothing completes with a digest that leaves it out.
    let done = completion(catalog, &a, "AXIS1").await;
    let late_clip = AxisObject {
        connection: C.into(),
        container: a.name.clone(),
        name: "20261207_063100_1.mp4".into(),
        metadata: "{}".into(),
        length: 10,
        sha256: [3; 32],
        md5: "0".repeat(32),
        blob_key: format!("axis/{}/late.age", a.name),
        age_header: vec![1],
        stored_at: t(60_000),
    };
    catalog
        .add_axis_pending_blob(&late_clip.blob_key, C, t(60_000))
        .await
        .unwrap();
    catalog.add_axis_object(&late_clip).await.unwrap();
    assert!(matches!(
        catalog.complete_axis_recording(C, &done, t(70_000)).await,
        Err(CatalogError::Conflict(_))
    ));
    assert_eq!(
        catalog
            .axis_container(C, &a.name)
            .await
            .unwrap()
            .unwrap()
            .completed_at,
        None
    );

    // Complete: the camera is made, the recording is the camera's first.
    let done = completion(catalog, &a, "AXIS1").await;
    let first = catalog
        .complete_axis_recording(C, &done, t(70_000))
        .await
        .unwrap();
    assert_eq!(first.sequence, 1);
    assert_eq!(
        Recording {
            sequence: 0,
            ..first.clone()
        },
        done.recording,
        "stored as given but for its sequence"
    );
    assert_eq!(
        catalog.recording(first.recording_id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        catalog.device("AXIS1").await.unwrap(),
        Some(axis_device("AXIS1"))
    );
    let closed = catalog.axis_container(C, &a.name).await.unwrap().unwrap();
    assert_eq!(closed.completed_at, Some(t(70_000)));
    assert_eq!(closed.metadata, done.metadata);
    // Once: a second completion finds no open container, and nothing more
    // goes in.
    assert!(matches!(
        catalog.complete_axis_recording(C, &done, t(70_001)).await,
        Err(CatalogError::NotFound { .. })
    ));
    let late = AxisObject {
        connection: C.into(),
        container: a.name.clone(),
        name: "late.mp4".into(),
        metadata: "{}".into(),
        length: 1,
        sha256: [1; 32],
        md5: "0".repeat(32),
        blob_key: "axis/late.age".into(),
        age_header: vec![1],
        stored_at: t(70_002),
    };
    catalog
        .add_axis_pending_blob(&late.blob_key, C, t(70_002))
        .await
        .unwrap();
    assert!(matches!(
        catalog.add_axis_object(&late).await,
        Err(CatalogError::NotFound { .. })
    ));
    // A camera's way in does not take it.
    assert!(matches!(
        catalog.commit_recording(&first, None).await,
        Err(CatalogError::Conflict(_))
    ));

    // The camera's next recording is its second; both are listed as any.
    let b = open_container(catalog, "u_AXIS1_20261207T070000Z").await;
    let second = catalog
        .complete_axis_recording(C, &completion(catalog, &b, "AXIS1").await, t(80_000))
        .await
        .unwrap();
    assert_eq!(second.sequence, 2);
    let page = catalog
        .search_recordings(&RecordingQuery {
            device_id: Some("AXIS1".into()),
            limit: 10,
            ..RecordingQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert!(page
        .recordings
        .iter()
        .all(|(r, held)| r.axis().is_some() && !held));

    // Deleted: the row, its objects (their keys) and the container's
    // metadata go in one transaction; the blobs are left to delete.
    let tomb = first.tombstone(t(90_000), "retention-period");
    assert_eq!(tomb.ciphertext_sha256, first.axis().unwrap().content_sha256);
    assert_eq!(
        catalog.replace_with_tombstones(&[tomb]).await.unwrap(),
        [first.recording_id]
    );
    assert_eq!(catalog.recording(first.recording_id).await.unwrap(), None);
    assert!(catalog.axis_objects(C, &a.name).await.unwrap().is_empty());
    let bare = catalog.axis_container(C, &a.name).await.unwrap().unwrap();
    assert_eq!(bare.metadata, r#"{"status":"Complete"}"#);
    assert_eq!(bare.completed_at, Some(t(70_000)));
    // The other recording keeps its objects.
    assert_eq!(catalog.axis_objects(C, &b.name).await.unwrap().len(), 2);
    let pending = catalog.tombstones_with_blob().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].blob_keys,
        [
            format!("axis/{}/20261207_063000_1.mp4.age", a.name),
            format!("axis/{}/bookmark_1796625010_1.age", a.name),
            format!("axis/{}/late.age", a.name),
        ]
    );
    catalog
        .mark_blobs_deleted(&[first.recording_id])
        .await
        .unwrap();
    assert!(catalog.tombstones_with_blob().await.unwrap().is_empty());
    let kept = catalog
        .tombstone(first.recording_id)
        .await
        .unwrap()
        .unwrap();
    assert!(kept.blob_deleted && kept.blob_keys.is_empty());

    // A sequence is never given twice, deleted or not.
    let c = open_container(catalog, "u_AXIS1_20261207T080000Z").await;
    catalog
        .replace_with_tombstones(&[second.tombstone(t(90_001), "retention-period")])
        .await
        .unwrap();
    let third = catalog
        .complete_axis_recording(C, &completion(catalog, &c, "AXIS1").await, t(95_000))
        .await
        .unwrap();
    assert_eq!(third.sequence, 3);

    // A camera revoked before the completion's transaction: nothing
    // completes (the caller reads the camera again and refuses).
    let d = open_container(catalog, "u_AXIS1_20261207T090000Z").await;
    let late = completion(catalog, &d, "AXIS1").await;
    catalog.revoke_device("AXIS1", t(96_000)).await.unwrap();
    assert!(matches!(
        catalog.complete_axis_recording(C, &late, t(97_000)).await,
        Err(CatalogError::NotFound { .. })
    ));
    assert_eq!(
        catalog
            .axis_container(C, &d.name)
            .await
            .unwrap()
            .unwrap()
            .completed_at,
        None
    );
}

/// Containers that never became a recording are found once untouched for
/// long enough and removed with their objects, their blobs left pending
/// for the clean-up; a container changed or completed meanwhile is not.
pub async fn axis_stale_container_story(catalog: &(impl Catalog + ?Sized)) {
    catalog
        .add_axis_connection(&crate::axis::connection(C, "k"))
        .await
        .unwrap();
    let given_up = open_container(catalog, "u_AXIS1_20261207T063000Z").await;
    let busy = open_container(catalog, "u_AXIS1_20261207T070000Z").await;
    // `busy` is changed later than `given_up`.
    catalog
        .update_axis_container(
            C,
            &busy.name,
            &busy.metadata,
            r#"{"status":"x"}"#,
            t(50),
            None,
        )
        .await
        .unwrap();
    let stale = catalog.stale_axis_containers(t(40), 10).await.unwrap();
    assert_eq!(
        stale.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        [given_up.name.as_str()]
    );
    let both = catalog.stale_axis_containers(t(51), 10).await.unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(
        catalog.stale_axis_containers(t(51), 1).await.unwrap().len(),
        1,
        "limited"
    );

    // Changed since it was read: not removed.
    let mut old = both[1].clone();
    old.updated_at = t(1);
    assert!(matches!(
        catalog.remove_axis_container(&old, t(60)).await,
        Err(CatalogError::NotFound { .. })
    ));
    let blobs = catalog
        .remove_axis_container(&stale[0], t(60))
        .await
        .unwrap();
    assert_eq!(blobs.len(), 2);
    assert_eq!(
        catalog.axis_container(C, &given_up.name).await.unwrap(),
        None
    );
    assert!(catalog
        .axis_objects(C, &given_up.name)
        .await
        .unwrap()
        .is_empty());
    let pending = catalog.axis_pending_blobs(t(61)).await.unwrap();
    assert_eq!(pending, blobs, "left for the clean-up");
    // Removed once.
    assert!(matches!(
        catalog.remove_axis_container(&stale[0], t(60)).await,
        Err(CatalogError::NotFound { .. })
    ));
    // A completed container is never stale.
    let done = catalog
        .complete_axis_recording(C, &completion(catalog, &busy, "AXIS1").await, t(70))
        .await;
    assert!(done.is_err(), "busy's metadata changed since it was read");
    let fresh = catalog
        .axis_container(C, &busy.name)
        .await
        .unwrap()
        .unwrap();
    let mut again = completion(catalog, &fresh, "AXIS1").await;
    again.expected = fresh.metadata.clone();
    catalog
        .complete_axis_recording(C, &again, t(70))
        .await
        .unwrap();
    assert!(catalog
        .stale_axis_containers(t(10_000), 10)
        .await
        .unwrap()
        .is_empty());
}
