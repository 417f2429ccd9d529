//! kill -9 of the server while an Axis system controller uploads (issue
//! 23): the server aborts at each crash point of the Axis listener in turn.
//! After every crash each object answered `201` is stored and opens byte
//! for byte, every blob is named by a row or by a pending name (removed by
//! maintenance), and the controller's retry of the whole flow completes
//! the recording with nothing missing and nothing twice.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};

use custos_catalog::stores::*;

use crate::axis_swift::{open_object, RECORDING, SERIAL, USER};
use crate::cli::{custos, init_keys, PASS};
use crate::common::raw::{request, Raw};

struct Node {
    child: Child,
    axis: SocketAddr,
}

/// `custos serve` with the Axis listener, aborting at the `n`-th crash
/// point whose name starts with `filter`, if asked.
fn start(data: &Path, crash: Option<(u64, &str)>) -> Node {
    let mut cmd = custos();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--axis-listen",
        "127.0.0.1:0",
    ])
    .arg("--data")
    .arg(data)
    .env("CUSTOS_PASSPHRASE", PASS)
    .env_remove("CUSTOS_CRASH_AT");
    if let Some((n, filter)) = crash {
        cmd.env("CUSTOS_CRASH_AT", n.to_string())
            .env("CUSTOS_CRASH_FILTER", filter);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let axis = loop {
        let line = lines.next().expect("the server exited").unwrap();
        if let Some(rest) = line
            .trim()
            .strip_prefix("Axis content destination: https://")
        {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Node { child, axis }
}

/// The bytes of the `i`-th clip.
fn clip(i: u8) -> Vec<u8> {
    (0..150_000u32)
        .map(|n| (n as u8).wrapping_mul(7) ^ i)
        .collect()
}

/// A request of the flow: method, path, headers, body.
type Step<'a> = (&'a str, String, Vec<(&'a str, &'a [u8])>, &'a [u8]);

/// The controller's flow: each step's path and whether it got a 2xx,
/// until the first that got no answer at all.
async fn flow(raw: &Raw, key: &str) -> Vec<(String, bool)> {
    let from = "127.0.0.1".parse().unwrap();
    let auth = [
        ("X-Auth-User", &b"scu-1"[..]),
        ("X-Auth-Key", key.as_bytes()),
    ];
    let Ok(answer) = raw
        .send(from, request("GET", b"/auth/v1.0", &auth, b""))
        .await
    else {
        return Vec::new();
    };
    let Some(token) = answer.header("x-auth-token") else {
        return Vec::new();
    };
    let clips: Vec<(String, Vec<u8>)> = (0..3u8)
        .map(|i| (format!("{RECORDING}/17874856{}0_1.mp4", 2 + i), clip(i)))
        .collect();
    let mut steps: Vec<Step> = vec![
        ("PUT", "Users".into(), vec![], b""),
        ("PUT", format!("Users/{USER}"), vec![], b""),
        ("PUT", "Devices".into(), vec![], b""),
        ("PUT", format!("Devices/{SERIAL}"), vec![], b""),
        (
            "PUT",
            RECORDING.into(),
            vec![("X-Container-Meta-Starttime", b"1787485620")],
            b"",
        ),
    ];
    for (path, bytes) in &clips {
        steps.push(("PUT", path.clone(), vec![], bytes));
    }
    let complete: Vec<(&str, &[u8])> = vec![
        ("X-Container-Meta-Status", b"Complete"),
        ("X-Container-Meta-Stoptime", b"1787485700"),
    ];
    steps.push(("POST", RECORDING.into(), complete, b""));
    let mut done = Vec::new();
    for (method, path, headers, body) in steps {
        let mut all = vec![("X-Auth-Token", token.as_bytes())];
        all.extend(headers);
        let target = format!("/v1/AUTH_scu-1/{path}");
        match raw
            .send(from, request(method, target.as_bytes(), &all, body))
            .await
        {
            Ok(a) if a.status.is_some() => {
                done.push((path, a.status.is_some_and(|s| (200..300).contains(&s))))
            }
            _ => break,
        }
    }
    done
}

/// What a crash may leave: answered objects stored whole, blobs only
/// where a row or a pending name says.
async fn check_after_crash(data: &Path, answered: &[(String, bool)]) {
    let catalog = custos_catalog_sqlite::open(data).await.unwrap();
    for (path, ok) in answered {
        let Some((container, object)) = path.split_once('/') else {
            continue;
        };
        if !ok || !container.starts_with(USER) {
            continue;
        }
        let row = catalog
            .axis_object("scu-1", container, object)
            .await
            .unwrap();
        let row = row.unwrap_or_else(|| panic!("{path} was answered 2xx but is not stored"));
        let i = object.as_bytes()[8] - b'2';
        assert_eq!(open_object(data, PASS, &row), clip(i), "{path}");
    }
    let mut named: Vec<String> = catalog
        .axis_pending_blobs(custos_format::UtcMillis::now().plus_millis(1))
        .await
        .unwrap();
    for container in ["Users", "Devices", RECORDING] {
        named.extend(
            catalog
                .axis_objects("scu-1", container)
                .await
                .unwrap()
                .into_iter()
                .map(|o| o.blob_key),
        );
    }
    let dir = data.join("blobs/axis");
    if dir.exists() {
        for e in std::fs::read_dir(dir).unwrap() {
            let key = format!("axis/{}", e.unwrap().file_name().to_string_lossy());
            assert!(named.contains(&key), "{key} is named by nothing");
        }
    }
}

/// One trial: a server that aborts at the `n`-th point of `filter`, the
/// flow until it does, the checks, and the retry on a restarted server.
/// Whether the server crashed (it does not once `n` is past the flow's
/// points).
async fn trial(n: u64, filter: &str) -> bool {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    init_keys(&data);
    let admin = custos_server::admin::Admin::open(&data).await.unwrap();
    let key = admin
        .add_axis_connection("scu-1")
        .await
        .unwrap()
        .key
        .to_string();
    drop(admin);
    let mut node = start(&data, Some((n, filter)));
    let pem = std::fs::read_to_string(data.join("tls/cert.pem")).unwrap();
    let answered = flow(&Raw::new(node.axis, &pem), &key).await;
    if answered.len() == 9 && answered.iter().all(|(_, ok)| *ok) {
        let _ = node.child.kill();
        let _ = node.child.wait();
        return false;
    }
    let status = node.child.wait().unwrap();
    assert!(!status.success(), "{filter} {n}: the server aborted");
    check_after_crash(&data, &answered).await;
    // The controller tries it all again, against the restarted server.
    let mut node = start(&data, None);
    let again = flow(&Raw::new(node.axis, &pem), &key).await;
    let _ = node.child.kill();
    let _ = node.child.wait();
    assert_eq!(again.len(), 9, "{filter} {n}: {again:?}");
    assert!(again.iter().all(|(_, ok)| *ok), "{filter} {n}: {again:?}");
    let catalog = custos_catalog_sqlite::open(&data).await.unwrap();
    let objects = catalog.axis_objects("scu-1", RECORDING).await.unwrap();
    assert_eq!(objects.len(), 3, "{filter} {n}");
    for (i, o) in objects.iter().enumerate() {
        assert_eq!(open_object(&data, PASS, o), clip(i as u8));
    }
    let done = catalog
        .axis_container("scu-1", RECORDING)
        .await
        .unwrap()
        .unwrap();
    assert!(done.completed_at.is_some());
    assert_eq!(
        std::fs::read_dir(data.join("staging-axis"))
            .unwrap()
            .count(),
        0
    );
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_every_axis_crash_point_loses_no_answered_object() {
    // Before the blob, after it, after the row: five objects, three each.
    let mut n = 1;
    while trial(n, "server:axis-").await {
        n += 1;
    }
    assert_eq!(n - 1, 15, "every object's three points were crashed at");
    // While a body arrives: one point per buffer handed to the writer.
    let mut n = 0;
    while trial(n + 1, "server:axis:receive").await {
        n += 1;
    }
    assert!(n >= 3, "a clip's body was crashed in ({n} points)");
}
