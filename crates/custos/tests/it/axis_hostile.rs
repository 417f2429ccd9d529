//! The Axis listener attacked (issue 23): outsiders without a token or
//! with a wrong one, another connection's account, hostile names and
//! metadata, objects that are not what they announce, a recording
//! completed without clips or twice, and floods. Every refusal is the
//! spec's status with a reason, is on record, and loses nothing stored.

use crate::axis_swift::{md5_hex, reason, scu, RECORDING, SERIAL, USER};

#[tokio::test(flavor = "multi_thread")]
async fn the_auth_answer_is_the_specs_token_and_storage_url() {
    let s = scu().await;
    let answer = s.authenticate("scu-1", &s.key).await;
    assert_eq!(answer.status, Some(200));
    let url = answer.header("x-storage-url").unwrap();
    assert_eq!(
        url, "https://localhost/v1/AUTH_scu-1",
        "the Host the client named"
    );
    let token = answer.header("x-auth-token").unwrap();
    assert_eq!(token.len(), 64);
    assert_ne!(token, s.token, "each token is new");
    assert_eq!(
        answer.header("x-auth-token-expires").as_deref(),
        Some("900")
    );
    // Both tokens work.
    for t in [&token, &s.token] {
        let a = s.send_as(t, "PUT", b"/v1/AUTH_scu-1/Users", &[], b"").await;
        assert!(matches!(a.status, Some(201 | 202)), "{}", a.head);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_get_no_token_and_are_on_record() {
    let s = scu().await;
    let long = "k".repeat(5000);
    for (user, key) in [
        ("scu-1", "wrong"),
        ("scu-2", s.key.as_str()),
        ("", s.key.as_str()),
        ("scu-1", ""),
        ("../scu-1", s.key.as_str()),
        ("scu-1", long.as_str()),
    ] {
        let answer = s.authenticate(user, key).await;
        assert_eq!(answer.status, Some(401), "{user:?}");
        assert!(answer.header("x-auth-token").is_none());
        assert!(reason(&answer).starts_with("unauthorized: "));
    }
    let refused = crate::common::audit_events(&s.w)
        .await
        .into_iter()
        .filter(|e| e.action == "axis.authenticate" && e.detail.is_some())
        .count();
    assert_eq!(refused, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_a_wrong_one_or_a_revoked_connections_is_401() {
    let s = scu().await;
    let target = b"/v1/AUTH_scu-1/Users";
    for token in ["", "0000", &"a".repeat(64), &"t".repeat(300)] {
        let answer = s.send_as(token, "PUT", target, &[], b"").await;
        assert_eq!(answer.status, Some(401), "{token:?}");
    }
    assert_eq!(s.send("PUT", "Users", &[], b"").await.status, Some(201));
    s.w.admin()
        .await
        .revoke_axis_connection("scu-1")
        .await
        .unwrap();
    assert_eq!(s.send("PUT", "Users", &[], b"").await.status, Some(401));
    assert_eq!(s.authenticate("scu-1", &s.key).await.status, Some(401));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_ends_the_old_key_and_its_tokens() {
    let s = scu().await;
    let fresh =
        s.w.admin()
            .await
            .rotate_axis_connection("scu-1")
            .await
            .unwrap();
    assert_eq!(s.send("PUT", "Users", &[], b"").await.status, Some(401));
    assert_eq!(s.authenticate("scu-1", &s.key).await.status, Some(401));
    assert_eq!(s.authenticate("scu-1", &fresh.key).await.status, Some(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn another_accounts_path_is_403_and_makes_nothing() {
    let s = scu().await;
    s.w.admin()
        .await
        .add_axis_connection("scu-2")
        .await
        .unwrap();
    for target in [
        &b"/v1/AUTH_scu-2/Users"[..],
        b"/v1/scu-1/Users",
        b"/v1/AUTH_scu-1%2F../Users",
        b"/v1/",
        b"/v1/AUTH_scu-1",
        b"/v1/AUTH_scu-1/",
    ] {
        let answer = s.send_as(&s.token, "PUT", target, &[], b"").await;
        assert_eq!(
            answer.status,
            Some(403),
            "{}",
            String::from_utf8_lossy(target)
        );
    }
    let catalog = &s.w.server.deployment.catalog;
    assert_eq!(
        catalog.axis_container("scu-2", "Users").await.unwrap(),
        None
    );
    assert_eq!(
        catalog.axis_container("scu-1", "Users").await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_container_names_are_400_with_a_reason_and_make_nothing() {
    let s = scu().await;
    s.registered().await;
    let long = format!("{USER}_{}_20260823T114706Z", "A".repeat(300));
    for name in [
        "..",
        "Users%2F..%2FSystem",
        "Users%00",
        "Users%0a",
        "%2e%2e",
        "..%2FUsers",
        "Mine",
        &format!("{USER}_{SERIAL}_2026-08-23"),
        &format!("{USER}_{SERIAL}_20261323T114706Z"),
        "RejectedContent_yesterday_x",
        "%FF%FE",
        &long,
    ] {
        let answer = s.send("PUT", name, &[], b"").await;
        assert_eq!(answer.status, Some(400), "{name}: {}", answer.head);
        assert!(
            reason(&answer).starts_with("container-name: ")
                || reason(&answer).starts_with("object-name: "),
            "{name}: {}",
            reason(&answer)
        );
    }
    let rejected = format!("RejectedContent_UnknownTime_{USER}");
    assert_eq!(s.send("PUT", &rejected, &[], b"").await.status, Some(201));
    let entries = s.entries().await;
    let refused = entries.iter().filter(|(_, o, _)| o == "refused").count();
    assert_eq!(refused, 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_object_names_are_400_and_store_nothing() {
    let s = scu().await;
    s.recording().await;
    for name in [
        "..",
        "a%2F..%2F..%2Fkeys",
        "clip.exe",
        "clip.mp4%00",
        ".mp4",
        "bookmark_1%0a2",
        "a%5Cb.mp4",
    ] {
        let answer = s.clip(name, b"bytes").await;
        assert_eq!(answer.status, Some(400), "{name}: {}", answer.head);
        assert!(
            reason(&answer).starts_with("object-name: "),
            "{}",
            reason(&answer)
        );
    }
    let answer = s.send("PUT", "Users/not-a-uuid", &[], b"").await;
    assert_eq!(answer.status, Some(400));
    assert!(s.objects(RECORDING).await.is_empty());
    assert_eq!(
        std::fs::read_dir(s.w.data.join("staging-axis"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_over_the_specs_limits_is_400_naming_the_key() {
    let s = scu().await;
    s.registered().await;
    let location = "1".repeat(65);
    let value = "v".repeat(257);
    let cases: [(&str, &str, &str); 4] = [
        (
            "X-Container-Meta-Triggeronlocation",
            &location,
            "triggeronlocation",
        ),
        (
            "X-Container-Meta-Firmwareversion",
            &value,
            "firmwareversion",
        ),
        ("X-Container-Meta-Status", "%zz", "status"),
        ("X-Container-Meta-Status", "%07", "status"),
    ];
    for (key, value, named) in cases {
        let answer = s.send("PUT", RECORDING, &[(key, value)], b"").await;
        assert_eq!(answer.status, Some(400), "{key}");
        let said = reason(&answer);
        assert!(
            said.starts_with(&format!("metadata: metadata `{named}`")),
            "{said}"
        );
    }
    let many: Vec<(String, String)> = (0..91)
        .map(|i| (format!("X-Container-Meta-K{i}"), "v".into()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let answer = s.send("PUT", RECORDING, &many, b"").await;
    assert_eq!(answer.status, Some(400));
    let catalog = &s.w.server.deployment.catalog;
    assert_eq!(
        catalog.axis_container("scu-1", RECORDING).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_of_an_unknown_user_or_camera_is_400() {
    let s = scu().await;
    let answer = s.send("PUT", RECORDING, &[], b"").await;
    assert_eq!(answer.status, Some(400));
    assert!(reason(&answer).starts_with("unknown-user: "));
    s.send("PUT", "Users", &[], b"").await;
    s.send("PUT", &format!("Users/{}", USER.to_uppercase()), &[], b"")
        .await;
    let answer = s.send("PUT", RECORDING, &[], b"").await;
    assert!(
        reason(&answer).starts_with("unknown-device: "),
        "{}",
        reason(&answer)
    );
    s.send("PUT", "Devices", &[], b"").await;
    s.send("PUT", &format!("Devices/{SERIAL}"), &[], b"").await;
    assert_eq!(s.send("PUT", RECORDING, &[], b"").await.status, Some(201));
    assert_eq!(s.send("PUT", RECORDING, &[], b"").await.status, Some(202));
}

#[tokio::test(flavor = "multi_thread")]
async fn complete_without_clips_is_400_and_the_recording_stays_open() {
    let s = scu().await;
    s.recording().await;
    let answer = s.complete().await;
    assert_eq!(answer.status, Some(400));
    assert!(reason(&answer).starts_with("no-clips: "));
    assert_eq!(s.clip("1787485620_1.mp4", b"clip").await.status, Some(201));
    // A stop before the start is never storable; the recording stays open.
    let answer = s
        .send(
            "POST",
            RECORDING,
            &[
                ("X-Container-Meta-Status", "Complete"),
                ("X-Container-Meta-Stoptime", "1787485000"),
            ],
            b"",
        )
        .await;
    assert_eq!(answer.status, Some(400), "{}", reason(&answer));
    assert!(
        reason(&answer).starts_with("metadata: "),
        "{}",
        reason(&answer)
    );
    assert_eq!(s.clip("1787485660_1.mp4", b"more").await.status, Some(201));
    assert_eq!(s.complete().await.status, Some(204));
    assert_eq!(s.objects(RECORDING).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_recording_takes_its_complete_again_and_nothing_else() {
    let s = scu().await;
    s.recording().await;
    s.clip("1787485620_1.mp4", b"clip").await;
    assert_eq!(s.complete().await.status, Some(204));
    let before =
        s.w.server
            .deployment
            .catalog
            .axis_container("scu-1", RECORDING)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        s.complete().await.status,
        Some(204),
        "a lost answer, sent again"
    );
    let change = [("X-Container-Meta-Triggeroff", "Other")];
    for answer in [
        s.send("POST", RECORDING, &change, b"").await,
        s.send("PUT", RECORDING, &change, b"").await,
        s.clip("1787485700_1.mp4", b"late").await,
        s.send("POST", &format!("{RECORDING}/1787485620_1.mp4"), &[], b"")
            .await,
    ] {
        assert_eq!(answer.status, Some(403), "{}", answer.head);
        assert!(reason(&answer).starts_with("complete: "));
    }
    let after =
        s.w.server
            .deployment
            .catalog
            .axis_container("scu-1", RECORDING)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(after, before);
    assert_eq!(s.objects(RECORDING).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_object_again_is_201_and_other_bytes_never_replace_it() {
    let s = scu().await;
    s.recording().await;
    let first = s.clip("1787485620_1.mp4", b"the first bytes").await;
    assert_eq!(first.status, Some(201));
    let again = s.clip("1787485620_1.mp4", b"the first bytes").await;
    assert_eq!(again.status, Some(201));
    assert_eq!(again.header("etag"), first.header("etag"));
    let other = s.clip("1787485620_1.mp4", b"other bytes").await;
    assert_eq!(other.status, Some(400));
    assert!(reason(&other).starts_with("object-exists: "));
    let objects = s.objects(RECORDING).await;
    assert_eq!(objects.len(), 1);
    assert_eq!(s.open(&objects[0]), b"the first bytes");
    // The user's, the camera's and the clip's: none of the refused.
    let blobs = s.w.data.join("blobs/axis");
    assert_eq!(std::fs::read_dir(blobs).unwrap().count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_that_are_not_what_their_etag_says_are_422_and_not_kept() {
    let s = scu().await;
    s.recording().await;
    let path = format!("{RECORDING}/1787485620_1.mp4");
    let sent_md5 = "0123456789abcdef0123456789abcdef";
    let answer = s.send("PUT", &path, &[("Etag", sent_md5)], b"bytes").await;
    assert_eq!(answer.status, Some(422));
    assert!(reason(&answer).starts_with("etag-mismatch: "));
    // Announced ten bytes, sent twenty: the object is the ten, and the
    // client's Etag of twenty says so.
    let twenty = b"0123456789abcdefghij";
    let mut request = format!(
        "PUT /v1/AUTH_scu-1/{path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         X-Auth-Token: {}\r\nEtag: {}\r\nContent-Length: 10\r\n\r\n",
        s.token,
        md5_hex(twenty)
    )
    .into_bytes();
    request.extend_from_slice(twenty);
    let answer = s
        .raw
        .send("127.0.0.1".parse().unwrap(), request)
        .await
        .unwrap();
    assert_eq!(answer.status, Some(422), "{}", answer.head);
    assert!(s.objects(RECORDING).await.is_empty());
    let right = s
        .send("PUT", &path, &[("Etag", &md5_hex(twenty))], twenty)
        .await;
    assert_eq!(right.status, Some(201));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_name_that_is_no_utf8_is_named_as_the_containers() {
    let s = scu().await;
    let answer = s.send("PUT", "%FF%FE", &[], b"").await;
    assert_eq!(answer.status, Some(400));
    assert!(
        reason(&answer).starts_with("container-name: "),
        "{}",
        reason(&answer)
    );
    let answer = s.send("PUT", "Users/%FF%FE", &[], b"").await;
    assert!(
        reason(&answer).starts_with("object-name: "),
        "{}",
        reason(&answer)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_complete_on_users_devices_or_system_is_a_value_and_they_stay_open() {
    let s = scu().await;
    s.registered().await;
    assert_eq!(s.send("PUT", "System", &[], b"").await.status, Some(201));
    let complete = [("X-Container-Meta-Status", "Complete")];
    let other = "0b7a3f52-6f3e-4a53-9a7e-3c1f7e0d2b11";
    for (container, object) in [
        ("Users", other.to_owned()),
        ("Devices", "ACCC8E000002".to_owned()),
        ("System", other.to_owned()),
    ] {
        assert_eq!(
            s.send("POST", container, &complete, b"").await.status,
            Some(204)
        );
        let answer = s
            .send("PUT", &format!("{container}/{object}"), &[], b"")
            .await;
        assert_eq!(answer.status, Some(201), "{container}: {}", reason(&answer));
        let row =
            s.w.server
                .deployment
                .catalog
                .axis_container("scu-1", container)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(row.completed_at, None, "{container}");
        assert_eq!(row.metadata, r#"{"status":"Complete"}"#);
    }
    // A recording made already complete has no clips: never storable.
    let answer = s.send("PUT", RECORDING, &complete, b"").await;
    assert_eq!(answer.status, Some(400));
    assert!(reason(&answer).starts_with("no-clips: "));
    let catalog = &s.w.server.deployment.catalog;
    assert_eq!(
        catalog.axis_container("scu-1", RECORDING).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_content_is_taken_whatever_its_metadata_says() {
    let s = scu().await;
    let rejected = format!("RejectedContent_20260823T120000Z_{USER}");
    let meta = [
        (
            "X-Container-Meta-Rejectedcontentreason",
            "missing%20metadata",
        ),
        (
            "X-Container-Meta-Rejectedcontentoriginalcontainer",
            RECORDING,
        ),
    ];
    assert_eq!(s.send("PUT", &rejected, &meta, b"").await.status, Some(201));
    let backwards = [
        ("X-Object-Meta-Starttime", "1787485700"),
        ("X-Object-Meta-Stoptime", "1787485620"),
    ];
    let path = format!("{rejected}/1787485700_1.mp4");
    let answer = s.send("PUT", &path, &backwards, b"clip").await;
    assert_eq!(answer.status, Some(201), "{}", reason(&answer));
    // The same on a recording can never be stored.
    s.recording().await;
    let path = format!("{RECORDING}/1787485700_1.mp4");
    let answer = s.send("PUT", &path, &backwards, b"clip").await;
    assert_eq!(answer.status, Some(400));
    assert!(s.objects(RECORDING).await.is_empty());
    let rejected_row =
        s.w.server
            .deployment
            .catalog
            .axis_container("scu-1", &rejected)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(rejected_row.recording_id, None, "kept apart, no recording");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_put_takes_its_new_metadata_and_a_post_its_checks() {
    let s = scu().await;
    s.recording().await;
    let user = format!("Users/{USER}");
    let renamed = [("X-Object-Meta-Name", "Anna")];
    assert_eq!(s.send("PUT", &user, &renamed, b"").await.status, Some(201));
    let head = s.send("HEAD", &user, &[], b"").await;
    assert_eq!(head.header("x-object-meta-name").as_deref(), Some("Anna"));
    let clip = format!("{RECORDING}/1787485620_1.mp4");
    let good = [
        ("X-Object-Meta-Starttime", "1787485620"),
        ("X-Object-Meta-Stoptime", "1787485660"),
    ];
    assert_eq!(s.send("PUT", &clip, &good, b"clip").await.status, Some(201));
    let backwards = [
        ("X-Object-Meta-Starttime", "1787485620"),
        ("X-Object-Meta-Stoptime", "1787485000"),
    ];
    let answer = s.send("POST", &clip, &backwards, b"").await;
    assert_eq!(answer.status, Some(400));
    let head = s.send("HEAD", &clip, &[], b"").await;
    assert_eq!(
        head.header("x-object-meta-stoptime").as_deref(),
        Some("1787485660")
    );
}
