//! An Axis recording in Custos's model (issue 23 point 3): its container's
//! `Complete` makes a recording of its camera, listed, shown and played
//! (clip by clip, with ranges) through the same purpose-bound paths as a
//! Custos camera's, and deleted on time with every object it came with.

use crate::axis_swift::*;
use crate::common::*;

const CLIP_A: &str = "1787485620_1.mp4";
const CLIP_B: &str = "1787485660_1.mp4";
const BOOKMARK: &str = "bookmark_1787485630_1";

fn bytes(seed: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// [`RECORDING`] with two clips (sent second clip first) and a bookmark,
/// completed; the first clip's bytes and the second's.
async fn completed() -> (Scu, Vec<u8>, Vec<u8>) {
    let s = scu().await;
    s.recording().await;
    let (a, b) = (bytes(1, 200_000), bytes(2, 70_000));
    for (name, start, stop, body) in [
        (CLIP_B, "1787485660", "1787485700", &b),
        (CLIP_A, "1787485620", "1787485660", &a),
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
                body,
            )
            .await;
        assert_eq!(answer.status, Some(201), "{}", answer.head);
    }
    let answer = s
        .send(
            "PUT",
            &format!("{RECORDING}/{BOOKMARK}"),
            &[("X-Object-Meta-Categoryid", "unknown-category")],
            b"",
        )
        .await;
    assert_eq!(answer.status, Some(201), "{}", answer.head);
    let answer = s.complete().await;
    assert_eq!(answer.status, Some(204), "{}", answer.head);
    (s, a, b)
}

#[tokio::test]
async fn a_completed_axis_recording_is_a_recording_of_its_camera() {
    let (s, a, b) = completed().await;
    let w = &s.w;
    let catalog = &w.server.deployment.catalog;
    let all = catalog.recordings().await.unwrap();
    assert_eq!(all.len(), 1);
    let r = &all[0];
    assert_eq!(r.device_id, SERIAL);
    assert_eq!(r.sequence, 1);
    assert_eq!(
        r.officer_id.as_deref(),
        Some(format!("axis:{USER}").as_str())
    );
    assert_eq!(r.started_at.as_millis(), 1_787_485_620_000);
    assert_eq!(r.ended_at.as_millis(), 1_787_485_700_000);
    assert_eq!(
        r.delete_after.as_millis(),
        1_787_485_700_000 + 28 * 86_400_000,
        "the deployment's period, from its end"
    );
    assert_eq!(
        r.retention_category, "standard",
        "an unknown category is not applied"
    );
    let axis = r.axis().expect("an Axis recording");
    assert_eq!(
        (axis.connection.as_str(), axis.container.as_str()),
        ("scu-1", RECORDING)
    );
    assert_eq!(axis.length, (a.len() + b.len()) as u64);
    let camera = catalog.device(SERIAL).await.unwrap().unwrap();
    assert_eq!(camera.kind, custos_catalog::DeviceKind::Axis);

    // The API lists and shows it, its clips in recording order.
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let list = w
        .call("GET", "/api/v1/recordings", Some(&token), None, &[])
        .await;
    assert_eq!(list.status, 200);
    let listed = &list.json()[0];
    assert_eq!(listed["origin"], "axis");
    assert_eq!(listed["device_id"], SERIAL);
    let id = r.recording_id;
    let detail = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(detail.status, 200, "{}", detail.json());
    let detail = detail.json();
    assert_eq!(detail["manifest"], serde_json::Value::Null);
    let parts = detail["axis"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["name"], CLIP_A);
    assert_eq!(parts[1]["name"], CLIP_B);
    assert_eq!(parts[0]["md5"], md5_hex(&a));
    assert_eq!(parts[1]["length"], b.len());
    assert_eq!(
        detail["axis"]["bookmarks"][0]["categoryid"],
        "unknown-category"
    );
    assert_eq!(detail["axis"]["user"], USER);

    // Played clip by clip, through the case it is attached to, with ranges.
    let case = w.with_case(&token, "complaint").await;
    let video =
        |part: &str| format!("/api/v1/recordings/{id}/video?purpose=complaint&case={case}{part}");
    let unattached = w.call("GET", &video(""), Some(&token), None, &[]).await;
    assert_eq!(unattached.code(), "not-attached");
    w.link(&token, &case, id).await;
    let first = w.call("GET", &video(""), Some(&token), None, &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("video/mp4"));
    assert!(first.body == a, "the first clip by default, byte for byte");
    let second = w
        .call("GET", &video("&part=1"), Some(&token), None, &[])
        .await;
    assert!(second.body == b, "the second clip");
    let range = w
        .call(
            "GET",
            &video("&part=0"),
            Some(&token),
            None,
            &[("range", "bytes=65530-65545")],
        )
        .await;
    assert_eq!(range.status, 206);
    assert!(
        range.body == a[65_530..=65_545],
        "a range across a chunk's end"
    );
    for (bad, status) in [
        ("&part=2", 404),
        ("&part=99999999999999999999", 400),
        ("&part=-1", 400),
        ("&part=x", 400),
        ("&part=0&part=1", 400),
    ] {
        let answer = w.call("GET", &video(bad), Some(&token), None, &[]).await;
        assert_eq!(
            answer.status,
            status,
            "{bad}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert!(answer.body.len() < 1000, "{bad}: no footage");
    }
    let download = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}/download?purpose=complaint&case={case}&part=1"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert!(download.body == b);
    assert!(download
        .header("content-disposition")
        .unwrap()
        .ends_with(&format!("custos-{id}-1.mp4\"")));
    // Each access is on record with its purpose, its case and the clip
    // seen; the clip that does not exist is on record as a failed access.
    let object = format!("recording:{id}");
    let plays: Vec<(String, String)> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.play" && e.object.as_deref() == Some(object.as_str()))
        .map(|e| {
            assert_eq!(e.purpose.as_deref(), Some("complaint"));
            (e.outcome.as_str().to_owned(), e.detail.unwrap_or_default())
        })
        .collect();
    let ok: Vec<&String> = plays
        .iter()
        .filter(|(o, _)| o == "ok")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(ok.len(), 3, "{plays:?}");
    assert!(
        ok[0].starts_with(&format!("clip 0 ({CLIP_A}), bytes 0-")),
        "{ok:?}"
    );
    assert!(
        ok[1].starts_with(&format!("clip 1 ({CLIP_B}), bytes 0-")),
        "{ok:?}"
    );
    assert!(
        ok[2].starts_with(&format!("clip 0 ({CLIP_A}), bytes 65530-65545")),
        "{ok:?}"
    );
    assert_eq!(
        plays.iter().filter(|(o, _)| o == "failed").count(),
        1,
        "{plays:?}"
    );
    assert_eq!(
        plays.iter().filter(|(o, _)| o == "refused").count(),
        1,
        "the unattached try"
    );
}

#[tokio::test]
async fn deleting_an_axis_recording_takes_every_object_and_stays_final() {
    let (s, _, _) = completed().await;
    let w = &s.w;
    let catalog = &w.server.deployment.catalog;
    let r = catalog.recordings().await.unwrap().remove(0);
    let objects = s.objects(RECORDING).await;
    assert_eq!(objects.len(), 3);
    for o in &objects {
        assert!(
            w.data.join("blobs").join(&o.blob_key).exists(),
            "{}",
            o.name
        );
    }
    // Not yet due: nothing goes.
    let early = w.sweep(r.delete_after.plus_millis(-1)).await;
    assert_eq!(early.deleted, 0);
    let report = w.sweep(r.delete_after.plus_millis(3_600_000)).await;
    assert_eq!(report.deleted, 1);
    assert_eq!(catalog.recording(r.recording_id).await.unwrap(), None);
    assert!(
        s.objects(RECORDING).await.is_empty(),
        "the keys went with the row"
    );
    for o in &objects {
        assert!(
            !w.data.join("blobs").join(&o.blob_key).exists(),
            "{} left behind",
            o.name
        );
    }
    let tomb = catalog.tombstone(r.recording_id).await.unwrap().unwrap();
    assert!(tomb.blob_deleted);
    assert_eq!(tomb.ciphertext_sha256, r.axis().unwrap().content_sha256);
    // The controller sending it again changes nothing: the container is a
    // bare `Complete`, its metadata (user, places) gone.
    let head = s.send("HEAD", RECORDING, &[], b"").await;
    assert!(
        !head.head.to_ascii_lowercase().contains("triggerontime"),
        "{}",
        head.head
    );
    let again = s
        .send(
            "POST",
            RECORDING,
            &[
                ("X-Container-Meta-Status", "Complete"),
                ("X-Container-Meta-Starttime", "1787485620"),
                ("X-Container-Meta-Stoptime", "1787485700"),
            ],
            b"",
        )
        .await;
    assert_eq!(again.status, Some(403), "{}", again.head);
    assert_eq!(catalog.recordings().await.unwrap().len(), 0);
    let clip = s.clip(CLIP_A, b"again").await;
    assert_eq!(clip.status, Some(403), "{}", clip.head);
}

/// Held for a police request and exported: the package carries every
/// object as it arrived, `custos verify` and the standard tools alone
/// (sha256sum's and md5's hashes, openssl) find it whole, and a changed
/// object is found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axis_recording_is_exported_byte_for_byte_and_verifies_with_outside_tools() {
    use crate::evidence::{copy_tree, police_export, standard_tools, verify_package};
    let (s, a, b) = completed().await;
    let w = &s.w;
    let r = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = w.with_case(&token, "police-request").await;
    w.held(&token, &case, r.recording_id, "PV").await;
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, dir) = police_export(w, &token, &case, tmp.path()).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("ok   Axis recording {SERIAL} #1")),
        "{out}"
    );
    assert!(out.contains("no camera signature"), "{out}");

    // Unpacked with age and tar: the clips are the bytes that were sent.
    let objects = dir.join(format!("axis/{SERIAL}-000001/objects"));
    assert!(std::fs::read(objects.join(CLIP_A)).unwrap() == a);
    assert!(std::fs::read(objects.join(CLIP_B)).unwrap() == b);
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(format!("axis/{SERIAL}-000001/axis.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["container"], RECORDING);
    assert_eq!(record["objects"].as_array().unwrap().len(), 3);
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains(&md5_hex(&a)),
        "the report lists each object's MD5"
    );
    let standard = standard_tools(&dir);
    assert!(
        standard.status.success(),
        "{}{}",
        String::from_utf8_lossy(&standard.stdout),
        String::from_utf8_lossy(&standard.stderr)
    );
    assert!(String::from_utf8_lossy(&standard.stdout).contains("3 objects as they arrived"));

    // A made-up recording slipped in behind a link is found by the
    // standard tools (and refused by `custos verify`, which reads no links).
    let evil = tmp.path().join("evil");
    copy_tree(&dir.join(format!("axis/{SERIAL}-000001")), &evil);
    std::os::unix::fs::symlink(&evil, dir.join("axis/EVIL-000001")).unwrap();
    let standard = standard_tools(&dir);
    assert!(!standard.status.success());
    assert!(
        String::from_utf8_lossy(&standard.stderr).contains("links"),
        "{standard:?}"
    );
    let (code, _) = verify_package(&dir, &[]);
    assert_ne!(code, 0);
    std::fs::remove_file(dir.join("axis/EVIL-000001")).unwrap();

    // A clip changed after the export: both checkers name it.
    let mut clip = std::fs::read(objects.join(CLIP_A)).unwrap();
    clip[100] ^= 1;
    std::fs::write(objects.join(CLIP_A), &clip).unwrap();
    let standard = standard_tools(&dir);
    assert!(!standard.status.success());
    let (code, out) = verify_package(&dir, &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(CLIP_A), "{out}");
}

/// The officer is the city's own staff number where the controller stores
/// it (`UserID` of the user), so the officer's own-recordings rule finds
/// it; a category the camera sent as a bookmark sets the period when the
/// deployment has it, the longest of several.
#[tokio::test]
async fn the_officer_and_the_category_come_from_what_the_controller_sent() {
    let mut retention = custos_server::retention::RetentionPolicy::new(28 * 86_400_000);
    retention
        .categories
        .insert("incident".into(), 365 * 86_400_000);
    retention
        .categories
        .insert("training".into(), 2 * 86_400_000);
    let s = scu_in(
        None,
        custos_server::axis::AxisSettings::new("127.0.0.1:0".parse().unwrap()),
        retention,
    )
    .await;
    for container in ["Users", "Devices"] {
        assert_eq!(s.send("PUT", container, &[], b"").await.status, Some(201));
    }
    let user = s
        .send(
            "PUT",
            &format!("Users/{USER}"),
            &[
                ("X-Object-Meta-Name", "B. Jansen"),
                ("X-Object-Meta-Userid", "BOA-0042"),
            ],
            b"",
        )
        .await;
    assert_eq!(user.status, Some(201), "{}", user.head);
    let device = s
        .send(
            "PUT",
            &format!("Devices/{SERIAL}"),
            &[("X-Object-Meta-Model", "W110")],
            b"",
        )
        .await;
    assert_eq!(device.status, Some(201), "{}", device.head);
    let answer = s
        .send(
            "PUT",
            RECORDING,
            &[
                ("X-Container-Meta-Starttime", "1787485620"),
                ("X-Container-Meta-Triggerontime", "1787485626"),
            ],
            b"",
        )
        .await;
    assert_eq!(answer.status, Some(201), "{}", answer.head);
    assert_eq!(s.clip(CLIP_A, b"clip").await.status, Some(201));
    for (name, category) in [
        ("bookmark_1787485630_1", "training"),
        ("bookmark_1787485631_2", "incident"),
        ("bookmark_1787485632_3", "no-such-category"),
    ] {
        let b = s
            .send(
                "PUT",
                &format!("{RECORDING}/{name}"),
                &[("X-Object-Meta-Categoryid", category)],
                b"",
            )
            .await;
        assert_eq!(b.status, Some(201), "{}", b.head);
    }
    assert_eq!(s.complete().await.status, Some(204));
    let w = &s.w;
    let r = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    assert_eq!(r.officer_id.as_deref(), Some("BOA-0042"));
    assert_eq!(r.retention_category, "incident", "the longest known period");
    assert_eq!(
        r.delete_after.as_millis(),
        1_787_485_700_000 + 365 * 86_400_000
    );

    // Officer BOA-0042 sees their own recording; another officer does not.
    let own = w.add_user("bjansen", "officer", Some("BOA-0042")).await;
    let other = w.add_user("kdevries", "officer", Some("BOA-0007")).await;
    let path = format!("/api/v1/recordings/{}", r.recording_id);
    let t = w.sign_in(&own).await;
    assert_eq!(w.call("GET", &path, Some(&t), None, &[]).await.status, 200);
    let t = w.sign_in(&other).await;
    assert_eq!(w.call("GET", &path, Some(&t), None, &[]).await.status, 404);
}

/// A real clip as an Axis camera writes it (a progressive MP4, made here by
/// ffmpeg): its thumbnail and face proposals come from the same
/// purpose-bound routes as a camera's, clip by clip.
#[tokio::test]
async fn an_axis_clips_thumbnail_and_faces_come_through_the_same_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("clip.mp4");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=10",
        ])
        .args([
            "-t", "3", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p",
        ])
        .arg(&path)
        .output()
        .expect("ffmpeg (see ./test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clip = std::fs::read(&path).unwrap();
    let s = scu().await;
    s.recording().await;
    assert_eq!(s.clip(CLIP_A, &clip).await.status, Some(201));
    assert_eq!(s.complete().await.status, Some(204));
    let w = &s.w;
    let id = w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    w.link(&token, &case, id).await;
    let query = format!("purpose=complaint&case={case}&part=0&at=1.5");
    let still = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}/thumbnail?{query}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        still.status,
        200,
        "{}",
        String::from_utf8_lossy(&still.body)
    );
    assert_eq!(still.header("content-type"), Some("image/jpeg"));
    assert_eq!(still.header("x-custos-frame-at-ms"), Some("1000"));
    let faces = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}/faces?{query}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        faces.status,
        200,
        "{}",
        String::from_utf8_lossy(&faces.body)
    );
    assert_eq!(faces.json()["at_millis"], 1000);
    // Past the last clip: nothing decoded, a clear answer.
    let none = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}/thumbnail?purpose=complaint&case={case}&part=1"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(none.status, 404);
}

/// A subject access request's search finds an Axis recording that started
/// long before the requester's window and ran into it (an Axis recording
/// may last a day), with its place unknown, and holds it.
#[tokio::test]
async fn a_subject_access_search_finds_a_long_axis_recording_reaching_into_the_window() {
    let s = scu().await;
    s.registered().await;
    let name = format!("{USER}_{SERIAL}_20260822T114700Z");
    let start = 1_787_399_220i64;
    let clip = format!("{start}_1.mp4");
    let done = s
        .recording_with(&name, start, start + 20 * 3600, &[(&clip, None)])
        .await;
    assert_eq!(done.status, Some(204), "{}", done.head);
    let w = &s.w;
    let id = w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let at = |secs: i64| {
        serde_json::to_value(custos_format::UtcMillis::from_millis(secs * 1000).unwrap()).unwrap()
    };
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-AXIS-1",
                "requester": "Johanna Jansen",
                "contact": "j.jansen@example.nl",
                "identity_check": "passport shown, no copy kept",
                "description": "spoken to near the station",
                "window_from": at(start + 19 * 3600),
                "window_to": at(start + 19 * 3600 + 600),
                "place": {"lat": 51.9222, "lon": 4.4790, "radius_m": 300},
                "received_at": at(start + 2 * 86_400),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.json());
    let found = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-AXIS-1/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.json());
    let found = found.json();
    let hits = found.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["recording_id"], id.to_string());
    assert_eq!(
        hits[0]["location_known"], false,
        "no GNSS trail came with it: its place is unknown"
    );
    let holds = w
        .server
        .deployment
        .catalog
        .holds_for_case("SAR-AXIS-1")
        .await
        .unwrap();
    assert_eq!(holds.len(), 1);
}

/// A serial that is a Custos camera's id, or an Axis camera an
/// administrator revoked, completes nothing: `400` with its code, the
/// container stays open, no recording, the camera unchanged.
#[tokio::test]
async fn a_clashing_or_revoked_camera_completes_nothing() {
    // The clash: a Custos camera enrolled under the Axis serial.
    let s = scu().await;
    let key = custos_format::SigningKey::generate().verifying_key();
    s.w.admin().await.enroll_camera(SERIAL, &key).await.unwrap();
    s.recording().await;
    assert_eq!(s.clip(CLIP_A, b"clip").await.status, Some(201));
    let answer = s.complete().await;
    assert_eq!(answer.status, Some(400), "{}", answer.head);
    assert_eq!(reason(&answer).split(':').next(), Some("device-clash"));
    let catalog = &s.w.server.deployment.catalog;
    assert!(catalog.recordings().await.unwrap().is_empty());
    let container = catalog
        .axis_container("scu-1", RECORDING)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(container.completed_at, None);
    let camera = catalog.device(SERIAL).await.unwrap().unwrap();
    assert_eq!(
        (camera.kind, camera.public_key),
        (custos_catalog::DeviceKind::Custos, key.to_hex())
    );

    // Revoked: the first recording made the Axis camera; once revoked, the
    // next completes nothing.
    let (s, _, _) = completed().await;
    s.w.admin().await.revoke_camera(SERIAL).await.unwrap();
    let next = format!("{USER}_{SERIAL}_20260823T120000Z");
    let done = s
        .recording_with(
            &next,
            1_787_486_400,
            1_787_486_460,
            &[("1787486400_1.mp4", None)],
        )
        .await;
    assert_eq!(done.status, Some(400), "{}", done.head);
    assert_eq!(reason(&done).split(':').next(), Some("device-revoked"));
    assert_eq!(
        s.w.server
            .deployment
            .catalog
            .recordings()
            .await
            .unwrap()
            .len(),
        1
    );
}

/// What never became a recording — rejected content, a recording the
/// controller gave up on — is deleted once untouched for the standard
/// period: its objects' keys and blobs, its container, on record. Users,
/// Devices and completed containers are not touched by it.
#[tokio::test]
async fn uploads_that_never_became_recordings_are_deleted_after_the_standard_period() {
    let (s, _, _) = completed().await;
    let w = &s.w;
    let d = &w.server.deployment;
    let rejected = "RejectedContent_20260823T114800Z_6f1d3a0e-2b7c-4d2e-9a55-0d2f3b1c7a11";
    assert_eq!(s.send("PUT", rejected, &[], b"").await.status, Some(201));
    let stray = s
        .send(
            "PUT",
            &format!("{rejected}/1787485620_9.mp4"),
            &[],
            b"corrupt",
        )
        .await;
    assert_eq!(stray.status, Some(201), "{}", stray.head);
    let given_up = format!("{USER}_{SERIAL}_20260823T130000Z");
    let made = s
        .send(
            "PUT",
            &given_up,
            &[("X-Container-Meta-Starttime", "1787490000")],
            b"",
        )
        .await;
    assert_eq!(made.status, Some(201), "{}", made.head);
    assert_eq!(
        s.send("PUT", &format!("{given_up}/1787490000_1.mp4"), &[], b"half")
            .await
            .status,
        Some(201)
    );
    let mut blobs = Vec::new();
    for c in [rejected, given_up.as_str()] {
        blobs.extend(s.objects(c).await.into_iter().map(|o| o.blob_key));
    }
    assert_eq!(blobs.len(), 2);
    let recording = d.catalog.recordings().await.unwrap().remove(0);

    // A day short of the period: kept.
    w.set_time(w.now().plus_millis(27 * 86_400_000));
    custos_server::maintenance_once(d).await;
    assert!(d
        .catalog
        .axis_container("scu-1", rejected)
        .await
        .unwrap()
        .is_some());
    // Past it: gone, keys and blobs, on record.
    w.set_time(w.now().plus_millis(2 * 86_400_000));
    custos_server::maintenance_once(d).await;
    for c in [rejected, given_up.as_str()] {
        assert_eq!(
            d.catalog.axis_container("scu-1", c).await.unwrap(),
            None,
            "{c}"
        );
        assert!(s.objects(c).await.is_empty());
    }
    for key in &blobs {
        assert!(
            !w.data.join("blobs").join(key).exists(),
            "{key} left behind"
        );
        assert!(!w.data.join("blobs").join(format!("{key}.part")).exists());
    }
    let expired: Vec<String> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "axis.container.expire")
        .map(|e| e.object.unwrap_or_default())
        .collect();
    assert_eq!(expired.len(), 2, "{expired:?}");
    assert!(expired.contains(&format!("axis:scu-1/{rejected}")));
    // The completed recording went by its own retention (it was due too);
    // its container stays as the bare `Complete` that refuses it again.
    // The user and the camera stay.
    assert!(d
        .catalog
        .tombstone(recording.recording_id)
        .await
        .unwrap()
        .is_some());
    let stub = d
        .catalog
        .axis_container("scu-1", RECORDING)
        .await
        .unwrap()
        .unwrap();
    assert!(stub.completed_at.is_some());
    assert!(d
        .catalog
        .axis_object("scu-1", "Users", USER)
        .await
        .unwrap()
        .is_some());
    assert!(d
        .catalog
        .axis_object("scu-1", "Devices", SERIAL)
        .await
        .unwrap()
        .is_some());
}

/// What Custos can see of a missing clip or a double recording, from the
/// controller's own times: an `axis-gap` incident naming the recording;
/// a whole recording raises none.
#[tokio::test]
async fn a_recording_with_a_clip_missing_or_overlapping_another_is_an_incident() {
    let (s, _, _) = completed().await;
    let d = &s.w.server.deployment;
    let gaps = || async {
        d.catalog
            .incidents()
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.kind == custos_catalog::IncidentKind::AxisGap)
            .collect::<Vec<_>>()
    };
    assert!(
        gaps().await.is_empty(),
        "its clips cover it, no other overlaps it"
    );

    // A second recording of the camera: it overlaps the first, and its
    // clips leave 20 s uncovered.
    let name = format!("{USER}_{SERIAL}_20260823T114750Z");
    let clips = [
        ("1787485670_2.mp4", Some((1_787_485_670, 1_787_485_690))),
        ("1787485710_2.mp4", Some((1_787_485_710, 1_787_485_730))),
    ];
    let done = s
        .recording_with(&name, 1_787_485_670, 1_787_485_730, &clips)
        .await;
    assert_eq!(done.status, Some(204), "{}", done.head);
    let second = d
        .catalog
        .recordings()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.sequence == 2)
        .unwrap();
    let found = gaps().await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .all(|i| i.recording_id == Some(second.recording_id)
            && i.device_id.as_deref() == Some(SERIAL)));
    assert!(
        found
            .iter()
            .any(|i| i.detail.contains("20 s of its time uncovered")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|i| i.detail.contains("overlaps recording")),
        "{found:?}"
    );
}

/// A Matroska clip is served as what it is, and no frame is read from it:
/// `422` before anything is decrypted, and no access recorded as done.
#[tokio::test]
async fn a_matroska_clip_plays_as_matroska_and_gives_no_frames() {
    let s = scu().await;
    s.recording().await;
    let clip = s
        .send(
            "PUT",
            &format!("{RECORDING}/1787485620_1.mkv"),
            &[("X-Object-Meta-Containertype", "mkv")],
            b"\x1a\x45\xdf\xa3 not really matroska",
        )
        .await;
    assert_eq!(clip.status, Some(201), "{}", clip.head);
    assert_eq!(s.complete().await.status, Some(204));
    let w = &s.w;
    let id = w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    w.link(&token, &case, id).await;
    let query = format!("purpose=complaint&case={case}");
    let video = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}/video?{query}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(video.status, 200);
    assert_eq!(video.header("content-type"), Some("video/x-matroska"));
    for what in ["thumbnail", "faces"] {
        let answer = w
            .call(
                "GET",
                &format!("/api/v1/recordings/{id}/{what}?{query}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 422, "{what}");
        assert_eq!(answer.code(), "undecodable");
    }
    let frames_done = audit_events(w)
        .await
        .into_iter()
        .filter(|e| {
            matches!(e.action.as_str(), "recording.thumbnail" | "recording.faces")
                && e.outcome.as_str() == "ok"
        })
        .count();
    assert_eq!(frames_done, 0);
}

/// A dock offering a recording signed under an Axis camera's serial is told
/// the camera is unknown: an Axis camera has no key here and never docks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dock_offering_an_axis_cameras_recording_is_told_it_is_unknown() {
    let (s, _, _) = completed().await;
    let w = &s.w;
    let impostor = w.camera(SERIAL, 1, false).await;
    let (report, _) = w.offload(&impostor).await;
    assert_eq!(
        report
            .refused
            .iter()
            .map(|r| r.1.as_str())
            .collect::<Vec<_>>(),
        ["camera-unknown"]
    );
    assert_eq!(
        impostor.pending_recordings().unwrap().len(),
        1,
        "kept on it"
    );
    let catalog = &w.server.deployment.catalog;
    assert_eq!(
        catalog.recordings().await.unwrap().len(),
        1,
        "only the Axis recording"
    );
    let camera = catalog.device(SERIAL).await.unwrap().unwrap();
    assert_eq!(
        (camera.kind, camera.public_key.as_str()),
        (custos_catalog::DeviceKind::Axis, "")
    );
}
