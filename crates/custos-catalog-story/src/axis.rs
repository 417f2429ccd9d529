//! Axis system controllers' connections and their tokens (ADR 0017).

use custos_catalog::*;

use crate::*;

pub(crate) fn connection(name: &str, key: &str) -> AxisConnection {
    AxisConnection {
        name: name.into(),
        key_sha256: key.into(),
        created_at: t(0),
        rotated_at: None,
        revoked_at: None,
    }
}

fn token(sha: &str, connection: &str, expires: i64) -> AxisToken {
    AxisToken {
        token_sha256: sha.into(),
        connection: connection.into(),
        expires_at: t(expires),
    }
}

/// A connection's tokens stand for it until they expire, its key is
/// rotated or it is revoked; a revoked connection takes no token and no
/// new key, and its name stays taken.
pub async fn axis_story(catalog: &(impl AxisStore + ?Sized)) {
    catalog
        .add_axis_connection(&connection("scu-1", "k1"))
        .await
        .unwrap();
    catalog
        .add_axis_connection(&connection("scu-2", "k2"))
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .add_axis_connection(&connection("scu-1", "other"))
            .await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.axis_connection("scu-1").await.unwrap(),
        Some(connection("scu-1", "k1"))
    );
    assert_eq!(catalog.axis_connection("nobody").await.unwrap(), None);

    // A token stands for its connection until it expires.
    catalog
        .add_axis_token(&token("t1", "scu-1", 900), t(0))
        .await
        .unwrap();
    catalog
        .add_axis_token(&token("t2", "scu-2", 900), t(0))
        .await
        .unwrap();
    let found = catalog.axis_token("t1", t(899)).await.unwrap().unwrap();
    assert_eq!(found.name, "scu-1");
    assert_eq!(
        catalog.axis_token("t1", t(900)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(catalog.axis_token("unknown", t(1)).await.unwrap(), None);
    assert!(matches!(
        catalog
            .add_axis_token(&token("t3", "nobody", 900), t(0))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog
            .add_axis_token(&token("t1", "scu-1", 900), t(0))
            .await,
        Err(CatalogError::AlreadyExists { .. })
    ));

    // A rotation replaces the key and ends the connection's tokens, not
    // another connection's.
    catalog
        .rotate_axis_connection("scu-1", "k1-new", t(10))
        .await
        .unwrap();
    let rotated = catalog.axis_connection("scu-1").await.unwrap().unwrap();
    assert_eq!(
        (rotated.key_sha256.as_str(), rotated.rotated_at),
        ("k1-new", Some(t(10)))
    );
    assert_eq!(catalog.axis_token("t1", t(11)).await.unwrap(), None);
    assert!(catalog.axis_token("t2", t(11)).await.unwrap().is_some());
    assert!(matches!(
        catalog.rotate_axis_connection("nobody", "k", t(10)).await,
        Err(CatalogError::NotFound { .. })
    ));

    // A revocation ends it for good: its tokens, new tokens, new keys.
    catalog
        .revoke_axis_connection("scu-2", t(20))
        .await
        .unwrap();
    catalog
        .revoke_axis_connection("scu-2", t(30))
        .await
        .unwrap();
    let revoked = catalog.axis_connection("scu-2").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(t(20)), "the first revocation");
    assert_eq!(catalog.axis_token("t2", t(21)).await.unwrap(), None);
    assert!(matches!(
        catalog
            .add_axis_token(&token("t4", "scu-2", 900), t(21))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog.rotate_axis_connection("scu-2", "k", t(22)).await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog.add_axis_connection(&connection("scu-2", "k")).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert!(matches!(
        catalog.revoke_axis_connection("nobody", t(20)).await,
        Err(CatalogError::NotFound { .. })
    ));

    // Expired tokens go when the next one is kept.
    catalog
        .add_axis_token(&token("t5", "scu-1", 100), t(30))
        .await
        .unwrap();
    catalog
        .add_axis_token(&token("t6", "scu-1", 2000), t(1000))
        .await
        .unwrap();
    assert_eq!(catalog.axis_token("t5", t(50)).await.unwrap(), None);
    assert!(catalog.axis_token("t6", t(1001)).await.unwrap().is_some());
    let names: Vec<String> = catalog
        .axis_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["scu-1", "scu-2"]);

    // Content keys: kept in order, per connection, byte for byte; none for
    // a revoked or unknown connection, no id twice.
    let key = |connection: &str, id: &str, at: i64| AxisContentKey {
        connection: connection.into(),
        key_id: id.into(),
        public_pem: format!("-----BEGIN PUBLIC KEY-----\n{id}\n"),
        sealed: vec![0, 255, at as u8, 7],
        created_at: t(at),
    };
    assert!(catalog.axis_content_keys("scu-1").await.unwrap().is_empty());
    catalog
        .add_axis_content_key(&key("scu-1", "custos-b", 40))
        .await
        .unwrap();
    catalog
        .add_axis_content_key(&key("scu-1", "custos-a", 50))
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .add_axis_content_key(&key("scu-1", "custos-a", 60))
            .await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    for refused in ["scu-2", "nobody"] {
        assert!(matches!(
            catalog
                .add_axis_content_key(&key(refused, "custos-c", 60))
                .await,
            Err(CatalogError::NotFound { .. })
        ));
        assert!(catalog.axis_content_keys(refused).await.unwrap().is_empty());
    }
    assert_eq!(
        catalog.axis_content_keys("scu-1").await.unwrap(),
        [key("scu-1", "custos-b", 40), key("scu-1", "custos-a", 50)],
        "oldest first, as stored"
    );
}

fn container(connection: &str, name: &str) -> AxisContainer {
    AxisContainer {
        connection: connection.into(),
        name: name.into(),
        recording_id: Some(uuid::Uuid::now_v7()),
        metadata: r#"{"status":"Transferring"}"#.into(),
        created_at: t(0),
        updated_at: t(0),
        completed_at: None,
    }
}

fn object(connection: &str, container: &str, name: &str) -> AxisObject {
    AxisObject {
        connection: connection.into(),
        container: container.into(),
        name: name.into(),
        metadata: "{}".into(),
        length: 5_000_000_000,
        sha256: [7; 32],
        md5: "0".repeat(32),
        blob_key: format!("axis/{connection}/{container}/{name}.age"),
        age_header: b"age-encryption.org/v1\n--- x\n".to_vec(),
        stored_at: t(5),
    }
}

/// `o` with its blob named pending first, as the server adds objects.
async fn add_object(catalog: &(impl AxisStore + ?Sized), o: &AxisObject) -> Result<()> {
    catalog
        .add_axis_pending_blob(&o.blob_key, &o.connection, o.stored_at)
        .await?;
    catalog.add_axis_object(o).await
}

/// Containers are a connection's own; objects go only into an open
/// container, once per name; `Status=Complete` closes a container for good.
pub async fn axis_container_story(catalog: &(impl AxisStore + ?Sized)) {
    for name in ["scu-1", "scu-2"] {
        catalog
            .add_axis_connection(&connection(name, "k"))
            .await
            .unwrap();
    }
    let rec = container("scu-1", "u_s_20261207T063000Z");
    catalog.add_axis_container(&rec).await.unwrap();
    // The same name on another connection is another container.
    let other = container("scu-2", "u_s_20261207T063000Z");
    catalog.add_axis_container(&other).await.unwrap();
    assert!(matches!(
        catalog.add_axis_container(&rec).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.axis_container("scu-1", &rec.name).await.unwrap(),
        Some(rec.clone())
    );
    assert_eq!(catalog.axis_container("scu-1", "none").await.unwrap(), None);
    // `Users` is no recording: it is never complete, nor counted as open.
    let users = AxisContainer {
        recording_id: None,
        ..container("scu-1", "Users")
    };
    catalog.add_axis_container(&users).await.unwrap();
    assert_eq!(
        catalog.open_axis_containers("scu-1", t(0)).await.unwrap(),
        1
    );
    // One untouched since before `active_since` no longer counts.
    assert_eq!(
        catalog.open_axis_containers("scu-1", t(1)).await.unwrap(),
        0
    );

    // Objects: once per name, only where the container exists.
    let clip = object("scu-1", &rec.name, "20261207T063000Z_1.mp4");
    add_object(catalog, &clip).await.unwrap();
    assert!(matches!(
        add_object(
            catalog,
            &AxisObject {
                blob_key: "axis/twice.age".into(),
                ..clip.clone()
            }
        )
        .await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert!(matches!(
        catalog
            .add_axis_object(&object("scu-1", "missing", "a.mp4"))
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    let mut key = object("scu-1", &rec.name, "20261207T063000Z_1.key");
    key.blob_key = "axis/other.age".into();
    add_object(catalog, &key).await.unwrap();
    assert_eq!(
        catalog
            .axis_object("scu-1", &rec.name, &clip.name)
            .await
            .unwrap(),
        Some(clip.clone())
    );
    assert_eq!(
        catalog
            .axis_object("scu-2", &rec.name, &clip.name)
            .await
            .unwrap(),
        None
    );
    let names: Vec<String> = catalog
        .axis_objects("scu-1", &rec.name)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, [key.name.clone(), clip.name.clone()]);
    assert!(catalog
        .axis_objects("scu-2", &rec.name)
        .await
        .unwrap()
        .is_empty());
    catalog
        .set_axis_object_metadata("scu-1", &rec.name, &clip.name, r#"{"a":"b"}"#)
        .await
        .unwrap();
    let changed = catalog
        .axis_object("scu-1", &rec.name, &clip.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.metadata, r#"{"a":"b"}"#);

    // An update made on stale metadata is a conflict and changes nothing.
    assert!(matches!(
        catalog
            .update_axis_container("scu-1", &rec.name, "{}", r#"{"a":"b"}"#, t(8), None)
            .await,
        Err(CatalogError::Conflict(_))
    ));
    // Complete: the container and its objects change no more.
    catalog
        .update_axis_container(
            "scu-1",
            &rec.name,
            &rec.metadata,
            r#"{"status":"Complete"}"#,
            t(9),
            Some(t(9)),
        )
        .await
        .unwrap();
    let done = catalog
        .axis_container("scu-1", &rec.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.metadata.as_str(), done.updated_at, done.completed_at),
        (r#"{"status":"Complete"}"#, t(9), Some(t(9)))
    );
    assert_eq!(
        catalog.open_axis_containers("scu-1", t(0)).await.unwrap(),
        0
    );
    assert_eq!(
        catalog.open_axis_containers("scu-2", t(0)).await.unwrap(),
        1
    );
    assert!(matches!(
        catalog
            .update_axis_container(
                "scu-1",
                &rec.name,
                r#"{"status":"Complete"}"#,
                "{}",
                t(10),
                None
            )
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    let mut late = object("scu-1", &rec.name, "late.mp4");
    late.blob_key = "axis/late.age".into();
    assert!(matches!(
        add_object(catalog, &late).await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog
            .set_axis_object_metadata("scu-1", &rec.name, &clip.name, "{}")
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert_eq!(
        catalog
            .axis_object("scu-1", &rec.name, &clip.name)
            .await
            .unwrap()
            .unwrap()
            .metadata,
        r#"{"a":"b"}"#
    );
}

/// A blob is named before it is written; its object's commit unnames it; a
/// revoked connection adds no object.
pub async fn axis_pending_blob_story(catalog: &(impl AxisStore + ?Sized)) {
    catalog
        .add_axis_connection(&connection("scu-1", "k"))
        .await
        .unwrap();
    let rec = container("scu-1", "u_s_20261207T063000Z");
    catalog.add_axis_container(&rec).await.unwrap();
    let clip = object("scu-1", &rec.name, "1.mp4");
    catalog
        .add_axis_pending_blob(&clip.blob_key, "scu-1", t(1))
        .await
        .unwrap();
    catalog
        .add_axis_pending_blob("axis/crashed.age", "scu-1", t(1))
        .await
        .unwrap();
    assert!(matches!(
        catalog
            .add_axis_pending_blob("axis/crashed.age", "scu-1", t(2))
            .await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    catalog.add_axis_object(&clip).await.unwrap();
    assert_eq!(
        catalog.axis_pending_blobs(t(2)).await.unwrap(),
        ["axis/crashed.age"]
    );
    assert!(catalog.axis_pending_blobs(t(1)).await.unwrap().is_empty());
    // The clean-up takes a name once; an object whose name it took is not
    // committed (its blob is being deleted).
    assert!(catalog
        .remove_axis_pending_blob("axis/crashed.age")
        .await
        .unwrap());
    assert!(!catalog
        .remove_axis_pending_blob("axis/crashed.age")
        .await
        .unwrap());
    let mut claimed = object("scu-1", &rec.name, "crashed.mp4");
    claimed.blob_key = "axis/crashed.age".into();
    assert!(matches!(
        catalog.add_axis_object(&claimed).await,
        Err(CatalogError::Conflict(_))
    ));
    assert!(catalog.axis_pending_blobs(t(9)).await.unwrap().is_empty());
    let container_now = catalog
        .axis_container("scu-1", &rec.name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        container_now.updated_at, clip.stored_at,
        "an object is a change"
    );
    catalog.revoke_axis_connection("scu-1", t(3)).await.unwrap();
    let mut late = object("scu-1", &rec.name, "2.mp4");
    late.blob_key = "axis/late.age".into();
    assert!(matches!(
        catalog.add_axis_object(&late).await,
        Err(CatalogError::NotFound { .. })
    ));
    assert!(matches!(
        catalog
            .set_axis_object_metadata("scu-1", &rec.name, &clip.name, "{}")
            .await,
        Err(CatalogError::NotFound { .. })
    ));
    assert_eq!(
        catalog
            .axis_objects("scu-1", &rec.name)
            .await
            .unwrap()
            .len(),
        1
    );
}
