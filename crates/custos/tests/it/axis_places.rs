//! Where an Axis camera was (issue 23 point 3): a recording's GNSS trail
//! is read when the recording completes — in the clear, or opened with its
//! key file where the camera encrypted it — and its positions place the
//! recording for the subject access search, on the recording's page and in
//! the API; a trail that does not read leaves the place unknown, said so,
//! and never holds up the completion.

use crate::axis_encryption::{camera, put};
use crate::axis_swift::*;
use crate::common::*;

pub(crate) const TRAIL: &str = "20260823_114700_4711_ACCC8EF0A1B2_gpstrail.json";
const START: i64 = 1_787_485_620;

/// A trail through Rotterdam's Coolsingel (51.9222 N, 4.4790 E) as the
/// spec writes one: WKT's longitude first.
pub(crate) fn trail() -> Vec<u8> {
    serde_json::json!({"CoordinateEntries": [
        {"LocationWKT": "POINT(4.4790 51.9222)", "SecondsFromStart": 2.0, "Timestamp": "2026-08-23T11:47:02Z"},
        {"LocationWKT": "POINT(4.4801 51.9230)", "SecondsFromStart": 30.0, "Timestamp": "2026-08-23T11:47:30Z"},
        {"LocationWKT": "POINT(4.4815 51.9241)", "SecondsFromStart": 60.0, "Timestamp": "2026-08-23T11:48:00Z"}
    ]})
    .to_string()
    .into_bytes()
}

/// An object to upload: its name, headers and bytes.
pub(crate) type Upload<'a> = (&'a str, Vec<(&'a str, String)>, Vec<u8>);

/// A completed recording with one clip and `objects` beside it (name,
/// headers, bytes): its id.
pub(crate) async fn recording(s: &Scu, objects: &[Upload<'_>]) -> uuid::Uuid {
    s.recording().await;
    put(
        s,
        "1787485620_1.mp4",
        &[("X-Object-Meta-Containertype", "mp4")],
        b"clip",
    )
    .await;
    for (name, headers, bytes) in objects {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        put(s, name, &headers, bytes).await;
    }
    let done = s.complete().await;
    assert_eq!(done.status, Some(204), "{}", done.head);
    s.w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id
}

/// A subject access request `case` opened by `token` for the window
/// `from`..`to` (epoch seconds) at `place` (or none: `null`), and what its
/// search found and held.
pub(crate) async fn searched(
    w: &World,
    token: &str,
    case: &str,
    (from, to): (i64, i64),
    place: serde_json::Value,
) -> serde_json::Value {
    let at = |secs: i64| {
        serde_json::to_value(custos_format::UtcMillis::from_millis(secs * 1000).unwrap()).unwrap()
    };
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(token),
            Some(serde_json::json!({
                "case_id": case, "requester": "A. Visser", "identity_check": "ID card",
                "description": "spoken to on the Coolsingel",
                "window_from": at(from), "window_to": at(to),
                "place": place,
                "received_at": at(START + 86_400),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.json());
    let found = w
        .call(
            "POST",
            &format!("/api/v1/subject-requests/{case}/search"),
            Some(token),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.json());
    found.json()
}

/// A privacy officer's request for the recording's window at `place`;
/// what its search found (recording id, distance, place known).
async fn search(
    w: &World,
    case: &str,
    place: serde_json::Value,
) -> Vec<(String, Option<u64>, bool)> {
    let petra = w
        .add_user(
            &format!("p-{}", case.to_lowercase()),
            "privacy-officer",
            None,
        )
        .await;
    let tp = w.sign_in(&petra).await;
    searched(w, &tp, case, (START + 10, START + 40), place)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["recording_id"].as_str().unwrap().to_owned(),
                c["distance_m"].as_u64(),
                c["location_known"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// What reading the recording's trail kept.
async fn kept_trail(w: &World, id: uuid::Uuid) -> custos_catalog::AxisTrail {
    w.server
        .deployment
        .catalog
        .axis_trail(id)
        .await
        .unwrap()
        .expect("read as the recording completed")
}

/// A completed recording whose trail the camera encrypted, its key
/// wrapped to `public_pem`.
async fn encrypted_trail(s: &Scu, public_pem: &str, key_id: Option<&str>) -> uuid::Uuid {
    let (cipher, key_file) = camera(&trail(), [0x5a; 32], public_pem, key_id);
    let key_name = TRAIL.replace(".json", ".key");
    recording(
        s,
        &[
            (TRAIL, vec![], cipher),
            (
                &key_name,
                vec![("X-Object-Meta-Filetype", "key".to_owned())],
                key_file,
            ),
        ],
    )
    .await
}

async fn gnss_detail(w: &World, id: uuid::Uuid) -> serde_json::Value {
    let admin = w.add_user("rob", "reviewer", None).await;
    let token = w.sign_in(&admin).await;
    let got = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(got.status, 200);
    got.json()["axis"]["gnss"].clone()
}

#[tokio::test]
async fn a_trail_places_the_recording_for_the_search_the_page_and_the_api() {
    let s = scu().await;
    let w = &s.w;
    let id = recording(&s, &[(TRAIL, vec![], trail())]).await;
    let kept = kept_trail(w, id).await;
    assert_eq!(kept.outcome, custos_catalog::TrailOutcome::Read);
    assert_eq!(
        kept.points
            .iter()
            .map(|p| (p.lat_e7, p.lon_e7, p.at.to_string()))
            .collect::<Vec<_>>(),
        [
            (
                519_222_000,
                44_790_000,
                "2026-08-23T11:47:02.000Z".to_owned()
            ),
            (
                519_230_000,
                44_801_000,
                "2026-08-23T11:47:30.000Z".to_owned()
            ),
            (
                519_241_000,
                44_815_000,
                "2026-08-23T11:48:00.000Z".to_owned()
            ),
        ]
    );
    let read: Vec<_> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "axis.gnss-trail")
        .collect();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].actor, "system:gnss-trail");
    assert_eq!(
        read[0].detail.as_deref(),
        Some("GNSS trail read: 3 positions")
    );

    // Near the trail: found, with its distance; far from it: left out.
    let near = search(
        w,
        "SAR-NEAR",
        serde_json::json!({"lat": 51.9231, "lon": 4.4802, "radius_m": 100}),
    )
    .await;
    assert_eq!(near.len(), 1, "{near:?}");
    assert_eq!(near[0].0, id.to_string());
    assert!(near[0].2, "the place is known");
    assert!(near[0].1.unwrap() < 20, "{near:?}");
    let far = search(
        w,
        "SAR-FAR",
        serde_json::json!({"lat": 52.0907, "lon": 5.1214, "radius_m": 500}),
    )
    .await;
    assert!(far.is_empty(), "Utrecht is not on the trail: {far:?}");

    // The API and the page show where the camera was.
    let gnss = gnss_detail(w, id).await;
    assert_eq!(gnss["outcome"], "read");
    assert_eq!(gnss["positions"].as_array().unwrap().len(), 3);
    assert_eq!(gnss["positions"][0]["lat_e7"], 519_222_000);

    // Nothing is read twice.
    assert_eq!(
        custos_server::axis::trail::read_pending(&w.server.deployment).await,
        0
    );
}

/// A camera that encrypted its trail: opened with its key file, as its
/// clips are.
#[tokio::test]
async fn a_trail_the_camera_encrypted_is_opened_with_its_key_file() {
    let s = scu().await;
    let w = &s.w;
    let (public_pem, key_id) = w.admin().await.add_axis_content_key("scu-1").await.unwrap();
    let id = encrypted_trail(&s, &public_pem, Some(&key_id)).await;
    let kept = kept_trail(w, id).await;
    assert_eq!(kept.outcome, custos_catalog::TrailOutcome::Read, "{kept:?}");
    assert_eq!(kept.points.len(), 3);
    let near = search(
        w,
        "SAR-ENC",
        serde_json::json!({"lat": 51.9222, "lon": 4.4790, "radius_m": 50}),
    )
    .await;
    assert_eq!(near.len(), 1);
    assert!(near[0].2);
}

/// Trails that do not read — not the spec's JSON, a point off Earth, cut
/// off, a key file that does not open it — leave the place unknown: the
/// recording completes, the search still finds it (as a camera's without
/// a fix), the page says why, and the log has the reason, never a
/// position. A recording without a trail is simply unplaced.
#[tokio::test]
async fn a_trail_that_does_not_read_leaves_the_place_unknown_and_completes_anyway() {
    let good = trail();
    let off_earth = String::from_utf8(good.clone())
        .unwrap()
        .replace("POINT(4.4801 51.9230)", "POINT(4.4801 95.0)")
        .into_bytes();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"\x00\xffnot json".to_vec(),
            "not the spec's JSON",
        ),
        ("off earth", off_earth, "entry 1: LocationWKT"),
        (
            "cut off",
            good[..good.len() / 2].to_vec(),
            "not the spec's JSON",
        ),
        ("empty", Vec::new(), "not the spec's JSON"),
        (
            "a number for a place",
            br#"{"CoordinateEntries": [{"LocationWKT": 51.9222, "SecondsFromStart": 2.0, "Timestamp": "2026-08-23T11:47:02Z"}]}"#.to_vec(),
            "not the spec's JSON",
        ),
    ];
    for (what, bytes, reason) in cases {
        let s = scu().await;
        let w = &s.w;
        let id = recording(&s, &[(TRAIL, vec![], bytes)]).await;
        let kept = kept_trail(w, id).await;
        assert_eq!(
            kept.outcome,
            custos_catalog::TrailOutcome::Unreadable,
            "{what}"
        );
        assert!(kept.points.is_empty(), "{what}");
        let why = kept.detail.unwrap();
        assert!(why.contains(reason), "{what}: {why}");
        let found = search(
            w,
            "SAR-X",
            serde_json::json!({"lat": 51.9222, "lon": 4.4790, "radius_m": 50}),
        )
        .await;
        assert_eq!(
            found.len(),
            1,
            "{what}: the place is unknown, not elsewhere"
        );
        assert!(!found[0].2, "{what}");
        assert_eq!(gnss_detail(w, id).await["outcome"], "unreadable", "{what}");
        let logged: Vec<String> = audit_events(w)
            .await
            .into_iter()
            .filter(|e| e.action == "axis.gnss-trail")
            .filter_map(|e| e.detail)
            .collect();
        assert_eq!(logged.len(), 1, "{what}");
        assert!(logged[0].starts_with("GNSS trail unreadable: "), "{what}");
        // The log is never erased: no position in it, nor in the reason kept.
        for text in [&logged[0], &why] {
            assert!(
                !text.contains("51.92") && !text.contains("4.479"),
                "{what}: {text}"
            );
        }
    }

    // A key file that does not open the trail (wrapped to another key).
    let s = scu().await;
    let w = &s.w;
    w.admin().await.add_axis_content_key("scu-1").await.unwrap();
    let stranger = rsa_public_pem();
    let id = encrypted_trail(&s, &stranger, None).await;
    let kept = kept_trail(w, id).await;
    assert_eq!(kept.outcome, custos_catalog::TrailOutcome::Unreadable);
    assert!(
        kept.detail
            .as_deref()
            .unwrap()
            .contains("does not decrypt with its key file"),
        "{kept:?}"
    );

    // No trail: read as none, nothing logged, place unknown.
    let s = scu().await;
    let w = &s.w;
    let id = recording(&s, &[]).await;
    let kept = kept_trail(w, id).await;
    assert_eq!(kept.outcome, custos_catalog::TrailOutcome::None);
    assert!(audit_events(w)
        .await
        .iter()
        .all(|e| e.action != "axis.gnss-trail"));
    assert_eq!(gnss_detail(w, id).await["outcome"], "none");
}

/// A trail not read as its recording completed (its blob out of reach
/// then) is read by maintenance, once; the completion stood.
#[tokio::test]
async fn a_trail_left_unread_is_read_by_maintenance_once() {
    let s = scu().await;
    s.recording().await;
    put(
        &s,
        "1787485620_1.mp4",
        &[("X-Object-Meta-Containertype", "mp4")],
        b"clip",
    )
    .await;
    put(&s, TRAIL, &[], &trail()).await;
    let object = s
        .objects(RECORDING)
        .await
        .into_iter()
        .find(|o| o.name == TRAIL)
        .unwrap();
    let blob = s.w.data.join("blobs").join(&object.blob_key);
    let aside = s.w.data.join("aside");
    std::fs::rename(&blob, &aside).unwrap();
    assert_eq!(
        s.complete().await.status,
        Some(204),
        "the completion stands"
    );
    let d = &s.w.server.deployment;
    let id = d.catalog.recordings().await.unwrap()[0].recording_id;
    assert_eq!(d.catalog.axis_trail(id).await.unwrap(), None);
    assert_eq!(d.catalog.unread_axis_trails(10).await.unwrap(), [id]);
    std::fs::rename(&aside, &blob).unwrap();
    assert_eq!(custos_server::axis::trail::read_pending(d).await, 1);
    let kept = d.catalog.axis_trail(id).await.unwrap().unwrap();
    assert_eq!(kept.points.len(), 3);
    assert_eq!(custos_server::axis::trail::read_pending(d).await, 0);
}

/// An RSA public key that is not the connection's.
fn rsa_public_pem() -> String {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl (see ./test.sh)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "k.pem",
    ]);
    run(&["pkey", "-in", "k.pem", "-pubout", "-out", "pub.pem"]);
    std::fs::read_to_string(dir.path().join("pub.pem")).unwrap()
}
