//! The Axis listener's limits and faults (issue 23): busy is `503` with a
//! `Retry-After`, a full disk `507`, an object over the largest taken `400`;
//! an upload cut off midway leaves nothing and can be sent again; a
//! thousand recordings at once are each answered and none is lost; what
//! Custos does not offer (reading evidence back, deleting) is `403`.

use std::io::Write;

use crate::axis_swift::{reason, scu, scu_with, RECORDING, USER};

#[tokio::test(flavor = "multi_thread")]
async fn busy_is_503_with_retry_after_and_full_is_507() {
    let busy = scu_with(|s| s.uploads_at_once = 0).await;
    assert_eq!(busy.send("PUT", "Users", &[], b"").await.status, Some(201));
    let answer = busy.send("PUT", &format!("Users/{USER}"), &[], b"").await;
    assert_eq!(answer.status, Some(503), "{}", reason(&answer));
    assert_eq!(answer.header("retry-after").as_deref(), Some("5"));
    assert!(reason(&answer).starts_with("busy: "));
    let full = scu_with(|s| s.reserve_bytes = u64::MAX / 2).await;
    let answer = full.send("PUT", "Users", &[], b"").await;
    assert_eq!(answer.status, Some(201), "containers cost no disk");
    let answer = full.send("PUT", &format!("Users/{USER}"), &[], b"").await;
    assert_eq!(answer.status, Some(507));
    assert!(reason(&answer).starts_with("storage-full: "));
    assert!(full.objects("Users").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_over_the_largest_taken_is_400_announced_or_not() {
    let s = scu_with(|s| s.max_object_bytes = 1000).await;
    s.recording().await;
    let answer = s.clip("1787485620_1.mp4", &[7; 1001]).await;
    assert_eq!(answer.status, Some(400));
    assert!(reason(&answer).starts_with("too-large: "));
    // Chunked, no length announced: refused once past the limit.
    let mut request = format!(
        "PUT /v1/AUTH_scu-1/{RECORDING}/1787485620_1.mp4 HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\nX-Auth-Token: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        s.token
    )
    .into_bytes();
    for _ in 0..3 {
        request.extend_from_slice(b"200\r\n");
        request.extend_from_slice(&[7; 512]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = s
        .raw
        .send("127.0.0.1".parse().unwrap(), request)
        .await
        .unwrap();
    assert_eq!(answer.status, Some(400), "{}", answer.head);
    assert!(reason(&answer).starts_with("too-large: "));
    assert!(s.objects(RECORDING).await.is_empty());
    assert_eq!(
        s.clip("1787485620_1.mp4", &[7; 1000]).await.status,
        Some(201)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_cut_off_midway_leaves_nothing_and_is_sent_again() {
    let s = scu().await;
    s.recording().await;
    let head = format!(
        "PUT /v1/AUTH_scu-1/{RECORDING}/1787485620_1.mp4 HTTP/1.1\r\nHost: localhost\r\n\
         X-Auth-Token: {}\r\nContent-Length: 100000\r\n\r\n",
        s.token
    );
    let mut tls = s.raw.tls("127.0.0.1".parse().unwrap()).await.unwrap();
    tokio::task::spawn_blocking(move || {
        tls.write_all(head.as_bytes()).unwrap();
        tls.write_all(&[9; 40_000]).unwrap();
        tls.flush().unwrap();
        // The cable is pulled: TLS ends, then the socket.
        tls.conn.send_close_notify();
        let _ = tls.flush();
        let _ = tls.sock.shutdown(std::net::Shutdown::Both);
    })
    .await
    .unwrap();
    // The server saw the end of the body; its refusal is on record.
    let mut refused = false;
    for _ in 0..200 {
        let entries = s.entries().await;
        refused = entries
            .iter()
            .any(|(a, o, d)| a == "axis.object.put" && o == "refused" && d.contains("interrupted"));
        if refused {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "{:?}", s.entries().await);
    assert!(s.objects(RECORDING).await.is_empty());
    assert_eq!(
        std::fs::read_dir(s.w.data.join("staging-axis"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        s.clip("1787485620_1.mp4", &[9; 100_000]).await.status,
        Some(201)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_is_not_read_back_nor_deleted_over_this_api() {
    let s = scu().await;
    s.recording().await;
    s.clip("1787485620_1.mp4", b"clip").await;
    let clip = format!("{RECORDING}/1787485620_1.mp4");
    for (method, path) in [
        ("GET", clip.as_str()),
        ("GET", RECORDING),
        ("GET", "Users"),
        ("DELETE", clip.as_str()),
        ("DELETE", RECORDING),
        ("COPY", clip.as_str()),
        ("PUT", "System/Capabilities.json"),
    ] {
        let answer = s.send(method, path, &[], b"").await;
        assert_eq!(answer.status, Some(403), "{method} {path}");
        assert!(!answer.body.windows(4).any(|w| w == b"clip"));
    }
    assert_eq!(s.objects(RECORDING).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn head_gives_the_metadata_back_percent_encoded_as_the_spec_says() {
    let s = scu().await;
    s.registered().await;
    let path = format!("Users/{USER}");
    let name = "Ren%C3%A9e%20d%27Ors";
    let answer = s
        .send("POST", &path, &[("X-Object-Meta-Name", name)], b"")
        .await;
    assert_eq!(answer.status, Some(202));
    let head = s.send("HEAD", &path, &[], b"").await;
    assert_eq!(head.status, Some(200));
    assert_eq!(head.header("x-object-meta-name").as_deref(), Some(name));
    assert_eq!(
        head.header("etag").as_deref(),
        Some("d41d8cd98f00b204e9800998ecf8427e")
    );
    let missing = s
        .send(
            "HEAD",
            "Users/0b7a3f52-6f3e-4a53-9a7e-3c1f7e0d2b11",
            &[],
            b"",
        )
        .await;
    assert_eq!(missing.status, Some(404));
    let missing = s
        .send("POST", "Nowhere_but_here_20260101T000000Z", &[], b"")
        .await;
    assert_eq!(missing.status, Some(400), "not even a container's name");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_recordings_at_once_are_each_answered_and_none_lost() {
    let s = std::sync::Arc::new(scu().await);
    s.registered().await;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..25u32 {
        let s = s.clone();
        tasks.spawn(async move {
            let mut answered = Vec::new();
            for i in 0..40u32 {
                let n = worker * 40 + i;
                let name = if n % 10 == 0 {
                    format!("RejectedContent_UnknownTime_{}", uuid::Uuid::now_v7())
                } else {
                    let (h, m, sec) = (n / 3600, n / 60 % 60, n % 60);
                    format!("{USER}_ACCC8EF0A1B2_20260823T{h:02}{m:02}{sec:02}Z")
                };
                let status = s.send("PUT", &name, &[], b"").await.status;
                answered.push((name, status));
            }
            answered
        });
    }
    let mut names = Vec::new();
    while let Some(answered) = tasks.join_next().await {
        for (name, status) in answered.unwrap() {
            assert_eq!(status, Some(201), "{name}");
            names.push(name);
        }
    }
    assert_eq!(names.len(), 1000);
    let catalog = &s.w.server.deployment.catalog;
    for name in &names {
        assert!(catalog
            .axis_container("scu-1", name)
            .await
            .unwrap()
            .is_some());
    }
    // Rejected content is no recording in transfer.
    let since = s.w.now().plus_millis(-60_000);
    let open = catalog.open_axis_containers("scu-1", since).await.unwrap();
    assert_eq!(open, 900);
}

#[tokio::test(flavor = "multi_thread")]
async fn recordings_given_up_stop_counting_and_rejected_content_never_counts() {
    let s = scu_with(|s| s.open_containers = 2).await;
    s.registered().await;
    for _ in 0..3 {
        let rejected = format!("RejectedContent_UnknownTime_{}", uuid::Uuid::now_v7());
        assert_eq!(s.send("PUT", &rejected, &[], b"").await.status, Some(201));
    }
    let name = |second: u32| format!("{USER}_ACCC8EF0A1B2_20260823T1147{second:02}Z");
    assert_eq!(s.send("PUT", &name(1), &[], b"").await.status, Some(201));
    assert_eq!(s.send("PUT", &name(2), &[], b"").await.status, Some(201));
    let answer = s.send("PUT", &name(3), &[], b"").await;
    assert_eq!(answer.status, Some(503));
    assert!(reason(&answer).starts_with("busy: "));
    // A day later the two untouched ones no longer hold the places (and
    // the token of then has long expired).
    s.w.clock_offset
        .fetch_add(25 * 3_600_000, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(s.send("PUT", &name(3), &[], b"").await.status, Some(401));
    let token = s
        .authenticate("scu-1", &s.key)
        .await
        .header("x-auth-token")
        .unwrap();
    let target = format!("/v1/AUTH_scu-1/{}", name(3));
    let answer = s.send_as(&token, "PUT", target.as_bytes(), &[], b"").await;
    assert_eq!(answer.status, Some(201));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_finished_after_its_connection_was_revoked_is_not_stored() {
    let s = scu().await;
    s.recording().await;
    let head = format!(
        "PUT /v1/AUTH_scu-1/{RECORDING}/1787485620_1.mp4 HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\nX-Auth-Token: {}\r\nContent-Length: 200000\r\n\r\n",
        s.token
    );
    let mut tls = s.raw.tls("127.0.0.1".parse().unwrap()).await.unwrap();
    let mut tls = tokio::task::spawn_blocking(move || {
        tls.write_all(head.as_bytes()).unwrap();
        tls.write_all(&[5; 100_000]).unwrap();
        tls.flush().unwrap();
        tls
    })
    .await
    .unwrap();
    s.w.admin()
        .await
        .revoke_axis_connection("scu-1")
        .await
        .unwrap();
    let answer = tokio::task::spawn_blocking(move || {
        tls.write_all(&[5; 100_000]).unwrap();
        tls.flush().unwrap();
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut tls, &mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(s.objects(RECORDING).await.is_empty());
    let blobs = s.w.data.join("blobs/axis");
    assert_eq!(
        std::fs::read_dir(blobs).unwrap().count(),
        2,
        "the user's and camera's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_whose_row_never_came_is_removed_by_maintenance_after_an_hour() {
    let s = scu().await;
    let d = &s.w.server.deployment;
    let blob = d.blobs.local_path("axis/crashed.age").unwrap();
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, b"ciphertext of an object never committed").unwrap();
    d.catalog
        .add_axis_pending_blob("axis/crashed.age", "scu-1", s.w.now())
        .await
        .unwrap();
    custos_server::maintenance_once(d).await;
    assert!(blob.exists(), "a request may still be committing it");
    s.w.clock_offset.fetch_add(
        custos_server::axis::PENDING_MILLIS + 1,
        std::sync::atomic::Ordering::SeqCst,
    );
    custos_server::maintenance_once(d).await;
    assert!(!blob.exists());
    let later = s.w.now().plus_millis(1);
    assert!(d
        .catalog
        .axis_pending_blobs(later)
        .await
        .unwrap()
        .is_empty());
}

/// docs/AXIS.md gives these bytes' MD5 as test vectors for a second
/// implementation.
#[tokio::test(flavor = "multi_thread")]
async fn the_system_objects_are_docs_test_vectors() {
    let s = scu().await;
    let caps = s.send("GET", "System/Capabilities.json", &[], b"").await;
    assert_eq!(caps.status, Some(200));
    assert_eq!(
        caps.header("etag").as_deref(),
        Some("1487f6f2d5553dcfee5ebf8389e4d2f5")
    );
    assert_eq!(
        caps.header("content-type").as_deref(),
        Some("application/json")
    );
    let cats = s.send("GET", "System/Categories.json", &[], b"").await;
    assert_eq!(
        cats.header("etag").as_deref(),
        Some("cc61f3da59f8f51b94b12ff6ed1f11e5")
    );
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/AXIS.md"))
        .unwrap();
    assert!(doc.contains(std::str::from_utf8(&caps.body).unwrap().trim_end()));
    assert!(doc.contains("1487f6f2d5553dcfee5ebf8389e4d2f5"));
}

/// The same destination on PostgreSQL and S3: objects racing the
/// recording's `Complete` are either stored before it (`201`) or refused
/// (`403 complete`), and what was answered `201` comes back from S3.
#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_and_s3_objects_racing_complete_are_stored_before_it_or_refused() {
    let storage = crate::common::postgres_and_s3("axis_race").await;
    let settings = custos_server::axis::AxisSettings::new("127.0.0.1:0".parse().unwrap());
    let s = std::sync::Arc::new(crate::axis_swift::scu_on(Some(storage), settings).await);
    s.recording().await;
    assert_eq!(
        s.clip("1787485620_0.mp4", b"clip 0").await.status,
        Some(201)
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=12u8 {
        let scu = s.clone();
        tasks.spawn(async move {
            let name = format!("17874856{:02}_{i}.mp4", 20 + i);
            let status = scu.clip(&name, format!("clip {i}").as_bytes()).await.status;
            (Some(name), status)
        });
        if i == 6 {
            let scu = s.clone();
            tasks.spawn(async move { (None, scu.complete().await.status) });
        }
    }
    let mut stored = vec!["1787485620_0.mp4".to_owned()];
    while let Some(done) = tasks.join_next().await {
        match done.unwrap() {
            (None, status) => assert_eq!(status, Some(204)),
            (Some(name), Some(201)) => stored.push(name),
            (Some(name), status) => assert_eq!(status, Some(403), "{name}"),
        }
    }
    stored.sort();
    let d = &s.w.server.deployment;
    let objects = s.objects(RECORDING).await;
    let names: Vec<String> = objects.iter().map(|o| o.name.clone()).collect();
    assert_eq!(names, stored, "exactly those answered 201");
    let done = d
        .catalog
        .axis_container("scu-1", RECORDING)
        .await
        .unwrap()
        .unwrap();
    assert!(done.completed_at.is_some());
    for o in &objects {
        let size = d.blobs.size(&o.blob_key).await.unwrap().unwrap();
        assert!(size > o.length, "{} is in S3, encrypted", o.name);
    }
}
