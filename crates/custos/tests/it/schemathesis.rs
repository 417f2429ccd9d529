//! The API document is the truth (issue 19): schemathesis (PyPI, an
//! outside witness) generates requests from `/api/v1/openapi.json` and
//! checks every answer — no server error, a status the document lists for
//! the operation, a body of the documented type and schema — as nobody, as
//! a dock and as each role, against a server with footage, a case, a hold
//! and a subject access request in it.
//!
//! Left out, because they end the tester's own session: `DELETE
//! /api/v1/session` (sign-out) and `POST /api/v1/session/password` (ends
//! every other session of the person). Both are tested in access.rs.

use crate::common::*;

/// Test cases per operation and phase; the seed makes a failure repeatable.
const EXAMPLES: &str = "20";
const SEED: &str = "19";

fn schemathesis(w: &World, cert: &std::path::Path, token: Option<&str>) -> (bool, String) {
    let hooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let mut command = std::process::Command::new("schemathesis");
    command
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", w.base()))
        .arg("--url")
        .arg(w.base())
        .arg("--tls-verify")
        .arg(cert)
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
            "--exclude-method",
            "DELETE",
            "--exclude-path",
            "/api/v1/session/password",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            EXAMPLES,
            "--seed",
            SEED,
            // One worker: with two, schemathesis 4.32 once failed inside
            // its own generator (a KeyError), not on our answers.
            "--workers",
            "1",
            "--max-failures",
            "100",
        ])
        // Its cache and reports go to the test's directory, not the tree.
        .current_dir(w.tmp.path())
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "custos_hooks")
        .env("NO_COLOR", "1");
    if let Some(token) = token {
        command
            .arg("--header")
            .arg(format!("Authorization: Bearer {token}"));
    }
    let output = command
        .output()
        .expect("schemathesis must be installed (pip install schemathesis, see ./test.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A server with something to find (a recording held for a case, a
/// subject access request), and the server's certificate in a file for
/// schemathesis to trust.
async fn documented_world() -> (World, std::path::PathBuf) {
    let w = world().await;
    let r = w.one_recording("cam-s", 60).await;
    let cert = w.tmp.path().join("server-cert.pem");
    std::fs::write(&cert, &w.server.certificate_pem).unwrap();

    // Something to find: a case holding a recording, an export asked for,
    // a subject access request.
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&reviewer).await;
    let case = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(&token),
            Some(serde_json::json!({"kind": "complaint", "label": "documented", "case_id": "K-1"})),
            &[],
        )
        .await;
    assert_eq!(case.status, 201, "{}", case.json());
    let hold = w
        .call(
            "POST",
            "/api/v1/cases/K-1/holds",
            Some(&token),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "complaint"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201, "{}", hold.json());
    let privacy = w.add_user("pim", "privacy-officer", None).await;
    let privacy_token = w.sign_in(&privacy).await;
    let request = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&privacy_token),
            Some(serde_json::json!({
                "requester": "J. Jansen",
                "identity_check": "passport seen at the desk",
                "description": "filmed at the market",
                "received_at": w.now().to_string(),
                "window_from": r.started_at.to_string(),
                "window_to": r.ended_at.to_string(),
            })),
            &[],
        )
        .await;
    assert_eq!(request.status, 201, "{}", request.json());
    (w, cert)
}

/// Schemathesis run as nobody, as a dock and as a new person of each role,
/// in that order: who it failed for, with its output.
async fn run_as_everyone(w: &World, cert: &std::path::Path) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    // Everyone signs in before any run: a run's storm of failed sign-ins
    // may still be hashing passwords (on a loaded machine) when it ends,
    // and a sign-in then is rightly told to slow down.
    let mut signed_in = Vec::new();
    for role in [
        "reviewer",
        "privacy-officer",
        "auditor",
        "evaluator",
        "officer",
        "admin",
    ] {
        let name = format!("st-{role}");
        let officer_id = (role == "officer").then_some("boa-5");
        let account = w.add_user(&name, role, officer_id).await;
        signed_in.push((role, w.sign_in(&account).await));
    }
    let (ok, text) = schemathesis(w, cert, None);
    if !ok {
        failed.push(("nobody".to_owned(), text));
    }
    // A dock: the upload routes answer its credential, the rest refuse it.
    let dock = w.admin().await.enroll_dock("dock-st").await.unwrap();
    let (ok, text) = schemathesis(w, cert, Some(&format!("dock-st:{}", dock.token)));
    if !ok {
        failed.push(("dock".to_owned(), text));
    }
    // The admin last: its run disables and resets accounts.
    for (role, token) in signed_in {
        let (ok, text) = schemathesis(w, cert, Some(&token));
        if !ok {
            failed.push((role.to_owned(), text));
        }
    }
    failed
}

/// Every identity's run passes; the output of each that did not is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_as_its_document_says_for_nobody_and_every_role() {
    let (w, cert) = documented_world().await;
    let failed = run_as_everyone(&w, &cert).await;
    for (role, text) in &failed {
        eprintln!("===== schemathesis as {role}\n{text}");
    }
    assert!(
        failed.is_empty(),
        "the API does not answer as documented for: {:?}",
        failed.iter().map(|(r, _)| r).collect::<Vec<_>>()
    );
}
