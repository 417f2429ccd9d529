//! Cases, holds and links.

use custos_catalog::*;
use uuid::Uuid;

use crate::*;

/// Cases and holds: a hold keeps a recording until released or its case closes.
pub async fn hold_story(
    catalog: &(impl DeviceStore + RecordingStore + RetentionStore + CaseStore + ?Sized),
) {
    three_recordings(catalog).await;
    let all = catalog.recordings().await.unwrap();
    let held = all[0].clone();
    let day28 = t(28 * 86_400_000);
    let case = Case {
        case_id: "K-1".into(),
        kind: "complaint".into(),
        reference: None,
        label: "complaint about an arrest".into(),
        opened_by: "anna".into(),
        opened_at: t(20),
        due_at: None,
        closed_by: None,
        closed_at: None,
    };
    catalog.add_case(&case).await.unwrap();
    assert!(matches!(
        catalog.add_case(&case).await,
        Err(CatalogError::AlreadyExists { .. })
    ));
    let hold = Hold {
        hold_id: Uuid::now_v7(),
        case_id: "K-1".into(),
        recording_id: held.recording_id,
        reason: "complaint".into(),
        placed_by: "anna".into(),
        placed_at: t(21),
        approved_by: None,
        approved_at: None,
        released_by: None,
        released_at: None,
    };
    catalog.add_hold(&hold).await.unwrap();
    let due = catalog.due_recordings(day28, 100).await.unwrap();
    assert_eq!(
        due.len(),
        2,
        "a hold, even one awaiting approval, keeps a recording"
    );
    assert!(due.iter().all(|r| r.recording_id != held.recording_id));
    catalog
        .approve_hold(hold.hold_id, "bert", t(22))
        .await
        .unwrap();
    assert!(
        catalog
            .approve_hold(hold.hold_id, "bert", t(22))
            .await
            .is_err(),
        "approved once"
    );
    assert_eq!(
        catalog
            .holds_for_recording(held.recording_id)
            .await
            .unwrap()[0]
            .approved_by
            .as_deref(),
        Some("bert")
    );
    // A second hold on the same case, released on its own before the case closes.
    let second = Hold {
        hold_id: Uuid::now_v7(),
        reason: "second look".into(),
        ..hold.clone()
    };
    catalog.add_hold(&second).await.unwrap();
    catalog
        .release_hold(second.hold_id, "bert", t(22))
        .await
        .unwrap();
    assert!(
        catalog
            .release_hold(second.hold_id, "bert", t(22))
            .await
            .is_err(),
        "released once"
    );
    assert!(catalog
        .release_hold(Uuid::now_v7(), "bert", t(22))
        .await
        .is_err());
    let second = catalog.hold(second.hold_id).await.unwrap().unwrap();
    assert_eq!(
        (second.released_by.as_deref(), second.released_at),
        (Some("bert"), Some(t(22)))
    );
    let released = catalog.close_case("K-1", "anna", t(23)).await.unwrap();
    assert_eq!(released.len(), 1, "only the hold still in force");
    assert_eq!(released[0].released_at, Some(t(23)));
    assert!(
        catalog.close_case("K-1", "anna", t(24)).await.is_err(),
        "closed once"
    );
    assert_eq!(
        catalog.case("K-1").await.unwrap().unwrap().closed_at,
        Some(t(23))
    );
    assert_eq!(
        catalog.holds_for_case("K-1").await.unwrap()[0]
            .released_by
            .as_deref(),
        Some("anna")
    );
    assert_eq!(catalog.due_recordings(day28, 100).await.unwrap().len(), 3);
}

/// A case and a recording read together, and recordings linked to a case.
pub async fn case_link_story(catalog: &(impl DeviceStore + RecordingStore + CaseStore + ?Sized)) {
    three_recordings(catalog).await;
    let held = catalog.recordings().await.unwrap()[0].clone();
    // A case whose hold of `held` was released when it closed.
    let case = Case {
        case_id: "K-1".into(),
        kind: "complaint".into(),
        reference: None,
        label: "complaint about an arrest".into(),
        opened_by: "anna".into(),
        opened_at: t(20),
        due_at: None,
        closed_by: None,
        closed_at: None,
    };
    catalog.add_case(&case).await.unwrap();
    let hold = Hold {
        hold_id: Uuid::now_v7(),
        case_id: "K-1".into(),
        recording_id: held.recording_id,
        reason: "complaint".into(),
        placed_by: "anna".into(),
        placed_at: t(21),
        approved_by: None,
        approved_at: None,
        released_by: None,
        released_at: None,
    };
    catalog.add_hold(&hold).await.unwrap();
    catalog.close_case("K-1", "anna", t(23)).await.unwrap();
    // A case and a recording in one read, each if it exists, and whether
    // the recording is attached to the case (a hold of it, in any state).
    let found = catalog
        .case_and_recording("K-1", held.recording_id)
        .await
        .unwrap();
    assert_eq!(found.case, catalog.case("K-1").await.unwrap());
    assert_eq!(
        found.recording,
        catalog.recording(held.recording_id).await.unwrap()
    );
    assert!(found.case.is_some() && found.recording.is_some());
    assert!(found.attached, "a released hold still attached it");
    let found = catalog
        .case_and_recording("no-such-case", Uuid::now_v7())
        .await
        .unwrap();
    assert!(found.case.is_none() && found.recording.is_none() && !found.attached);
    let found = catalog
        .case_and_recording("no-such-case", held.recording_id)
        .await
        .unwrap();
    assert!(found.case.is_none() && found.recording.is_some() && !found.attached);
    // Another recording is attached only once linked, with its reason;
    // the first link stands.
    let other = catalog
        .recordings()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.recording_id != held.recording_id)
        .expect("a second recording");
    let found = catalog
        .case_and_recording("K-1", other.recording_id)
        .await
        .unwrap();
    assert!(found.case.is_some() && found.recording.is_some() && !found.attached);
    let link = CaseLink {
        case_id: "K-1".into(),
        recording_id: other.recording_id,
        reason: "seen at the scene".into(),
        linked_by: "anna".into(),
        linked_at: t(25),
    };
    assert!(catalog.link_recording(&link).await.unwrap());
    let again = CaseLink {
        reason: "another reason".into(),
        linked_at: t(26),
        ..link.clone()
    };
    assert!(!catalog.link_recording(&again).await.unwrap());
    assert_eq!(catalog.case_links("K-1").await.unwrap(), vec![link]);
    assert!(catalog.case_links("no-such-case").await.unwrap().is_empty());
    assert!(
        catalog
            .case_and_recording("K-1", other.recording_id)
            .await
            .unwrap()
            .attached
    );
}
