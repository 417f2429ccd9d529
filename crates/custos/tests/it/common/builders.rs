//! What most tests start from, built in one line: a person of a role
//! signed in, a case, a recording that came in through a dock.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Account, World};

/// Someone signed in: their account and their session's token.
pub struct Person {
    pub account: Account,
    pub token: String,
}

/// Names are unique within the test binary: `reviewer-3`, `cam-7`.
fn next() -> usize {
    static N: AtomicUsize = AtomicUsize::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

impl World {
    /// A new person of `role` (named after it), signed in.
    pub async fn signed_in(&self, role: &str) -> Person {
        let officer = (role == "officer").then(|| format!("boa-{}", next()));
        let account = self
            .add_user(&format!("{role}-{}", next()), role, officer.as_deref())
            .await;
        let token = self.sign_in(&account).await;
        Person { account, token }
    }

    /// A case of `kind` opened by `token` (label `label`, police reference
    /// PV-2026-1): its id.
    pub async fn with_case_labelled(&self, token: &str, kind: &str, label: &str) -> String {
        let answer = self
            .call(
                "POST",
                "/api/v1/cases",
                Some(token),
                Some(serde_json::json!({"kind": kind, "label": label, "reference": "PV-2026-1"})),
                &[],
            )
            .await;
        assert_eq!(answer.status, 201, "opening a case: {}", answer.json());
        answer.json()["case_id"].as_str().unwrap().to_owned()
    }

    /// A case of `kind` opened by `token`: its id.
    pub async fn with_case(&self, token: &str, kind: &str) -> String {
        self.with_case_labelled(token, kind, "test case").await
    }

    /// `recording` held for `case` by `token`, for `reason`: the hold.
    pub async fn held(
        &self,
        token: &str,
        case: &str,
        recording: impl std::fmt::Display,
        reason: &str,
    ) -> serde_json::Value {
        let answer = self
            .call(
                "POST",
                &format!("/api/v1/cases/{case}/holds"),
                Some(token),
                Some(serde_json::json!({"recording_id": recording.to_string(), "reason": reason})),
                &[],
            )
            .await;
        assert_eq!(answer.status, 201, "holding: {}", answer.json());
        answer.json()
    }

    /// A subject access request `case_id` taken in by `token` (a privacy
    /// officer) for the time of `recording`, and searched: what it found.
    pub async fn searched_subject_request(
        &self,
        token: &str,
        case_id: &str,
        recording: &custos_catalog::Recording,
    ) -> serde_json::Value {
        let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
        let opened = self
            .call(
                "POST",
                "/api/v1/subject-requests",
                Some(token),
                Some(serde_json::json!({
                    "case_id": case_id, "requester": "A. Visser", "identity_check": "ID card",
                    "description": "grey hoodie",
                    "window_from": rfc(recording.started_at.plus_millis(-1_000)),
                    "window_to": rfc(recording.ended_at),
                })),
                &[],
            )
            .await;
        assert_eq!(opened.status, 201, "{}", opened.json());
        let found = self
            .call(
                "POST",
                &format!("/api/v1/subject-requests/{case_id}/search"),
                Some(token),
                Some(serde_json::json!({})),
                &[],
            )
            .await;
        assert_eq!(found.status, 200, "{}", found.json());
        found.json()
    }

    /// One recording of 30 frames from a new camera, docked and stored.
    pub async fn docked_recording(&self) -> custos_catalog::Recording {
        self.one_recording(&format!("cam-{}", next()), 30).await
    }
}
