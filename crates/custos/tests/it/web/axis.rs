//! An Axis recording's page and player in the web UI: what was said of it,
//! whether its camera signed it (in each language), its clips, and the
//! player moving between them.

use super::*;
use crate::axis_signed::vector;
use crate::axis_swift::{scu, RECORDING};

#[tokio::test]
async fn an_axis_recordings_page_says_no_camera_signed_it_and_the_player_lists_its_clips() {
    let s = scu().await;
    s.recording().await;
    let unsigned = vector("test_h264.mp4");
    for (name, start, stop) in [
        ("1787485620_1.mp4", "1787485620", "1787485660"),
        ("1787485660_1.mp4", "1787485660", "1787485700"),
    ] {
        let answer = s
            .send(
                "PUT",
                &format!("{RECORDING}/{name}"),
                &[
                    ("X-Object-Meta-Containertype", "mp4"),
                    ("X-Object-Meta-Starttime", start),
                    ("X-Object-Meta-Stoptime", stop),
                ],
                &unsigned,
            )
            .await;
        assert_eq!(answer.status, Some(201), "{}", answer.head);
    }
    let bookmark = s
        .send(
            "PUT",
            &format!("{RECORDING}/bookmark_1787485630_1"),
            &[
                ("X-Object-Meta-Starttime", "1787485630"),
                ("X-Object-Meta-Categoryname", "Aanhouding"),
            ],
            b"",
        )
        .await;
    assert_eq!(bookmark.status, Some(201), "{}", bookmark.head);
    assert_eq!(s.complete().await.status, Some(204));
    let w = &s.w;
    let id = w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id;
    let anna = w.add_user("anna", "reviewer", None).await;

    let mut en = Browser::new(w, "en");
    en.sign_in(w, &anna).await;
    let page = en.get(&format!("/recordings/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = unescape(&page.body);
    assert!(
        body.contains(
            "This Axis recording carries no signed video: there is no camera signature on it"
        ),
        "{body}"
    );
    assert!(!body.contains("The camera's signature on this recording was verified"));
    assert!(body.contains("1787485620_1.mp4") && body.contains("1787485660_1.mp4"));
    assert!(body.contains("Aanhouding"), "the bookmark's category");
    assert!(body.contains("6 s before the trigger"), "the pre-buffer");
    let mut nl = Browser::new(w, "nl");
    nl.sign_in(w, &anna).await;
    let page = nl.get(&format!("/recordings/{id}")).await;
    assert!(unescape(&page.body).contains("geen handtekening van de camera"));

    // The player, for a case it is linked to: each clip its own link, the
    // one shown marked, its video named by part.
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    w.link(&token, &case, id).await;
    let play = en
        .get(&format!(
            "/recordings/{id}/play?purpose=complaint&case={case}&part=1"
        ))
        .await;
    assert_eq!(play.status, 200, "{}", play.body);
    let body = unescape(&play.body);
    assert!(
        body.contains(&format!(
            "/api/v1/recordings/{id}/video?purpose=complaint&amp;case={case}&amp;part=1"
        )) || body.contains(&format!(
            "/api/v1/recordings/{id}/video?purpose=complaint&case={case}&part=1"
        )),
        "{body}"
    );
    assert!(body.contains("aria-current=\"true\">Clip 2 of 2"), "{body}");
    assert!(body.contains("Clip 1 of 2</a>"), "{body}");
}

/// Signed, the page says so with the camera's key; altered, it names the
/// clip, the GOP and the frame — in each language the line around it.
#[tokio::test]
async fn an_axis_recordings_page_says_whether_its_signed_video_holds() {
    for (file, en_line, nl_line, shown) in [
        (
            "signed_test_h264.mp4",
            "Signed: every frame of every clip holds against the signature in its stream",
            "Ondertekend: elk beeld van elke clip klopt",
            "ea33cacb09f48954df012c0f787dd242271c916a5257e30ed943c287d1874ec4",
        ),
        (
            "signed_test_h264_modified_frame_137.mp4",
            "Signed video: the footage was altered after its camera signed it.",
            "de beelden zijn gewijzigd nadat de camera ze ondertekende",
            "GOP 4 (frames 124–186): frame 137 is not the frame that was signed",
        ),
    ] {
        let s = scu().await;
        s.recording().await;
        assert_eq!(
            s.clip("1787485620_1.mp4", &vector(file)).await.status,
            Some(201)
        );
        assert_eq!(s.complete().await.status, Some(204));
        let w = &s.w;
        let id = w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id;
        let anna = w.add_user("anna", "reviewer", None).await;
        let mut en = Browser::new(w, "en");
        en.sign_in(w, &anna).await;
        let body = unescape(&en.get(&format!("/recordings/{id}")).await.body);
        assert!(body.contains(en_line), "{file}: {body}");
        assert!(body.contains(shown), "{file}: {body}");
        assert!(!body.contains("carries no signed video"), "{file}");
        let mut nl = Browser::new(w, "nl");
        nl.sign_in(w, &anna).await;
        let body = unescape(&nl.get(&format!("/recordings/{id}")).await.body);
        assert!(body.contains(nl_line), "{file}: {body}");
    }
}

/// An Axis recording's page draws where its camera was, from its GNSS
/// trail, as a Custos camera's page draws its manifest's track.
#[tokio::test]
async fn an_axis_recordings_page_draws_its_gnss_trail() {
    use crate::axis_places::{recording, trail, TRAIL};
    let s = scu().await;
    let id = recording(&s, &[(TRAIL, vec![], trail())]).await;
    let w = &s.w;
    let anna = w.add_user("anna", "reviewer", None).await;
    let mut en = Browser::new(w, "en");
    en.sign_in(w, &anna).await;
    let page = en.get(&format!("/recordings/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("class=\"track-line\""),
        "a track is drawn"
    );
    assert!(
        page.body.contains("51.92220, 4.47900") && page.body.contains("51.92410, 4.48150"),
        "its start and end are named"
    );
    assert!(!page.body.contains("not read yet"));
}

/// tests/browser/sequence.mjs in Chromium: the player plays an Axis
/// recording's clips as one recording — the second clip follows the
/// first on its own, the recording's slider (its own time, across the
/// gap between the clips) moves back into the first — each clip fetched
/// through its own purpose-bound URL and on record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plays_an_axis_recordings_clips_as_one() {
    use crate::axis_redaction::{clip, recording, CLIP_1, CLIP_2, H264};
    let (one, two) = (clip("320x240", H264, "mp4"), clip("320x240", H264, "mp4"));
    let s = scu().await;
    let id = recording(
        &s,
        &[(CLIP_1, "mp4", &one, None), (CLIP_2, "mp4", &two, None)],
    )
    .await;
    let w = &s.w;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    w.link(&token, &case, id).await;
    let page = format!("/recordings/{id}/play?purpose=complaint&case={case}");
    let seen = crate::common::browser(
        "sequence.mjs",
        crate::common::vars([("BASE", &w.base()), ("TOKEN", &token), ("PAGE", &page)]),
    )
    .await;
    assert_eq!(seen["ok"], true, "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    // The slider spans the recording: 7 s, the clips at 0 s and 4 s.
    assert_eq!(seen["start"]["shown"], true, "{seen}");
    assert_eq!(seen["start"]["max"], 7000, "{seen}");
    assert_eq!(seen["start"]["part"], "0", "{seen}");
    // The second clip played on its own, at its place in the recording.
    let second = &seen["second"];
    assert_eq!(second["part"], "1", "{seen}");
    assert_eq!(second["current"], 1, "its clip is marked: {seen}");
    let at = second["at"].as_f64().unwrap();
    assert!((4000.0..6100.0).contains(&at), "{seen}");
    assert!(
        second["where"].as_str().unwrap().ends_with("/ 00:00:07"),
        "{seen}"
    );
    // And back into the first at 1.5 s.
    assert_eq!(seen["back"]["part"], "0", "{seen}");
    assert_eq!(seen["back"]["current"], 0, "{seen}");
    let fetched: Vec<&str> = seen["fetched"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(fetched.contains(&"0") && fetched.contains(&"1"), "{seen}");
    // Every clip fetched is on record, each naming its clip.
    let played: Vec<String> = crate::common::audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.play" && e.outcome.as_str() == "ok")
        .filter_map(|e| e.detail)
        .collect();
    for name in [CLIP_1, CLIP_2] {
        assert!(
            played.iter().any(|d| d.contains(name)),
            "{name} on record: {played:?}"
        );
    }
}
