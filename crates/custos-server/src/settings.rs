//! The deployment's settings that an administrator may change while the
//! server runs: the retention periods (the default and each category's)
//! and the closed list of purposes footage may be accessed for.
//!
//! `custos serve` flags give the first values. Once an administrator saves
//! settings (web UI or `PUT /api/v1/settings`), the catalog holds them and
//! they win over the flags at every later start; the start-up audit entry
//! says which. Every change is audited with the old and the new values. A
//! new period applies to recordings that arrive from then on; stored
//! recordings keep their deletion date (moving one is the privacy
//! officer's `PUT /recordings/{id}/retention`).

use std::collections::BTreeMap;
use std::sync::RwLock;

use custos_access::Policy;
use serde::{Deserialize, Serialize};

use crate::error::Code;
use crate::retention::{check_category_name, RetentionPolicy, STANDARD_CATEGORY};

/// The catalog key the settings are stored under.
pub const SETTINGS_KEY: &str = "deployment";

/// The shortest and longest retention period a deployment may set.
pub const MIN_PERIOD_MILLIS: i64 = 3_600_000;
pub const MAX_PERIOD_MILLIS: i64 = 10 * 366 * 86_400_000;

/// At most this many purposes, each 1–40 of `a-z0-9-`.
pub const MAX_PURPOSES: usize = 20;

/// What is stored and exchanged: periods as people write them (`28d`, `72h`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The standard category's period.
    pub retention: String,
    /// Other categories: name → period.
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    pub purposes: Vec<String>,
}

/// Why settings were refused: a stable code and a sentence.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
}

fn refuse(code: Code, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

fn period(field: &str, text: &str) -> Result<i64, Refusal> {
    let millis = crate::parse_period(text.trim())
        .map_err(|e| refuse(Code::BadPeriod, format!("{field}: {e}")))?;
    if !(MIN_PERIOD_MILLIS..=MAX_PERIOD_MILLIS).contains(&millis) {
        return Err(refuse(
            Code::BadPeriod,
            format!("{field}: a retention period is between 1 hour and 10 years"),
        ));
    }
    Ok(millis)
}

impl Settings {
    /// What a deployment runs with now, in this form.
    pub fn of(policy: &Policy, retention: &RetentionPolicy) -> Self {
        let described = retention.categories_with_periods();
        Self {
            retention: described[0].1.clone(),
            categories: described.into_iter().skip(1).collect(),
            purposes: policy.purposes.clone(),
        }
    }

    /// Checks every field; the retention policy and purpose list they give.
    pub fn validate(&self) -> Result<(RetentionPolicy, Vec<String>), Refusal> {
        let mut retention = RetentionPolicy::new(period("retention", &self.retention)?);
        for (name, text) in &self.categories {
            if name == STANDARD_CATEGORY {
                return Err(refuse(
                    Code::BadCategory,
                    "`standard` is the default period, not a category of its own",
                ));
            }
            check_category_name(name).map_err(|e| refuse(Code::BadCategory, e))?;
            retention
                .categories
                .insert(name.clone(), period(&format!("category {name}"), text)?);
        }
        if self.purposes.is_empty() || self.purposes.len() > MAX_PURPOSES {
            return Err(refuse(
                Code::BadPurposes,
                format!("between 1 and {MAX_PURPOSES} purposes"),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.purposes {
            let ok = (1..=40).contains(&p.len())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && p.as_bytes()[0].is_ascii_lowercase();
            if !ok {
                return Err(refuse(
                    Code::BadPurposes,
                    format!(
                        "purpose `{}`: 1–40 of a-z 0-9 -, starting with a letter",
                        p.escape_default()
                    ),
                ));
            }
            if !seen.insert(p) {
                return Err(refuse(
                    Code::BadPurposes,
                    format!("purpose `{p}` is listed twice"),
                ));
            }
        }
        Ok((retention, self.purposes.clone()))
    }
}

/// The settings in force, shared by the handlers and ingest; replaced whole.
pub struct LiveSettings {
    inner: RwLock<(Policy, RetentionPolicy)>,
}

impl LiveSettings {
    pub fn new(policy: Policy, retention: RetentionPolicy) -> Self {
        Self {
            inner: RwLock::new((policy, retention)),
        }
    }

    pub fn policy(&self) -> Policy {
        self.read().0.clone()
    }

    /// The policy's answer for `role` doing `action`, read in place: every
    /// request asks, and need not copy the policy to do so.
    pub fn decide(
        &self,
        role: custos_access::Role,
        action: custos_access::Action,
    ) -> Result<custos_access::Scope, custos_access::Denied> {
        custos_access::decide(role, action, &self.read().0)
    }

    pub fn retention(&self) -> RetentionPolicy {
        self.read().1.clone()
    }

    /// Applies stored settings over the current policy (the other policy
    /// fields stay as `serve` was started).
    pub fn apply(&self, retention: RetentionPolicy, purposes: Vec<String>) {
        let mut guard = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.0.purposes = purposes;
        guard.1 = retention;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Policy, RetentionPolicy)> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(retention: &str, categories: &[(&str, &str)], purposes: &[&str]) -> Settings {
        Settings {
            retention: retention.into(),
            categories: categories
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            purposes: purposes.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn good_settings_give_the_policy_and_round_trip() {
        let s = settings(
            "72h",
            &[("training", "2d")],
            &["investigation", "complaint"],
        );
        let (retention, purposes) = s.validate().unwrap();
        assert_eq!(retention.default_millis, 72 * 3_600_000);
        assert_eq!(retention.period("training"), Some(2 * 86_400_000));
        assert_eq!(purposes, ["investigation", "complaint"]);
        let policy = Policy {
            purposes,
            ..Default::default()
        };
        // Periods come back as people write them: 72 hours are 3 days.
        assert_eq!(
            Settings::of(&policy, &retention),
            Settings {
                retention: "3d".into(),
                ..s
            }
        );
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        for (s, code) in [
            (settings("", &[], &["a"]), Code::BadPeriod),
            (settings("28x", &[], &["a"]), Code::BadPeriod),
            (settings("30m", &[], &["a"]), Code::BadPeriod),
            (settings("4000d", &[], &["a"]), Code::BadPeriod),
            (
                settings("28d", &[("Training", "2d")], &["a"]),
                Code::BadCategory,
            ),
            (
                settings("28d", &[("standard", "2d")], &["a"]),
                Code::BadCategory,
            ),
            (
                settings("28d", &[("training", "0d")], &["a"]),
                Code::BadPeriod,
            ),
            (settings("28d", &[], &[]), Code::BadPurposes),
            (settings("28d", &[], &["Complaint"]), Code::BadPurposes),
            (settings("28d", &[], &["a", "a"]), Code::BadPurposes),
            (settings("28d", &[], &["-x"]), Code::BadPurposes),
            (settings("28d", &[], &["x; drop"]), Code::BadPurposes),
        ] {
            assert_eq!(s.validate().err().map(|r| r.code), Some(code), "{s:?}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("p{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(settings("28d", &[], &many).validate().is_err());
    }
}

/// The settings' HTTP face and operations (`GET`/`PUT /api/v1/settings`).
pub mod api {
    use std::sync::Arc;

    use axum::extract::State;
    use axum::routing::get;
    use axum::{Json, Router};
    use custos_access::Action;
    use custos_audit::Outcome;

    use super::{Settings, SETTINGS_KEY};
    use crate::api::{json_body, unavailable, Authenticated};
    use crate::http::{ApiError, Code};
    use crate::Deployment;

    pub fn routes() -> Router<Arc<Deployment>> {
        Router::new().route("/api/v1/settings", get(get_settings).put(put_settings))
    }

    pub async fn read_settings(d: &Deployment, a: &Authenticated) -> Result<Settings, ApiError> {
        a.permit(d, Action::ReadSettings, "settings.read", "settings")
            .await?;
        a.ok(d, "settings.read", "settings").await?;
        Ok(Settings::of(&d.policy(), &d.retention()))
    }

    async fn get_settings(
        State(d): State<Arc<Deployment>>,
        a: Authenticated,
    ) -> Result<Json<Settings>, ApiError> {
        read_settings(&d, &a).await.map(Json)
    }

    /// Saves and applies new settings. A category a camera is still in
    /// cannot be removed (`409 category-in-use`).
    pub async fn change_settings(
        d: &Deployment,
        a: &Authenticated,
        new: Settings,
    ) -> Result<Settings, ApiError> {
        a.permit(d, Action::ManageSettings, "settings.change", "settings")
            .await?;
        let (retention, purposes) = new
            .validate()
            .map_err(|r| ApiError::new(r.code, r.message))?;
        let devices = d.catalog.devices().await.map_err(unavailable)?;
        if let Some(device) = devices
            .iter()
            .find(|c| c.revoked_at.is_none() && retention.period(&c.retention_category).is_none())
        {
            let event = a
                .event(d, "settings.change", Outcome::Refused)
                .object("settings");
            let answer = ApiError::new(
                Code::CategoryInUse,
                format!(
                    "camera `{}` is in retention category `{}`: move it first",
                    device.device_id, device.retention_category
                ),
            );
            return Err(a.refused(d, event, answer).await);
        }
        let old = Settings::of(&d.policy(), &d.retention());
        let saved = Settings::of(
            &custos_access::Policy {
                purposes: purposes.clone(),
                ..d.policy()
            },
            &retention,
        );
        a.record(
            d,
            a.event(d, "settings.change", Outcome::Ok)
                .object("settings")
                .detail(format!(
                    "retention {} -> {}; purposes {} -> {}",
                    d.retention().describe(),
                    retention.describe(),
                    old.purposes.join(","),
                    purposes.join(",")
                )),
        )
        .await?;
        let json = serde_json::to_string(&saved).map_err(unavailable)?;
        d.catalog
            .set_setting(SETTINGS_KEY, &json, (d.clock)())
            .await
            .map_err(unavailable)?;
        d.settings.apply(retention, purposes);
        Ok(saved)
    }

    async fn put_settings(
        State(d): State<Arc<Deployment>>,
        a: Authenticated,
        body: Result<Json<Settings>, axum::extract::rejection::JsonRejection>,
    ) -> Result<Json<Settings>, ApiError> {
        a.permit(&d, Action::ManageSettings, "settings.change", "settings")
            .await?;
        change_settings(&d, &a, json_body(body)?).await.map(Json)
    }
}
