//! Axis system controllers' connections and their tokens (ADR 0017).

use custos_catalog::*;

use crate::*;

fn connection(name: &str, key: &str) -> AxisConnection {
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
}
