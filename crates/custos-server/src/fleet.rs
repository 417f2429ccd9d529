//! Cameras and docks as the admin manages them over the API (and the web
//! UI): enroll, revoke, put a camera in a retention category, assign a
//! personal camera to its officer. A dock asks here which officer a camera
//! it checks out belongs to. Every change is audited before it happens.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use custos_access::Action;
use custos_audit::Outcome;
use custos_catalog::{CatalogError, Device, Dock};
use serde::{Deserialize, Serialize};

use crate::api::{json_body, known_category, unavailable, Authenticated};
use crate::http::{ApiError, Code, DockAuth};
use crate::Deployment;

pub fn routes() -> Router<Arc<Deployment>> {
    Router::new()
        .route("/api/v1/devices", get(get_devices).post(post_device))
        .route("/api/v1/devices/{id}/revoke", post(post_revoke_device))
        .route("/api/v1/devices/{id}/retention", put(put_device_retention))
        .route("/api/v1/devices/{id}/officer", put(put_officer))
        .route("/api/v1/devices/{id}/team", put(put_team))
        .route("/api/v1/docks", get(get_docks).post(post_dock))
        .route("/api/v1/docks/{id}/revoke", post(post_revoke_dock))
        .route("/api/v1/dock/cameras/{id}", get(dock_camera))
}

fn identifier(field: &str, value: &str) -> Result<(), ApiError> {
    custos_format::manifest::check_identifier(value)
        .map_err(|e| ApiError::new(Code::Invalid, format!("{field}: {e}")))
}

fn no_such(what: &'static str) -> ApiError {
    ApiError::new(Code::NotFound, format!("no such {what}"))
}

pub async fn list_devices(d: &Deployment, a: &Authenticated) -> Result<Vec<Device>, ApiError> {
    a.permit(d, Action::ListDevices, "devices.list", "devices")
        .await?;
    a.ok(d, "devices.list", "devices").await?;
    d.catalog.devices().await.map_err(unavailable)
}

async fn get_devices(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<Device>>, ApiError> {
    list_devices(&d, &a).await.map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCamera {
    pub device_id: String,
    /// The camera's Ed25519 public key, 64 hex digits (`custos device init` prints it).
    pub public_key: String,
    #[serde(default)]
    pub retention_category: Option<String>,
    #[serde(default)]
    pub assigned_officer: Option<String>,
    /// The team or district it serves, for the statistics.
    #[serde(default)]
    pub team: Option<String>,
}

/// Registers a camera's key: from now on the server accepts its recordings.
pub async fn enroll_camera(
    d: &Deployment,
    a: &Authenticated,
    body: NewCamera,
) -> Result<Device, ApiError> {
    a.permit(d, Action::ManageDevices, "camera.enroll", "devices")
        .await?;
    identifier("device_id", &body.device_id)?;
    let key = custos_format::VerifyingKey::from_hex(body.public_key.trim())
        .map_err(|e| ApiError::new(Code::BadKey, format!("public_key: {e}")))?;
    let category = body
        .retention_category
        .unwrap_or_else(|| custos_catalog::STANDARD_CATEGORY.into());
    known_category(d, &category)?;
    if let Some(o) = &body.assigned_officer {
        identifier("assigned_officer", o)?;
    }
    if let Some(t) = &body.team {
        identifier("team", t)?;
    }
    let object = format!("camera:{}", body.device_id);
    let exists = || ApiError::new(Code::Exists, "that camera is enrolled");
    if d.catalog
        .device(&body.device_id)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        let event = a
            .event(d, "camera.enroll", Outcome::Refused)
            .object(&object);
        return Err(a.refused(d, event, exists()).await);
    }
    let device = Device {
        device_id: body.device_id,
        public_key: key.to_hex(),
        enrolled_at: (d.clock)(),
        revoked_at: None,
        retention_category: category,
        assigned_officer: body.assigned_officer,
        team: body.team,
        kind: custos_catalog::DeviceKind::Custos,
    };
    a.record(
        d,
        a.event(d, "camera.enroll", Outcome::Ok)
            .object(&object)
            .detail(format!(
                "key {}; retention category {}{}",
                device.public_key,
                device.retention_category,
                device
                    .team
                    .as_deref()
                    .map(|t| format!("; team {t}"))
                    .unwrap_or_default()
            )),
    )
    .await?;
    match d.catalog.add_device(&device).await {
        Ok(()) => Ok(device),
        Err(CatalogError::AlreadyExists { .. }) => {
            let event = a.event(d, "camera.enroll", Outcome::Failed).object(&object);
            Err(a.refused(d, event, exists()).await)
        }
        Err(e) => Err(unavailable(e)),
    }
}

async fn post_device(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<NewCamera>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Device>), ApiError> {
    a.permit(&d, Action::ManageDevices, "camera.enroll", "devices")
        .await?;
    let device = enroll_camera(&d, &a, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(device)))
}

/// A lost or stolen camera: its recordings are refused from now on (and
/// recorded as incidents); a dock will not wipe it.
pub async fn revoke_camera(d: &Deployment, a: &Authenticated, id: &str) -> Result<(), ApiError> {
    let object = format!("camera:{}", id.escape_default());
    a.permit(d, Action::ManageDevices, "camera.revoke", &object)
        .await?;
    let device = d
        .catalog
        .device(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| no_such("camera"))?;
    if device.revoked_at.is_some() {
        return Err(ApiError::new(
            Code::Revoked,
            "that camera is revoked already",
        ));
    }
    a.ok(d, "camera.revoke", &object).await?;
    d.catalog
        .revoke_device(id, (d.clock)())
        .await
        .map_err(unavailable)
}

async fn post_revoke_device(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    revoke_camera(&d, &a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves a camera to another retention category: recordings that arrive
/// from now on start in it (those stored keep theirs).
pub async fn set_camera_retention(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
    category: &str,
) -> Result<Device, ApiError> {
    let object = format!("camera:{}", id.escape_default());
    a.permit(d, Action::ManageDevices, "camera.retention", &object)
        .await?;
    known_category(d, category)?;
    let device = d
        .catalog
        .device(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| no_such("camera"))?;
    a.record(
        d,
        a.event(d, "camera.retention", Outcome::Ok)
            .object(&object)
            .detail(format!(
                "category {} -> {category} (recordings that arrive from now on)",
                device.retention_category
            )),
    )
    .await?;
    d.catalog
        .set_device_retention_category(id, category)
        .await
        .map_err(unavailable)?;
    Ok(Device {
        retention_category: category.to_owned(),
        ..device
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceRetention {
    category: String,
}

async fn put_device_retention(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<DeviceRetention>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Device>, ApiError> {
    let object = format!("camera:{}", id.escape_default());
    a.permit(&d, Action::ManageDevices, "camera.retention", &object)
        .await?;
    let body = json_body(body)?;
    set_camera_retention(&d, &a, &id, &body.category)
        .await
        .map(Json)
}

/// What changing one of a camera's attributes shares: the policy, the new
/// value's check, the camera itself, and the audit entry before the change.
async fn camera_to_change(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
    (action, field): (&str, &str),
    value: Option<&str>,
    detail: String,
) -> Result<Device, ApiError> {
    let object = format!("camera:{}", id.escape_default());
    a.permit(d, Action::ManageDevices, action, &object).await?;
    if let Some(v) = value {
        identifier(field, v)?;
    }
    let device = d
        .catalog
        .device(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| no_such("camera"))?;
    a.record(
        d,
        a.event(d, action, Outcome::Ok)
            .object(&object)
            .detail(detail),
    )
    .await?;
    Ok(device)
}

/// A personal camera's officer (`None`: back to the pool). Docks check the
/// camera out to this officer unless told another.
pub async fn assign_officer(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
    officer_id: Option<&str>,
) -> Result<Device, ApiError> {
    let detail = match officer_id {
        Some(o) => format!("assigned to {o}"),
        None => "returned to the pool".into(),
    };
    let device = camera_to_change(
        d,
        a,
        id,
        ("camera.officer", "officer_id"),
        officer_id,
        detail,
    )
    .await?;
    d.catalog
        .assign_officer(id, officer_id)
        .await
        .map_err(unavailable)?;
    Ok(Device {
        assigned_officer: officer_id.map(str::to_owned),
        ..device
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Officer {
    officer_id: Option<String>,
}

async fn put_officer(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<Officer>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Device>, ApiError> {
    let object = format!("camera:{}", id.escape_default());
    a.permit(&d, Action::ManageDevices, "camera.officer", &object)
        .await?;
    let body = json_body(body)?;
    assign_officer(&d, &a, &id, body.officer_id.as_deref())
        .await
        .map(Json)
}

/// The team or district a camera serves (`None`: none). Its recordings
/// from now on count for that team in the statistics; earlier ones keep the
/// team they were made in.
pub async fn set_camera_team(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
    team: Option<&str>,
) -> Result<Device, ApiError> {
    let detail = match team {
        Some(t) => format!("team {t}"),
        None => "no team".into(),
    };
    let device = camera_to_change(d, a, id, ("camera.team", "team"), team, detail).await?;
    d.catalog
        .set_device_team(id, team)
        .await
        .map_err(unavailable)?;
    Ok(Device {
        team: team.map(str::to_owned),
        ..device
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Team {
    team: Option<String>,
}

async fn put_team(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<Team>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Device>, ApiError> {
    let object = format!("camera:{}", id.escape_default());
    a.permit(&d, Action::ManageDevices, "camera.team", &object)
        .await?;
    let body = json_body(body)?;
    set_camera_team(&d, &a, &id, body.team.as_deref())
        .await
        .map(Json)
}

/// A dock as the admin sees it: never its token's hash.
#[derive(Serialize)]
pub struct DockSummary {
    pub dock_id: String,
    pub enrolled_at: custos_format::UtcMillis,
    pub revoked_at: Option<custos_format::UtcMillis>,
}

pub async fn list_docks(d: &Deployment, a: &Authenticated) -> Result<Vec<DockSummary>, ApiError> {
    a.permit(d, Action::ListDevices, "docks.list", "docks")
        .await?;
    a.ok(d, "docks.list", "docks").await?;
    Ok(d.catalog
        .docks()
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|k| DockSummary {
            dock_id: k.dock_id,
            enrolled_at: k.enrolled_at,
            revoked_at: k.revoked_at,
        })
        .collect())
}

async fn get_docks(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<DockSummary>>, ApiError> {
    list_docks(&d, &a).await.map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDock {
    pub dock_id: String,
}

/// Registers a dock; its token is returned once (only its hash is kept).
pub async fn enroll_dock(
    d: &Deployment,
    a: &Authenticated,
    body: NewDock,
) -> Result<crate::admin::DockCredential, ApiError> {
    a.permit(d, Action::ManageDevices, "dock.enroll", "docks")
        .await?;
    identifier("dock_id", &body.dock_id)?;
    let object = format!("dock:{}", body.dock_id);
    let exists = || ApiError::new(Code::Exists, "that dock is enrolled");
    if d.catalog
        .dock(&body.dock_id)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        let event = a.event(d, "dock.enroll", Outcome::Refused).object(&object);
        return Err(a.refused(d, event, exists()).await);
    }
    let (credential, token_sha256) = crate::admin::new_dock_token(&body.dock_id);
    a.ok(d, "dock.enroll", &object).await?;
    let dock = Dock {
        dock_id: body.dock_id,
        token_sha256,
        enrolled_at: (d.clock)(),
        revoked_at: None,
    };
    match d.catalog.add_dock(&dock).await {
        Ok(()) => Ok(credential),
        Err(CatalogError::AlreadyExists { .. }) => {
            let event = a.event(d, "dock.enroll", Outcome::Failed).object(&object);
            Err(a.refused(d, event, exists()).await)
        }
        Err(e) => Err(unavailable(e)),
    }
}

async fn post_dock(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<NewDock>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    a.permit(&d, Action::ManageDevices, "dock.enroll", "docks")
        .await?;
    let credential = enroll_dock(&d, &a, json_body(body)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "dock_id": credential.dock_id,
            "token": credential.token,
        })),
    ))
}

pub async fn revoke_dock(d: &Deployment, a: &Authenticated, id: &str) -> Result<(), ApiError> {
    let object = format!("dock:{}", id.escape_default());
    a.permit(d, Action::ManageDevices, "dock.revoke", &object)
        .await?;
    let dock = d
        .catalog
        .dock(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| no_such("dock"))?;
    if dock.revoked_at.is_some() {
        return Err(ApiError::new(Code::Revoked, "that dock is revoked already"));
    }
    a.ok(d, "dock.revoke", &object).await?;
    d.catalog
        .revoke_dock(id, (d.clock)())
        .await
        .map_err(unavailable)
}

async fn post_revoke_dock(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    revoke_dock(&d, &a, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a dock may know of a camera it is about to check out: whether the
/// server knows it, whether it is revoked, and its assigned officer.
async fn dock_camera(
    State(d): State<Arc<Deployment>>,
    DockAuth(dock): DockAuth,
    Path(id): Path<String>,
) -> Result<Json<custos_protocol::CameraStanding>, ApiError> {
    let object = format!("camera:{}", id.escape_default());
    let device = d.catalog.device(&id).await.map_err(unavailable)?;
    let event = |outcome| {
        custos_audit::AuditEvent::new(
            (d.clock)(),
            format!("dock:{dock}"),
            "camera.lookup",
            outcome,
        )
        .object(&object)
    };
    let Some(device) = device else {
        d.audit
            .record(event(Outcome::Refused).detail("unknown camera"))
            .await
            .map_err(unavailable)?;
        return Err(no_such("camera"));
    };
    d.audit
        .record(event(Outcome::Ok))
        .await
        .map_err(unavailable)?;
    Ok(Json(custos_protocol::CameraStanding {
        device_id: device.device_id,
        revoked: device.revoked_at.is_some(),
        assigned_officer: device.assigned_officer,
    }))
}
