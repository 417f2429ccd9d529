//! Axis signed video (issue 23 point 5): a recording's clips are checked
//! as it completes, with the signed-video framework's own test files as the
//! camera's; the recording shows the verdict, the log has it, and a failed
//! or missing signature from a camera that signs is an incident naming
//! the GOP.

use custos_catalog::IncidentKind;

use crate::axis_encryption::{camera, encrypted_clip, reviewer};
use crate::axis_swift::*;
use crate::common::*;

/// A file of the signed-video framework's (test-vectors/signed-video).
pub(crate) fn vector(name: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-vectors/signed-video/"
    );
    std::fs::read(format!("{path}{name}")).unwrap()
}

const SIGNED: &str = "signed_test_h264.mp4";
const MODIFIED: &str = "signed_test_h264_modified_frame_137.mp4";
/// Signed too, with another key.
const OTHER_KEY: &str = "signed_test_h265.mp4";
const UNSIGNED: &str = "test_h264.mp4";
/// The first file's key, as the framework's own validator reads it.
const KEY: &str = "ea33cacb09f48954df012c0f787dd242271c916a5257e30ed943c287d1874ec4";

/// Recording `n` of the camera (an hour apart), one clip per file, then
/// `Complete`.
async fn recording(s: &Scu, n: i64, clips: &[&[u8]]) -> uuid::Uuid {
    let start = 1_787_485_620 + n * 3600;
    let name = format!(
        "{USER}_{SERIAL}_{}",
        time::OffsetDateTime::from_unix_timestamp(start)
            .unwrap()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap()
    );
    let start_text = start.to_string();
    let made = s
        .send(
            "PUT",
            &name,
            &[
                ("X-Container-Meta-Starttime", &start_text),
                ("X-Container-Meta-Triggerontime", &start_text),
            ],
            b"",
        )
        .await;
    assert_eq!(made.status, Some(201), "{}", made.head);
    for (i, bytes) in clips.iter().enumerate() {
        let (a, b) = (start + 10 * i as i64, start + 10 * (i as i64 + 1));
        let put = s
            .send(
                "PUT",
                &format!("{name}/{a}_1.mp4"),
                &[
                    ("X-Object-Meta-Containertype", "mp4"),
                    ("X-Object-Meta-Starttime", &a.to_string()),
                    ("X-Object-Meta-Stoptime", &b.to_string()),
                ],
                bytes,
            )
            .await;
        assert_eq!(put.status, Some(201), "{}", put.head);
    }
    let stop = (start + 10 * clips.len() as i64).to_string();
    let done = s
        .send(
            "POST",
            &name,
            &[
                ("X-Container-Meta-Status", "Complete"),
                ("X-Container-Meta-Stoptime", &stop),
            ],
            b"",
        )
        .await;
    assert_eq!(done.status, Some(204), "{}", done.head);
    let catalog = &s.w.server.deployment.catalog;
    catalog
        .recordings()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.axis().is_some_and(|a| a.container == name))
        .unwrap()
        .recording_id
}

async fn signed_incidents(s: &Scu) -> Vec<custos_catalog::Incident> {
    s.w.server
        .deployment
        .catalog
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == IncidentKind::SignedVideo)
        .collect()
}

/// The recording page's `signed_video`, as a reviewer sees it.
async fn shown(w: &World, token: &str, id: uuid::Uuid) -> serde_json::Value {
    let detail = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}"),
            Some(token),
            None,
            &[],
        )
        .await;
    assert_eq!(detail.status, 200, "{}", detail.json());
    detail.json()["axis"]["signed_video"].clone()
}

async fn checks_on_record(w: &World) -> Vec<(String, String)> {
    audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "axis.signed-video")
        .map(|e| (e.object.unwrap_or_default(), e.detail.unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn a_signed_recording_is_authentic_on_record_and_its_cameras_key_is_pinned() {
    let s = scu().await;
    s.registered().await;
    let id = recording(&s, 0, &[&vector(SIGNED)]).await;
    let w = &s.w;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let shown = shown(w, &token, id).await;
    assert_eq!(shown["outcome"], "authentic", "{shown}");
    assert_eq!(shown["key_sha256"], KEY);
    let clip = &shown["clips"][0];
    assert_eq!(
        (clip["outcome"].as_str(), clip["gops"].as_u64()),
        (Some("authentic"), Some(5))
    );
    assert_eq!(clip["report"]["signer"], "2.0.3");
    assert_eq!(clip["report"]["frames"], 256);
    assert_eq!(
        checks_on_record(w).await,
        [(
            format!("recording:{id}"),
            "signed video authentic".to_owned()
        )]
    );
    assert!(signed_incidents(&s).await.is_empty());
    let catalog = &w.server.deployment.catalog;
    assert_eq!(
        catalog.axis_signing_key(SERIAL).await.unwrap().as_deref(),
        Some(KEY)
    );
    // The pass maintenance makes does not check it again.
    assert_eq!(
        custos_server::axis::signed::check_pending(&w.server.deployment).await,
        0
    );
    assert_eq!(checks_on_record(w).await.len(), 1);
}

#[tokio::test]
async fn the_modified_frame_is_an_incident_naming_its_gop_and_frame() {
    let s = scu().await;
    s.registered().await;
    let id = recording(&s, 0, &[&vector(MODIFIED)]).await;
    let w = &s.w;
    let incidents = signed_incidents(&s).await;
    assert_eq!(incidents.len(), 1);
    let expected = format!(
        "signed video altered: clip {}_1.mp4: GOP 4 (frames 124–186): frame 137 is not the frame that was signed",
        1_787_485_620
    );
    assert_eq!(incidents[0].detail, expected);
    assert_eq!(incidents[0].recording_id, Some(id));
    assert_eq!(incidents[0].device_id.as_deref(), Some(SERIAL));
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let shown = shown(w, &token, id).await;
    assert_eq!(shown["outcome"], "altered");
    let gops = shown["clips"][0]["report"]["gops"].as_array().unwrap();
    assert_eq!(gops.len(), 1, "only the failing GOP is kept");
    assert_eq!(gops[0]["counter"], 4);
    assert_eq!(gops[0]["bad"], serde_json::json!([137]));
    assert_eq!(checks_on_record(w).await[0].1, expected);
    // A key seen only in a failing recording is not pinned.
    let catalog = &w.server.deployment.catalog;
    assert_eq!(catalog.axis_signing_key(SERIAL).await.unwrap(), None);
}

#[tokio::test]
async fn a_camera_that_signs_sending_unsigned_or_another_keys_video_is_an_incident() {
    let s = scu().await;
    s.registered().await;
    recording(&s, 0, &[&vector(SIGNED)]).await;
    assert!(signed_incidents(&s).await.is_empty());
    // Unsigned, from a camera that signed before.
    let unsigned = recording(&s, 1, &[&vector(UNSIGNED)]).await;
    // Signed, but by another key than the camera's.
    let other = recording(&s, 2, &[&vector(OTHER_KEY)]).await;
    // Half signed, half not.
    let mixed = recording(&s, 3, &[&vector(SIGNED), &vector(UNSIGNED)]).await;
    let incidents = signed_incidents(&s).await;
    let by = |id| {
        incidents
            .iter()
            .find(|i| i.recording_id == Some(id))
            .map(|i| i.detail.clone())
            .unwrap_or_else(|| panic!("no incident for {id}"))
    };
    assert_eq!(
        by(unsigned),
        format!("signed video unsigned, though camera `{SERIAL}` signs")
    );
    assert!(
        by(other).starts_with("signed video altered: clip ")
            && by(other).ends_with(": it is signed with another key"),
        "{}",
        by(other)
    );
    assert_eq!(
        by(mixed),
        format!("signed video incomplete, though camera `{SERIAL}` signs")
    );
    assert_eq!(incidents.len(), 3);
    // The camera's key stays the first one.
    let catalog = &s.w.server.deployment.catalog;
    assert_eq!(
        catalog.axis_signing_key(SERIAL).await.unwrap().as_deref(),
        Some(KEY)
    );
}

#[tokio::test]
async fn unsigned_or_unreadable_clips_of_a_camera_not_known_to_sign_are_no_incident() {
    let s = scu().await;
    s.registered().await;
    let plain = recording(&s, 0, &[&vector(UNSIGNED)]).await;
    let junk = recording(&s, 1, &[b"not a video at all, and hostile \x00\xff"]).await;
    let w = &s.w;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    assert_eq!(shown(w, &token, plain).await["outcome"], "unsigned");
    let junk_shown = shown(w, &token, junk).await;
    assert_eq!(junk_shown["outcome"], "unverifiable");
    let unread = junk_shown["clips"][0]["unread"].as_str().unwrap();
    assert!(
        unread.starts_with("it could not be read to its end")
            || unread.starts_with("not a video this verifier reads"),
        "{unread}"
    );
    assert!(signed_incidents(&s).await.is_empty());
    assert_eq!(checks_on_record(w).await.len(), 2);
}

#[tokio::test]
async fn a_clip_the_camera_encrypted_is_checked_decrypted() {
    let s = scu().await;
    let w = &s.w;
    let (public_pem, key_id) = w.admin().await.add_axis_content_key("scu-1").await.unwrap();
    let (cipher, key_file) = camera(&vector(MODIFIED), [0x42; 32], &public_pem, Some(&key_id));
    s.recording().await;
    encrypted_clip(&s, 0, &cipher, &key_file).await;
    assert_eq!(s.complete().await.status, Some(204));
    let incidents = signed_incidents(&s).await;
    assert_eq!(incidents.len(), 1);
    assert!(
        incidents[0]
            .detail
            .ends_with("GOP 4 (frames 124–186): frame 137 is not the frame that was signed"),
        "{}",
        incidents[0].detail
    );
    // A reviewer sees it so too, and the clip plays as it was.
    let id = incidents[0].recording_id.unwrap();
    let (token, _) = reviewer(w, id).await;
    assert_eq!(shown(w, &token, id).await["outcome"], "altered");
}

#[tokio::test]
async fn a_check_the_store_kept_from_finishing_is_made_by_maintenance() {
    let s = scu().await;
    s.recording().await;
    assert_eq!(
        s.clip("1787485620_1.mp4", &vector(SIGNED)).await.status,
        Some(201)
    );
    // The clip's blob is gone from the store when the recording completes.
    let object = s.objects(RECORDING).await.remove(0);
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
    assert_eq!(d.catalog.signed_video_check(id).await.unwrap(), None);
    assert_eq!(d.catalog.unchecked_axis_recordings(10).await.unwrap(), [id]);
    assert!(
        checks_on_record(&s.w).await.is_empty(),
        "nothing read, nothing said"
    );
    // The store is back: the next maintenance makes the check.
    std::fs::rename(&aside, &blob).unwrap();
    // (Maintenance makes this pass; its sweep would also delete this
    // recording, whose period ended by the test's clock.)
    assert_eq!(custos_server::axis::signed::check_pending(d).await, 1);
    let check = d.catalog.signed_video_check(id).await.unwrap().unwrap();
    assert_eq!(check.outcome, "authentic");
    assert!(d
        .catalog
        .unchecked_axis_recordings(10)
        .await
        .unwrap()
        .is_empty());
}

/// A police export carries each clip as the camera signed it (so Axis' own
/// validator can check it without Custos) and what the server found, and
/// `custos verify-export` says so.
#[tokio::test]
async fn an_export_carries_the_signed_original_and_the_verdict() {
    use crate::evidence::police_export;
    let s = scu().await;
    s.registered().await;
    let modified = vector(MODIFIED);
    let id = recording(&s, 0, &[&modified, &vector(SIGNED)]).await;
    let w = &s.w;
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = w.with_case(&token, "police-request").await;
    w.held(&token, &case, id, "PV").await;
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, dir) = police_export(w, &token, &case, tmp.path()).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("signed video altered when it arrived (2 clips, camera key SHA-256"),
        "{out}"
    );
    let rec = dir.join(format!("axis/{SERIAL}-000001"));
    let first = format!("{}_1.mp4", 1_787_485_620);
    let exported = std::fs::read_dir(rec.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(&first))
        .unwrap();
    assert!(
        std::fs::read(exported).unwrap() == modified,
        "the signed original"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rec.join("axis.json")).unwrap()).unwrap();
    let sv = &record["signed_video"];
    assert_eq!(sv["outcome"], "altered");
    assert_eq!(sv["clips"][0]["clip"], first.as_str());
    assert_eq!(
        sv["clips"][0]["failure"],
        "GOP 4 (frames 124–186): frame 137 is not the frame that was signed"
    );
    assert_eq!(sv["clips"][1]["outcome"], "authentic");
    assert_eq!(sv["clips"][1]["gops"], 5);
}

/// `custos verify-signed-video`, offline: what the server says, for a
/// reviewer or a court with a clip from an export.
#[test]
fn the_command_line_checks_clips_offline_and_refuses_nonsense() {
    use crate::cli::{custos, run};
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-vectors/signed-video/"
    );
    let said = |args: &[&str]| {
        let out = run(custos().arg("verify-signed-video").args(args));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let file = |name: &str| format!("{dir}{name}");
    let (code, out, _) = said(&[&file(SIGNED)]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(": authentic\n") && out.contains(KEY), "{out}");
    let (code, out, _) = said(&[&file(SIGNED), &file(MODIFIED)]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("GOP 4 (frames 124–186): frame 137 is not the frame that was signed"),
        "{out}"
    );
    // The camera's pinned key: another camera's video fails.
    let (code, out, _) = said(&["--key-sha256", KEY, &file(OTHER_KEY)]);
    assert_eq!(code, Some(1));
    assert!(out.contains(": altered\n"), "{out}");
    let (code, out, _) = said(&[
        "--json",
        "--annex-b",
        "h264",
        &file("signed_vendor_axis.h264"),
    ]);
    assert_eq!(code, Some(1));
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["outcome"], "incomplete");
    assert_eq!(json["report"]["unsigned_frames"], 18);
    assert_eq!(json["report"]["product"]["serial_number"], "B8A44F27E6D1");
    // Nonsense: a clear error, exit 2.
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.mp4");
    std::fs::write(&junk, b"\x00\x00\x00\x10moovgarbage").unwrap();
    for args in [
        vec![junk.to_str().unwrap()],
        vec!["/nonexistent/clip.mp4"],
        vec!["--key-sha256", "zz", &file(SIGNED)],
        vec!["--annex-b", "vp9", &file(SIGNED)],
        vec![],
    ] {
        let (code, out, err) = said(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(!err.is_empty(), "{args:?}");
    }
    // Raw garbage as Annex B is no signed video: unsigned, exit 1.
    let (code, out, _) = said(&["--annex-b", "h265", junk.to_str().unwrap()]);
    assert_eq!((code, out.contains(": unsigned")), (Some(1), true), "{out}");
}

/// A camera whose key changed for good reason: an administrator sees its
/// pinned key, forgets it on record, and its next signed recording pins
/// the new one; nonsense is refused and forgets nothing.
#[tokio::test]
async fn an_administrator_sees_and_forgets_a_cameras_pinned_key_on_record() {
    use crate::cli::{custos, ok, run};
    let s = scu().await;
    s.registered().await;
    recording(&s, 0, &[&vector(SIGNED)]).await;
    let w = &s.w;
    let axis = |args: &[&str]| {
        let mut c = custos();
        c.arg("axis")
            .args(args)
            .arg("--data")
            .arg(&w.data)
            .env("CUSTOS_PASSPHRASE", PASS);
        c
    };
    let listed = ok(&mut axis(&["signing-keys"]));
    assert!(
        listed.starts_with(&format!("{SERIAL}\t{KEY}\t")),
        "{listed}"
    );
    // Refused: no reason, a reason with a line break, an unknown camera.
    for args in [
        vec!["forget-signing-key", "--camera", SERIAL, "--reason", " "],
        vec!["forget-signing-key", "--camera", SERIAL, "--reason", "a\nb"],
        vec![
            "forget-signing-key",
            "--camera",
            "NOBODY",
            "--reason",
            "reset",
        ],
        vec!["forget-signing-key", "--camera", SERIAL],
    ] {
        let out = run(&mut axis(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let catalog = &w.server.deployment.catalog;
    assert_eq!(
        catalog.axis_signing_key(SERIAL).await.unwrap().as_deref(),
        Some(KEY),
        "nothing forgotten by a refusal"
    );
    ok(&mut axis(&[
        "forget-signing-key",
        "--camera",
        SERIAL,
        "--reason",
        "factory reset, ticket 4711",
    ]));
    assert_eq!(catalog.axis_signing_key(SERIAL).await.unwrap(), None);
    let forgotten: Vec<_> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "axis.signing-key.forget")
        .map(|e| (e.object.unwrap_or_default(), e.detail.unwrap_or_default()))
        .collect();
    assert_eq!(
        forgotten,
        [(
            format!("device:{SERIAL}"),
            format!("key {KEY}: factory reset, ticket 4711")
        )]
    );
    // The camera's next recording, signed with its new key: authentic, and
    // the new key pinned.
    recording(&s, 1, &[&vector(OTHER_KEY)]).await;
    assert!(signed_incidents(&s).await.is_empty());
    assert_eq!(
        catalog.axis_signing_key(SERIAL).await.unwrap().as_deref(),
        Some("655d82d9c71cfac7a009582d1cc02b966cb91c64d74b49689f35945379ba38f5")
    );
}
