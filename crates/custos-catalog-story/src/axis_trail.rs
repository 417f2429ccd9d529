//! Where Axis cameras were (issue 23 point 3): each Axis recording's GNSS
//! trail as read, kept once per recording with its points in order,
//! listed until read, gone with the recording.

use custos_catalog::*;

use crate::axis_recordings::{completion, open_container, C};
use crate::*;

fn trail(recording_id: uuid::Uuid, outcome: TrailOutcome, at: i64) -> AxisTrail {
    let points = match outcome {
        TrailOutcome::Read => vec![
            TrailPoint {
                at: t(at - 2_000),
                lat_e7: 557_184_090,
                lon_e7: 132_211_840,
            },
            // Extremes survive the round trip, in order.
            TrailPoint {
                at: t(at - 1_000),
                lat_e7: -900_000_000,
                lon_e7: 1_800_000_000,
            },
        ],
        _ => Vec::new(),
    };
    AxisTrail {
        recording_id,
        outcome,
        points,
        detail: (outcome == TrailOutcome::Unreadable).then(|| "entry 0: LocationWKT".into()),
        read_at: t(at),
    }
}

pub async fn axis_trail_story(catalog: &(impl Catalog + ?Sized)) {
    catalog
        .add_axis_connection(&crate::axis::connection(C, "k"))
        .await
        .unwrap();
    enrol(catalog).await;
    // A Custos camera's recording is never listed: its places are in its
    // manifest.
    catalog
        .commit_recording(&recording("cam-1", 1), None)
        .await
        .unwrap();
    assert!(catalog.unread_axis_trails(10).await.unwrap().is_empty());

    let mut made = Vec::new();
    for name in [
        "u_AXIS1_20261207T063000Z",
        "u_AXIS1_20261207T070000Z",
        "u_AXIS1_20261207T073000Z",
    ] {
        let c = open_container(catalog, name).await;
        let r = catalog
            .complete_axis_recording(C, &completion(catalog, &c, "AXIS1").await, t(70_000))
            .await
            .unwrap();
        made.push(r.recording_id);
    }
    assert_eq!(
        catalog.unread_axis_trails(10).await.unwrap(),
        made,
        "oldest first"
    );
    assert_eq!(catalog.unread_axis_trails(1).await.unwrap(), [made[0]]);
    assert_eq!(catalog.axis_trail(made[0]).await.unwrap(), None);

    // Each outcome kept as it was, once: a second reading keeps the first.
    for (id, outcome) in made.iter().zip(TrailOutcome::ALL) {
        assert!(catalog
            .add_axis_trail(&trail(*id, outcome, 71_000))
            .await
            .unwrap());
        assert_eq!(
            catalog.axis_trail(*id).await.unwrap(),
            Some(trail(*id, outcome, 71_000)),
            "{outcome:?}"
        );
    }
    assert!(!catalog
        .add_axis_trail(&trail(made[1], TrailOutcome::Read, 72_000))
        .await
        .unwrap());
    assert_eq!(
        catalog.axis_trail(made[1]).await.unwrap().unwrap().outcome,
        TrailOutcome::None
    );
    assert!(catalog.unread_axis_trails(10).await.unwrap().is_empty());
    // None for a recording that does not exist.
    let nobody = uuid::Uuid::now_v7();
    assert!(!catalog
        .add_axis_trail(&trail(nobody, TrailOutcome::Read, 72_000))
        .await
        .unwrap());
    assert_eq!(catalog.axis_trail(nobody).await.unwrap(), None);

    // Gone with its recording: where the camera was is personal data.
    let row = catalog.recording(made[0]).await.unwrap().unwrap();
    catalog
        .replace_with_tombstones(&[row.tombstone(t(90_000), "retention-period")])
        .await
        .unwrap();
    assert_eq!(catalog.axis_trail(made[0]).await.unwrap(), None);
    assert!(catalog.axis_trail(made[2]).await.unwrap().is_some());
}
