//! An Axis recording's page and player in the web UI: what was said of it,
//! that no camera signed it (in each language), its clips, and the player
//! moving between them.

use super::*;
use crate::axis_swift::{scu, RECORDING};

#[tokio::test]
async fn an_axis_recordings_page_says_no_camera_signed_it_and_the_player_lists_its_clips() {
    let s = scu().await;
    s.recording().await;
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
                b"clip",
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
        body.contains("there is no camera signature on this recording"),
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
