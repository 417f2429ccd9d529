//! Requests for accounts that can see footage: made, decided once (approved
//! or refused, whoever races), used once before they expire, and found by
//! the hash of their link's token.

use custos_catalog::*;
use futures::future::join_all;
use uuid::Uuid;

use crate::t;

fn request(name: &str, kind: &str, at: i64) -> Activation {
    Activation {
        activation_id: Uuid::now_v7(),
        user_name: name.into(),
        kind: kind.into(),
        role: "reviewer".into(),
        officer_id: None,
        requested_by: "adam".into(),
        requested_at: t(at),
        approved_by: None,
        approved_at: None,
        rejected_by: None,
        rejected_at: None,
        token_sha256: None,
        expires_at: None,
        activated_at: None,
    }
}

pub async fn activation_story(catalog: &(impl UserStore + ?Sized)) {
    let rita = request("rita", "add", 1);
    catalog.add_activation(&rita).await.unwrap();
    assert!(matches!(
        catalog.add_activation(&rita).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    assert_eq!(
        catalog.activation(rita.activation_id).await.unwrap(),
        Some(rita.clone())
    );
    assert_eq!(catalog.open_activations_for("rita", t(2)).await.unwrap(), 1);
    assert_eq!(catalog.open_activations_for("rob", t(2)).await.unwrap(), 0);

    // Decided once: of ten approvals and ten refusals at once, one wins.
    let tries = (0..10).map(|i| {
        let id = rita.activation_id;
        async move {
            let token = format!("{i:064x}");
            (
                catalog
                    .approve_activation(id, "petra", t(3), &token, t(3 + 72 * 3_600_000))
                    .await
                    .unwrap(),
                catalog.reject_activation(id, "paul", t(3)).await.unwrap(),
            )
        }
    });
    let outcomes = join_all(tries).await;
    let won =
        outcomes.iter().filter(|(a, _)| *a).count() + outcomes.iter().filter(|(_, r)| *r).count();
    assert_eq!(won, 1, "{outcomes:?}");
    let decided = catalog
        .activation(rita.activation_id)
        .await
        .unwrap()
        .unwrap();
    assert!(decided.approved_at.is_some() != decided.rejected_at.is_some());

    // A fresh request, approved: found by its token's hash, used once,
    // never after it expired.
    let rob = request("rob", "reset", 10);
    catalog.add_activation(&rob).await.unwrap();
    let hash = "ab".repeat(32);
    assert!(catalog
        .approve_activation(rob.activation_id, "petra", t(11), &hash, t(100))
        .await
        .unwrap());
    assert!(!catalog
        .reject_activation(rob.activation_id, "petra", t(12))
        .await
        .unwrap());
    let found = catalog.activation_by_token(&hash).await.unwrap().unwrap();
    assert_eq!(
        (
            found.activation_id,
            found.approved_by.as_deref(),
            found.expires_at
        ),
        (rob.activation_id, Some("petra"), Some(t(100)))
    );
    assert!(catalog
        .activation_by_token(&"cd".repeat(32))
        .await
        .unwrap()
        .is_none());
    assert!(
        !catalog
            .finish_activation(rob.activation_id, t(100))
            .await
            .unwrap(),
        "expired"
    );
    assert_eq!(catalog.open_activations_for("rob", t(50)).await.unwrap(), 1);
    assert_eq!(
        catalog.open_activations_for("rob", t(100)).await.unwrap(),
        0
    );
    assert!(catalog
        .finish_activation(rob.activation_id, t(99))
        .await
        .unwrap());
    assert!(
        !catalog
            .finish_activation(rob.activation_id, t(99))
            .await
            .unwrap(),
        "once"
    );
    assert!(
        catalog.activation_by_token(&hash).await.unwrap().is_none(),
        "a used link's token is forgotten"
    );
    assert_eq!(catalog.open_activations_for("rob", t(50)).await.unwrap(), 0);
    // Unapproved: cannot be used.
    let eve = request("eve", "add", 20);
    catalog.add_activation(&eve).await.unwrap();
    assert!(!catalog
        .finish_activation(eve.activation_id, t(21))
        .await
        .unwrap());

    let listed = catalog.activations().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|a| a.user_name.as_str())
            .collect::<Vec<_>>(),
        ["eve", "rob", "rita"],
        "newest first"
    );
}
