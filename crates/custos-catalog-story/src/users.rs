//! Accounts and sessions.

use custos_catalog::*;

use crate::*;

fn anna() -> User {
    User {
        name: "anna".into(),
        role: "reviewer".into(),
        officer_id: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret_sealed: vec![1, 2, 3],
        failed_attempts: 0,
        locked_until: None,
        totp_last_step: None,
        created_at: t(12),
        disabled_at: None,
        password_must_change: true,
    }
}

/// Accounts: one per name, their sign-in state, a new phone.
pub async fn user_story(catalog: &(impl UserStore + ?Sized)) {
    let anna = anna();
    catalog.add_user(&anna).await.unwrap();
    assert!(matches!(
        catalog.add_user(&anna).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(catalog.user("anna").await.unwrap(), Some(anna.clone()));
    assert_eq!(catalog.user("bob").await.unwrap(), None);
    catalog
        .set_login_state("anna", 5, Some(t(13)), Some(99))
        .await
        .unwrap();
    let locked = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(
        (
            locked.failed_attempts,
            locked.locked_until,
            locked.totp_last_step
        ),
        (5, Some(t(13)), Some(99))
    );
    assert!(catalog.set_login_state("bob", 1, None, None).await.is_err());
    // A new phone: a new sealed secret, the old step forgotten.
    catalog
        .reset_totp("anna", b"new sealed", t(17))
        .await
        .unwrap();
    let anna = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(anna.totp_secret_sealed, b"new sealed");
    assert_eq!(
        (anna.totp_last_step, anna.failed_attempts, anna.locked_until),
        (None, 0, None)
    );
    assert!(catalog.reset_totp("nobody", b"x", t(17)).await.is_err());
}

/// Sessions: read with their user, touched, ended by a new password or by
/// disabling the account.
pub async fn session_story(catalog: &(impl UserStore + SessionStore + ?Sized)) {
    catalog.add_user(&anna()).await.unwrap();
    // Locked, so that a new password's clearing of the lock shows.
    catalog
        .set_login_state("anna", 5, Some(t(13)), Some(99))
        .await
        .unwrap();
    let session = Session {
        token_sha256: "ab".repeat(32),
        user_name: "anna".into(),
        csrf_token: "csrf".into(),
        created_at: t(14),
        last_seen: t(14),
        ended_at: None,
    };
    catalog.add_session(&session).await.unwrap();
    let (found, user) = catalog
        .session_with_user(&session.token_sha256)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, session);
    assert_eq!(user, catalog.user("anna").await.unwrap().unwrap());
    assert!(catalog
        .session_with_user(&"00".repeat(32))
        .await
        .unwrap()
        .is_none());
    catalog
        .touch_session(&session.token_sha256, t(15))
        .await
        .unwrap();
    catalog
        .touch_session(&session.token_sha256, t(14))
        .await
        .unwrap();
    assert_eq!(
        catalog
            .session(&session.token_sha256)
            .await
            .unwrap()
            .unwrap()
            .last_seen,
        t(15),
        "last_seen never goes back"
    );
    // A new password ends every other session, clears the lock, and can
    // lift (or set) the duty to change it.
    let other = Session {
        token_sha256: "cd".repeat(32),
        ..session.clone()
    };
    catalog.add_session(&other).await.unwrap();
    catalog
        .set_password(
            "anna",
            "$argon2id$new",
            false,
            Some(&session.token_sha256),
            t(15),
        )
        .await
        .unwrap();
    let changed = catalog.user("anna").await.unwrap().unwrap();
    assert_eq!(
        (
            changed.password_hash.as_str(),
            changed.password_must_change,
            changed.failed_attempts,
            changed.locked_until
        ),
        ("$argon2id$new", false, 0, None)
    );
    let ended = |token: String| {
        let catalog = &catalog;
        async move { catalog.session(&token).await.unwrap().unwrap().ended_at }
    };
    assert_eq!(ended(session.token_sha256.clone()).await, None, "kept");
    assert_eq!(ended(other.token_sha256.clone()).await, Some(t(15)));
    assert!(matches!(
        catalog.set_password("bob", "x", true, None, t(15)).await,
        Err(CatalogError::NotFound { .. })
    ));
    catalog.disable_user("anna", t(16)).await.unwrap();
    assert_eq!(
        catalog
            .session(&session.token_sha256)
            .await
            .unwrap()
            .unwrap()
            .ended_at,
        Some(t(16)),
        "disabling a user ends their sessions"
    );
    assert_eq!(catalog.users().await.unwrap().len(), 1);
}
