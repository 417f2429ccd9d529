//! Every route in the OpenAPI document, called with real ids by every role,
//! by nobody and by a dock: each answer in 2xx wrote an audit entry by its
//! caller naming the object it was about (issue 20: no read, link list,
//! export request or derived copy is read without a trace).
//!
//! The routes come from the document the server serves, so a new route
//! nobody walks fails here until it has a step below.

use std::collections::BTreeMap;

use crate::common::*;
use serde_json::{json, Value};

/// Who calls: every role, nobody, and the enrolled dock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Nobody,
    Role(&'static str),
    Dock,
}

/// What a step sends: a fixed body, or one made at the moment of the call.
enum Body {
    None,
    Json(Value),
    /// A sign-in of the caller's own account with a fresh one-time code.
    SignIn,
    /// The caller changes their own password.
    PasswordChange,
}

/// In `Step::names`: the caller's own account.
const CALLER: &str = "(the caller)";

struct Step {
    path: String,
    body: Body,
    /// What the audit entry's object (or detail) must name; by default the
    /// path's last id.
    names: Option<String>,
}

/// Routes whose successes are not audit events, and why.
const NOT_AUDITED: [(&str, &str); 4] = [
    ("GET /api/v1/health", "says the server is up; about no one"),
    ("GET /api/v1/openapi.json", "the published API document"),
    (
        "GET /api/v1/session",
        "one's own session, read by every page",
    ),
    (
        "GET /api/v1/dock",
        "a dock checking its own standing; names no camera or person",
    ),
];

/// Routes walked elsewhere in this test: the dock's upload protocol is
/// driven by a real offload in the set-up, and its offer and completion
/// entries are checked there (each piece sent in between is not an event of
/// its own: the completion names the recording and its upload).
const WALKED_BY_THE_OFFLOAD: [&str; 3] = [
    "POST /api/v1/uploads",
    "PATCH /api/v1/uploads/{id}",
    "POST /api/v1/uploads/{id}/complete",
];

struct Seed {
    recordings: Vec<String>,
    case: String,
    case_to_close: String,
    hold_pending: String,
    hold_to_release: String,
    request_approved: String,
    request_pending: String,
    link_to_revoke: String,
    export_for_revoke: String,
    download_token: String,
    export_for_download: String,
    subject_case: String,
    derivative: String,
    activation_to_approve: String,
    activation_to_reject: String,
    activation_token: String,
    activated: String,
    camera_key: String,
    /// A subject request's window: the recordings' time.
    window: (Value, Value),
    /// The first recording's manifest and signature (hex), as a dock has them.
    manifest: (String, String),
}

fn plain(path: String) -> Step {
    Step {
        path,
        body: Body::None,
        names: None,
    }
}

fn audit_log(path: &str) -> Step {
    Step {
        path: path.into(),
        body: Body::None,
        names: Some("audit-log".into()),
    }
}

/// A list's entry names the collection it read.
fn list(path: &str, collection: &str) -> Step {
    Step {
        path: path.into(),
        body: Body::None,
        names: Some(collection.into()),
    }
}

fn with(path: String, body: Value) -> Step {
    Step {
        path,
        body: Body::Json(body),
        names: None,
    }
}

/// The call that walks `op` ("METHOD /template"), with ids from the seed.
fn step(op: &str, s: &Seed) -> Step {
    people_step(op, s)
        .or_else(|| footage_step(op, s))
        .or_else(|| device_step(op, s))
        .or_else(|| case_step(op, s))
        .or_else(|| subject_step(op, s))
        .unwrap_or_else(|| {
            panic!("{op} is in the OpenAPI document but nobody walks it: add a step")
        })
}

/// The service, sessions and accounts.
fn people_step(op: &str, s: &Seed) -> Option<Step> {
    Some(match op {
        "GET /api/v1/health" => plain("/api/v1/health".into()),
        "GET /api/v1/openapi.json" => plain("/api/v1/openapi.json".into()),
        "GET /api/v1/session" => plain("/api/v1/session".into()),
        "POST /api/v1/session" => Step {
            path: "/api/v1/session".into(),
            body: Body::SignIn,
            names: Some(CALLER.into()),
        },
        "DELETE /api/v1/session" => Step {
            path: "/api/v1/session".into(),
            body: Body::None,
            names: Some(CALLER.into()),
        },
        "POST /api/v1/session/password" => Step {
            path: "/api/v1/session/password".into(),
            body: Body::PasswordChange,
            names: Some(CALLER.into()),
        },
        "GET /api/v1/users" => list("/api/v1/users", "users"),
        "POST /api/v1/users" => Step {
            path: "/api/v1/users".into(),
            body: Body::Json(json!({"name": "walk-new", "role": "auditor"})),
            names: Some("walk-new".into()),
        },
        "POST /api/v1/users/{name}/unlock" => plain("/api/v1/users/leaver-a/unlock".into()),
        "POST /api/v1/users/{name}/reset-password" => {
            plain("/api/v1/users/leaver-a/reset-password".into())
        }
        "POST /api/v1/users/{name}/reset-mfa" => plain("/api/v1/users/leaver-a/reset-mfa".into()),
        "POST /api/v1/users/{name}/disable" => plain("/api/v1/users/leaver-b/disable".into()),
        "GET /api/v1/activations" => list("/api/v1/activations", "activations"),
        // A decision on an account names the account.
        "POST /api/v1/activations/{id}/approve" => Step {
            path: format!("/api/v1/activations/{}/approve", s.activation_to_approve),
            body: Body::None,
            names: Some("user:walk-approve".into()),
        },
        "POST /api/v1/activations/{id}/reject" => Step {
            path: format!("/api/v1/activations/{}/reject", s.activation_to_reject),
            body: Body::None,
            names: Some("user:walk-reject".into()),
        },
        "POST /api/v1/activate" => Step {
            path: "/api/v1/activate".into(),
            body: Body::Json(
                json!({"token": s.activation_token, "password": "a long enough new password"}),
            ),
            names: Some(s.activated.clone()),
        },
        _ => return None,
    })
}

/// Recordings, footage, incidents, the audit log and the statistics.
fn footage_step(op: &str, s: &Seed) -> Option<Step> {
    let rec = &s.recordings[0];
    let case = &s.case;
    Some(match op {
        "GET /api/v1/recordings" => list(&format!("/api/v1/recordings?case={case}"), "recordings"),
        "GET /api/v1/recordings/{id}" => plain(format!("/api/v1/recordings/{rec}")),
        "GET /api/v1/recordings/{id}/video"
        | "GET /api/v1/recordings/{id}/download"
        | "GET /api/v1/recordings/{id}/joined" => {
            let what = op.rsplit('/').next().unwrap();
            plain(format!(
                "/api/v1/recordings/{rec}/{what}?purpose=complaint&case={case}"
            ))
        }
        "GET /api/v1/recordings/{id}/faces" | "GET /api/v1/recordings/{id}/thumbnail" => {
            let what = op.rsplit('/').next().unwrap();
            plain(format!(
                "/api/v1/recordings/{rec}/{what}?purpose=complaint&case={case}&at=0"
            ))
        }
        "GET /api/v1/recordings/{id}/audit" => plain(format!("/api/v1/recordings/{rec}/audit")),
        "PUT /api/v1/recordings/{id}/retention" => Step {
            path: format!("/api/v1/recordings/{}/retention", s.recordings[4]),
            body: Body::Json(
                json!({"category": "standard", "reason": "back to the standard period"}),
            ),
            names: Some(s.recordings[4].clone()),
        },
        "GET /api/v1/incidents" => list("/api/v1/incidents", "incidents"),
        "GET /api/v1/audit/checkpoint" => audit_log("/api/v1/audit/checkpoint"),
        "GET /api/v1/audit/entries" => audit_log("/api/v1/audit/entries?from=0&limit=5"),
        "GET /api/v1/audit/proofs/inclusion" => {
            audit_log("/api/v1/audit/proofs/inclusion?index=0&size=2")
        }
        "GET /api/v1/audit/proofs/consistency" => {
            audit_log("/api/v1/audit/proofs/consistency?from=1&to=2")
        }
        "GET /api/v1/statistics" => Step {
            path: "/api/v1/statistics".into(),
            body: Body::None,
            names: Some("statistics".into()),
        },
        "GET /api/v1/statistics/csv" => Step {
            path: "/api/v1/statistics/csv".into(),
            body: Body::None,
            names: Some("statistics".into()),
        },
        _ => return None,
    })
}

/// Cameras, docks and the deployment's settings.
fn device_step(op: &str, s: &Seed) -> Option<Step> {
    let rec = &s.recordings[0];
    Some(match op {
        "GET /api/v1/devices" => list("/api/v1/devices", "devices"),
        "POST /api/v1/devices" => Step {
            path: "/api/v1/devices".into(),
            body: Body::Json(json!({"device_id": "cam-walk", "public_key": s.camera_key})),
            names: Some("cam-walk".into()),
        },
        "POST /api/v1/devices/{id}/revoke" => plain("/api/v1/devices/cam-2/revoke".into()),
        "PUT /api/v1/devices/{id}/officer" => with(
            "/api/v1/devices/cam-2/officer".into(),
            json!({"officer_id": "boa-9"}),
        ),
        "PUT /api/v1/devices/{id}/team" => with(
            "/api/v1/devices/cam-2/team".into(),
            json!({"team": "noord"}),
        ),
        "PUT /api/v1/devices/{id}/retention" => with(
            "/api/v1/devices/cam-2/retention".into(),
            json!({"category": "training"}),
        ),
        "GET /api/v1/docks" => list("/api/v1/docks", "docks"),
        "POST /api/v1/docks" => Step {
            path: "/api/v1/docks".into(),
            body: Body::Json(json!({"dock_id": "dock-walk"})),
            names: Some("dock-walk".into()),
        },
        "POST /api/v1/docks/{id}/revoke" => plain("/api/v1/docks/dock-2/revoke".into()),
        "GET /api/v1/dock" => plain("/api/v1/dock".into()),
        "GET /api/v1/dock/cameras/{id}" => plain("/api/v1/dock/cameras/cam-1".into()),
        // A stored recording reported as not wiped from its camera.
        "POST /api/v1/dock/set-aside" => Step {
            path: "/api/v1/dock/set-aside".into(),
            body: Body::Json(json!({"manifest": s.manifest.0, "signature": s.manifest.1,
                "code": "not-wiped", "detail": "the copy differs from its receipt"})),
            names: Some(rec.clone()),
        },
        "GET /api/v1/settings" => list("/api/v1/settings", "settings"),
        "PUT /api/v1/settings" => Step {
            path: "/api/v1/settings".into(),
            body: Body::Json(json!({"retention": "28d", "categories": {"training": "3d"},
                "purposes": ["investigation", "complaint", "subject-access-request"]})),
            names: Some("settings".into()),
        },
        "GET /api/v1/retention" => list("/api/v1/retention", "retention"),
        _ => return None,
    })
}

/// Cases, holds, exports and their links.
fn case_step(op: &str, s: &Seed) -> Option<Step> {
    let case = &s.case;
    Some(match op {
        "GET /api/v1/cases" => list("/api/v1/cases", "cases"),
        "POST /api/v1/cases" => Step {
            path: "/api/v1/cases".into(),
            body: Body::Json(
                json!({"case_id": "WALK-NEW", "kind": "incident", "label": "made while walking"}),
            ),
            names: Some("WALK-NEW".into()),
        },
        "GET /api/v1/cases/{id}" => plain(format!("/api/v1/cases/{case}")),
        "POST /api/v1/cases/{id}/close" => {
            plain(format!("/api/v1/cases/{}/close", s.case_to_close))
        }
        "POST /api/v1/cases/{id}/holds" => Step {
            path: format!("/api/v1/cases/{case}/holds"),
            body: Body::Json(
                json!({"recording_id": s.recordings[3], "reason": "seen in the walk"}),
            ),
            names: Some(s.recordings[3].clone()),
        },
        "POST /api/v1/cases/{id}/recordings" => Step {
            path: format!("/api/v1/cases/{case}/recordings"),
            body: Body::Json(
                json!({"recording_id": s.recordings[3], "reason": "seen in the walk"}),
            ),
            names: Some(s.recordings[3].clone()),
        },
        "POST /api/v1/holds/{id}/approve" => {
            plain(format!("/api/v1/holds/{}/approve", s.hold_pending))
        }
        // A hold's release names the recording (it is in its trail).
        "POST /api/v1/holds/{id}/release" => Step {
            path: format!("/api/v1/holds/{}/release", s.hold_to_release),
            body: Body::None,
            names: Some(s.recordings[2].clone()),
        },
        "POST /api/v1/cases/{id}/exports" => Step {
            path: format!("/api/v1/cases/{case}/exports"),
            body: Body::Json(json!({"purpose": "complaint", "recipient": "Politie, PV 0",
                "passphrase": "a passphrase for the walk", "request_id": s.request_approved})),
            names: Some(case.clone()),
        },
        "GET /api/v1/cases/{id}/export-requests" => {
            plain(format!("/api/v1/cases/{case}/export-requests"))
        }
        "POST /api/v1/cases/{id}/export-requests" => Step {
            path: format!("/api/v1/cases/{case}/export-requests"),
            body: Body::Json(json!({"purpose": "complaint", "recipient": "Politie, PV 2"})),
            names: Some(case.clone()),
        },
        "POST /api/v1/export-requests/{id}/approve" => plain(format!(
            "/api/v1/export-requests/{}/approve",
            s.request_pending
        )),
        "GET /api/v1/cases/{id}/export-links" => {
            plain(format!("/api/v1/cases/{case}/export-links"))
        }
        // Revoking a link deletes its package: it names the export.
        "POST /api/v1/export-links/{id}/revoke" => Step {
            path: format!("/api/v1/export-links/{}/revoke", s.link_to_revoke),
            body: Body::None,
            names: Some(s.export_for_revoke.clone()),
        },
        "POST /api/v1/downloads/{token}" => Step {
            path: format!("/api/v1/downloads/{}", s.download_token),
            body: Body::None,
            names: Some(s.export_for_download.clone()),
        },
        _ => return None,
    })
}

/// Subject access requests and their redacted copies.
fn subject_step(op: &str, s: &Seed) -> Option<Step> {
    let sar = &s.subject_case;
    Some(match op {
        "POST /api/v1/subject-requests" => Step {
            path: "/api/v1/subject-requests".into(),
            body: Body::Json(json!({"case_id": "SAR-NEW", "requester": "C. Jansen",
                "identity_check": "ID card", "description": "blue coat",
                "window_from": s.window.0, "window_to": s.window.1})),
            names: Some("SAR-NEW".into()),
        },
        "GET /api/v1/subject-requests" => list("/api/v1/subject-requests", "subject-requests"),
        "GET /api/v1/subject-requests/{id}" => plain(format!("/api/v1/subject-requests/{sar}")),
        "POST /api/v1/subject-requests/{id}/extend" => with(
            format!("/api/v1/subject-requests/{sar}/extend"),
            json!({"months": 1, "reason": "many recordings to go through"}),
        ),
        "POST /api/v1/subject-requests/{id}/search" => {
            with(format!("/api/v1/subject-requests/{sar}/search"), json!({}))
        }
        "GET /api/v1/subject-requests/{id}/derivatives" => {
            plain(format!("/api/v1/subject-requests/{sar}/derivatives"))
        }
        "POST /api/v1/subject-requests/{id}/derivatives" => Step {
            path: format!("/api/v1/subject-requests/{sar}/derivatives"),
            body: Body::Json(json!({"recording_id": s.recordings[1], "plan": plan()})),
            names: Some(s.recordings[1].clone()),
        },
        "GET /api/v1/derivatives/{id}/video" => plain(format!(
            "/api/v1/derivatives/{}/video?purpose=subject-access-request&case={sar}",
            s.derivative
        )),
        "POST /api/v1/subject-requests/{id}/delivery" => with(
            format!("/api/v1/subject-requests/{sar}/delivery"),
            json!({"passphrase": "a passphrase for the requester"}),
        ),
        _ => return None,
    })
}

fn plan() -> Value {
    json!({"tracks": [{"label": "passer-by", "kind": "pixelate",
        "keyframes": [{"at_millis": 0, "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}]}]})
}

/// The value a path gives for its template's last parameter (`{id}`,
/// `{name}`, `{token}`), if it has one.
fn last_id(template: &str, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap();
    let at = template
        .split('/')
        .enumerate()
        .filter(|(_, s)| s.starts_with('{'))
        .map(|(i, _)| i)
        .last()?;
    path.split('/').nth(at).map(str::to_owned)
}

async fn post(w: &World, token: &str, path: &str, body: Value) -> Value {
    let answer = w.call("POST", path, Some(token), Some(body), &[]).await;
    assert!(
        (200..300).contains(&answer.status),
        "{path}: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

/// Five recordings of cam-1 offloaded by dock-1 (in order), cam-2 and
/// dock-2 enrolled, a second retention category.
async fn seed_recordings(w: &World, admin: &str) -> Vec<custos_catalog::Recording> {
    // A second retention category, for a camera to be put in.
    let settings = w
        .call(
            "PUT",
            "/api/v1/settings",
            Some(admin),
            Some(json!({"retention": "28d", "categories": {"training": "3d"},
                "purposes": ["investigation", "complaint", "subject-access-request"]})),
            &[],
        )
        .await;
    assert_eq!(settings.status, 200, "{}", settings.json());
    let cam = w.camera("cam-1", 5, true).await;
    let (report, _) = w.offload(&cam).await;
    assert_eq!(report.stored, 5, "{report:?}");
    w.camera("cam-2", 0, true).await;
    w.admin().await.enroll_dock("dock-2").await.unwrap();
    let mut stored = w.server.deployment.catalog.recordings().await.unwrap();
    stored.sort_by_key(|r| r.sequence);
    let recordings: Vec<String> = stored.iter().map(|r| r.recording_id.to_string()).collect();
    // The dock's upload protocol, walked by the offload: each recording's
    // offer and completion are on record, naming it.
    let events = audit_events(w).await;
    for id in &recordings {
        for action in ["ingest.offer", "ingest.complete"] {
            assert!(
                events.iter().any(|e| e.action == action
                    && e.actor == "dock:dock-1"
                    && e.object.as_deref().is_some_and(|o| o.contains(id.as_str()))),
                "{action} for {id}: {events:?}"
            );
        }
    }
    stored
}

/// Cases WALK-1 (with the first recording linked) and WALK-CLOSE; holds on
/// the first three recordings in WALK-1, the second not yet approved.
async fn seed_holds(
    w: &World,
    reviewer: &str,
    po: &str,
    case: &str,
    recordings: &[String],
) -> Vec<String> {
    for (id, label) in [
        ("WALK-1", "the walk's case"),
        ("WALK-CLOSE", "to be closed"),
    ] {
        post(
            w,
            reviewer,
            "/api/v1/cases",
            json!({"case_id": id, "kind": "incident", "label": label}),
        )
        .await;
    }
    w.link(reviewer, case, &recordings[0]).await;
    let mut holds = Vec::new();
    for rec in &recordings[..3] {
        let hold = post(
            w,
            reviewer,
            &format!("/api/v1/cases/{case}/holds"),
            json!({"recording_id": rec, "reason": "part of the incident"}),
        )
        .await;
        holds.push(hold["hold_id"].as_str().unwrap().to_owned());
    }
    // Holds take effect once a second person approves: the first and the
    // third now, the second is left for the walk.
    for hold in [&holds[0], &holds[2]] {
        post(w, po, &format!("/api/v1/holds/{hold}/approve"), json!(null)).await;
    }
    holds
}

/// Four export requests in `case`, the first three approved; links made on
/// the second and third. (requests, links)
async fn seed_exports(
    w: &World,
    reviewer: &str,
    po: &str,
    case: &str,
) -> (Vec<String>, Vec<Value>) {
    let mut requests = Vec::new();
    for n in 0..4 {
        let asked = post(
            w,
            reviewer,
            &format!("/api/v1/cases/{case}/export-requests"),
            json!({"purpose": "complaint", "recipient": format!("Politie, PV {n}")}),
        )
        .await;
        requests.push(asked["request_id"].as_str().unwrap().to_owned());
    }
    for request in &requests[..3] {
        post(
            w,
            po,
            &format!("/api/v1/export-requests/{request}/approve"),
            json!(null),
        )
        .await;
    }
    let mut links = Vec::new();
    for (n, request) in requests.iter().enumerate().take(3).skip(1) {
        let made = post(
            w,
            reviewer,
            &format!("/api/v1/cases/{case}/exports"),
            json!({"purpose": "complaint", "recipient": format!("Politie, PV {n}"),
                "passphrase": "a passphrase for the walk", "request_id": request,
                "link": {"valid_hours": 24, "max_downloads": 1}}),
        )
        .await;
        links.push(made);
    }
    (requests, links)
}

/// Subject request SAR-WALK over `window`, searched, its holds approved,
/// and a redacted copy of `recording`: the copy's id.
async fn seed_subject_request(
    w: &World,
    reviewer: &str,
    po: &str,
    window: &(Value, Value),
    recording: &str,
) -> String {
    post(
        w,
        po,
        "/api/v1/subject-requests",
        json!({"case_id": "SAR-WALK", "requester": "A. Visser", "identity_check": "ID card",
            "description": "grey hoodie", "window_from": window.0, "window_to": window.1}),
    )
    .await;
    post(w, po, "/api/v1/subject-requests/SAR-WALK/search", json!({})).await;
    for hold in w
        .server
        .deployment
        .catalog
        .holds_for_case("SAR-WALK")
        .await
        .unwrap()
    {
        if hold.approved_at.is_none() {
            post(
                w,
                reviewer,
                &format!("/api/v1/holds/{}/approve", hold.hold_id),
                json!(null),
            )
            .await;
        }
    }
    post(
        w,
        po,
        "/api/v1/subject-requests/SAR-WALK/derivatives",
        json!({"recording_id": recording, "plan": plan()}),
    )
    .await["derivative_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Three accounts asked for, the last approved; two more to leave.
/// (activation ids, the approved one's token)
async fn seed_accounts(w: &World, admin: &str, po: &str) -> (Vec<String>, String) {
    // Accounts that can see footage: asked by the admin, one approved now
    // (its link opened in the walk), two left for the walk to decide.
    let mut activations = Vec::new();
    for name in ["walk-approve", "walk-reject", "walk-activate"] {
        let asked = post(
            w,
            admin,
            "/api/v1/users",
            json!({"name": name, "role": "reviewer"}),
        )
        .await;
        activations.push(asked["activation_id"].as_str().unwrap().to_owned());
    }
    let approved = post(
        w,
        po,
        &format!("/api/v1/activations/{}/approve", activations[2]),
        json!(null),
    )
    .await;
    let activation_token = approved["activation_link"]
        .as_str()
        .unwrap()
        .strip_prefix("/activate/")
        .unwrap()
        .to_owned();
    for name in ["leaver-a", "leaver-b"] {
        w.add_user(name, "auditor", None).await;
    }
    (activations, activation_token)
}

async fn seed(w: &World, tokens: &BTreeMap<&'static str, String>) -> Seed {
    let reviewer = &tokens["reviewer"];
    let po = &tokens["privacy-officer"];
    let admin = &tokens["admin"];
    let stored = seed_recordings(w, admin).await;
    let recordings: Vec<String> = stored.iter().map(|r| r.recording_id.to_string()).collect();
    let case = "WALK-1".to_owned();
    let holds = seed_holds(w, reviewer, po, &case, &recordings).await;
    let (requests, links) = seed_exports(w, reviewer, po, &case).await;
    let download_token = links[1]["path"]
        .as_str()
        .unwrap()
        .strip_prefix("/api/v1/downloads/")
        .unwrap()
        .to_owned();

    let first = stored.first().unwrap();
    let last = stored.last().unwrap();
    let window = (
        serde_json::to_value(first.started_at.plus_millis(-1_000)).unwrap(),
        serde_json::to_value(last.ended_at).unwrap(),
    );
    let derivative = seed_subject_request(w, reviewer, po, &window, &recordings[0]).await;
    let (activations, activation_token) = seed_accounts(w, admin, po).await;
    let spare = custos_camera::CameraDir::new(w.tmp.path().join("cam-walk"));
    let recipient = custos_keys::EvidenceKeyStore::new(&w.data)
        .recipient()
        .unwrap()
        .to_string();
    spare.init(&camera_config("cam-walk", &recipient)).unwrap();
    Seed {
        case,
        case_to_close: "WALK-CLOSE".into(),
        hold_pending: holds[1].clone(),
        hold_to_release: holds[2].clone(),
        request_approved: requests[0].clone(),
        request_pending: requests[3].clone(),
        link_to_revoke: links[0]["link_id"].as_str().unwrap().to_owned(),
        export_for_revoke: links[0]["export_id"].as_str().unwrap().to_owned(),
        export_for_download: links[1]["export_id"].as_str().unwrap().to_owned(),
        download_token,
        subject_case: "SAR-WALK".into(),
        derivative,
        activation_to_approve: activations[0].clone(),
        activation_to_reject: activations[1].clone(),
        activation_token,
        activated: "walk-activate".into(),
        camera_key: spare.verifying_key().unwrap().to_hex(),
        window,
        manifest: (
            String::from_utf8(first.camera().unwrap().manifest.clone()).unwrap(),
            hex::encode(&first.camera().unwrap().manifest_signature),
        ),
        recordings,
    }
}

/// The walk's state: who calls, what the seed made, and what each call gave.
struct Walk {
    w: World,
    accounts: BTreeMap<&'static str, Account>,
    tokens: BTreeMap<&'static str, String>,
    dock_token: String,
    seed: Seed,
    failures: Vec<String>,
    succeeded: BTreeMap<String, Vec<String>>,
    refused: BTreeMap<String, Vec<String>>,
    /// Audit entries written before the next call.
    seen: usize,
}

impl Walk {
    /// A deployment where holds and exports need a second person, a
    /// signed-in account of every role, and the seed.
    async fn new() -> Walk {
        let w = world_with(custos_access::Policy {
            hold_needs_second_approver: true,
            export_needs_second_approver: true,
            ..Default::default()
        })
        .await;
        let mut accounts = BTreeMap::new();
        let mut tokens = BTreeMap::new();
        for role in ROLES {
            let officer_id = (role == "officer").then_some("boa-5");
            let account = w.add_user(&format!("walk-{role}"), role, officer_id).await;
            tokens.insert(role, w.sign_in(&account).await);
            accounts.insert(role, account);
        }
        let seed = seed(&w, &tokens).await;
        let dock_token = format!("{}:{}", w.dock_config.dock_id, w.dock_config.token);
        let seen = audit_events(&w).await.len();
        Walk {
            w,
            accounts,
            tokens,
            dock_token,
            seed,
            failures: Vec::new(),
            succeeded: BTreeMap::new(),
            refused: BTreeMap::new(),
            seen,
        }
    }

    /// Every (method, template) in the document the server serves, signing
    /// out (which ends the caller's session) last.
    async fn documented_operations(&self) -> Vec<(String, String)> {
        let doc = self
            .w
            .call("GET", "/api/v1/openapi.json", None, None, &[])
            .await;
        assert_eq!(doc.status, 200);
        let doc = doc.json();
        let mut ops: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    ops.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        ops.sort_by_key(|(m, p)| m == "DELETE" && p == "/api/v1/session");
        ops
    }

    fn token(&self, caller: Caller) -> Option<String> {
        match caller {
            Caller::Nobody => None,
            Caller::Role(r) => Some(self.tokens[r].clone()),
            Caller::Dock => Some(self.dock_token.clone()),
        }
    }

    /// The body `step` sends as `caller`, made at the moment of the call.
    fn body(&self, step: &Step, caller: Caller) -> Option<Value> {
        match (&step.body, caller) {
            (Body::None, _) => None,
            (Body::Json(v), _) => Some(v.clone()),
            (Body::SignIn, Caller::Role(r)) => {
                self.w
                    .clock_offset
                    .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
                let a = &self.accounts[r];
                let code = custos_server::auth::totp_code(&a.secret, self.w.now()).unwrap();
                Some(json!({"name": a.name, "password": a.password, "code": code}))
            }
            (Body::PasswordChange, Caller::Role(r)) => {
                let a = &self.accounts[r];
                Some(json!({"current_password": a.password,
                    "new_password": format!("{} again", a.password)}))
            }
            (Body::SignIn | Body::PasswordChange, _) => {
                Some(json!({"name": "nobody", "password": "x", "code": "000000"}))
            }
        }
    }

    /// Calls `op` as `caller`; a success must have written its entry.
    async fn call(&mut self, op: &str, method: &str, template: &str, step: &Step, caller: Caller) {
        eprintln!("walking {op} as {caller:?}");
        let body = self.body(step, caller);
        let token = self.token(caller);
        let answer = self
            .w
            .call(method, &step.path, token.as_deref(), body, &[])
            .await;
        let events = audit_events(&self.w).await;
        let written = &events[self.seen..];
        self.seen = events.len();
        if !(200..300).contains(&answer.status) {
            self.refused.entry(op.to_owned()).or_default().push(format!(
                "{caller:?} {} {}",
                answer.status,
                answer.code()
            ));
            assert!(
                answer.status < 500,
                "{op} as {caller:?}: {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
            return;
        }
        if let (Body::PasswordChange, Caller::Role(r)) = (&step.body, caller) {
            let a = self.accounts.get_mut(r).unwrap();
            a.password = format!("{} again", a.password);
        }
        self.succeeded
            .entry(op.to_owned())
            .or_default()
            .push(format!("{caller:?}"));
        if NOT_AUDITED.iter().any(|(o, _)| *o == op) {
            return;
        }
        if let Some(failure) = entry_missing(op, template, step, caller, answer.status, written) {
            self.failures.push(failure);
        }
    }
}

/// Why the entries `written` by a success of `op` as `caller` do not
/// include the one that must be there, if they do not.
fn entry_missing(
    op: &str,
    template: &str,
    step: &Step,
    caller: Caller,
    status: u16,
    written: &[custos_audit::AuditEvent],
) -> Option<String> {
    let actor = match caller {
        Caller::Role(r) => Some(format!("user:walk-{r}")),
        Caller::Dock => Some("dock:dock-1".to_owned()),
        Caller::Nobody => None,
    };
    let names = match (step.names.as_deref(), caller) {
        (Some(CALLER), Caller::Role(r)) => Some(format!("user:walk-{r}")),
        (Some(n), _) => Some(n.to_owned()),
        (None, _) => last_id(template, &step.path),
    };
    let Some(names) = names else {
        return Some(format!(
            "{op}: the step must say which object it is about: {:?}",
            written.iter().map(|e| &e.object).collect::<Vec<_>>()
        ));
    };
    // An entry of this success (not a refusal), by this caller,
    // whose object is the one named: `kind:ID` or exactly `ID`.
    let found = written.iter().any(|e| {
        actor.as_ref().is_none_or(|a| &e.actor == a)
            && e.outcome == custos_audit::Outcome::Ok
            && e.object
                .as_deref()
                .is_some_and(|o| o == names || o.split_once(':').is_some_and(|(_, id)| id == names))
    });
    (!found).then(|| {
        format!(
            "{op} as {caller:?}: {status} without an entry naming {names:?}: {:?}",
            written
                .iter()
                .map(|e| (&e.actor, &e.action, &e.object, &e.outcome))
                .collect::<Vec<_>>()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_the_openapi_document_audits_each_success_naming_its_object() {
    let mut walk = Walk::new().await;
    let ops = walk.documented_operations().await;
    assert!(ops.len() >= 70, "{} routes", ops.len());
    let mut callers = vec![Caller::Nobody];
    callers.extend(ROLES.iter().map(|r| Caller::Role(r)));
    callers.push(Caller::Dock);

    for (method, template) in &ops {
        let op = format!("{method} {template}");
        if WALKED_BY_THE_OFFLOAD.contains(&op.as_str()) {
            continue;
        }
        let step = step(&op, &walk.seed);
        for caller in &callers {
            walk.call(&op, method, template, &step, *caller).await;
        }
    }
    let Walk {
        mut failures,
        succeeded,
        refused,
        ..
    } = walk;
    // Every route was walked to a success at least once, or the check
    // above proved nothing for it.
    for (method, template) in &ops {
        let op = format!("{method} {template}");
        if !WALKED_BY_THE_OFFLOAD.contains(&op.as_str()) && !succeeded.contains_key(&op) {
            failures.push(format!("{op}: no caller got a 2xx: {:?}", refused.get(&op)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let audited = succeeded
        .keys()
        .filter(|op| !NOT_AUDITED.iter().any(|(o, _)| o == op))
        .count();
    eprintln!(
        "{} routes walked to a success, {audited} of them checked for their audit entry",
        succeeded.len()
    );
    // Who got what, as the matrix in access.rs says: a spot check that the
    // walk did not succeed where a role is refused.
    assert_eq!(succeeded["GET /api/v1/incidents"].len(), 3);
    assert!(!succeeded["GET /api/v1/users"]
        .iter()
        .any(|c| c.contains("officer\"") && !c.contains("privacy")));
}
