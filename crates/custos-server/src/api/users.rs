//! Accounts: the admin's changes, and the requests for accounts that can
//! see footage that the privacy officer decides (`crate::accounts`).

use super::*;

pub async fn list_users(
    d: &Deployment,
    a: &Authenticated,
) -> Result<Vec<crate::admin::UserSummary>, ApiError> {
    a.permit(d, Action::ListUsers, "users.list", "users")
        .await?;
    a.ok(d, "users.list", "users").await?;
    let now = (d.clock)();
    Ok(d.catalog
        .users()
        .await
        .map_err(unavailable)?
        .iter()
        .map(|u| crate::admin::UserSummary::of(u, now))
        .collect())
}

pub(crate) async fn users(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<crate::admin::UserSummary>>, ApiError> {
    list_users(&d, &a).await.map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub officer_id: Option<String>,
}

/// A new account. One that cannot see footage gets its enrollment (initial
/// password, TOTP secret), shown once to the admin who hands it over in
/// person; one that can is a request for the privacy officer
/// ([`crate::accounts`]).
pub async fn add_user(
    d: &Deployment,
    a: &Authenticated,
    body: NewUser,
) -> Result<Credentials<crate::auth::Enrollment>, ApiError> {
    a.permit(d, Action::ManageUsers, "user.add", "users")
        .await?;
    let role =
        Role::parse(&body.role).ok_or_else(|| ApiError::new(Code::Invalid, "unknown role"))?;
    crate::auth::check_user_name(&body.name)?;
    if role == Role::Officer && body.officer_id.is_none() {
        return Err(ApiError::new(
            Code::Invalid,
            "an officer account needs the officer id their camera records",
        ));
    }
    if let Some(officer) = &body.officer_id {
        custos_format::manifest::check_identifier(officer)
            .map_err(|e| ApiError::new(Code::Invalid, format!("officer_id: {e}")))?;
        // One account per officer id: another would see that officer's
        // recordings (and, with self-review, footage) as its own.
        let taken = d
            .catalog
            .users()
            .await
            .map_err(unavailable)?
            .iter()
            .any(|u| u.officer_id.as_deref() == Some(officer.as_str()) && u.disabled_at.is_none());
        // Nor a request for it still waiting for its decision or its person.
        let now = (d.clock)();
        let asked = d
            .catalog
            .activations()
            .await
            .map_err(unavailable)?
            .iter()
            .any(|r| {
                r.officer_id.as_deref() == Some(officer.as_str())
                    && r.rejected_at.is_none()
                    && r.activated_at.is_none()
                    && r.expires_at.is_none_or(|at| at > now)
            });
        if taken || asked {
            let event = a
                .event(d, "user.add", Outcome::Refused)
                .object(format!("user:{}", body.name));
            let answer = ApiError::new(Code::OfficerIdTaken, "another account has that officer id");
            return Err(a.refused(d, event, answer).await);
        }
    }
    if crate::accounts::sees_footage(d, role) {
        if d.catalog
            .user(&body.name)
            .await
            .map_err(unavailable)?
            .is_some()
        {
            let event = a
                .event(d, "user.add", Outcome::Refused)
                .object(format!("user:{}", body.name));
            let answer = ApiError::new(Code::Exists, "that user exists");
            return Err(a.refused(d, event, answer).await);
        }
        let request =
            crate::accounts::request(d, a, "user.add", "add", &body.name, role, body.officer_id)
                .await?;
        return Ok(Credentials::AwaitingApproval(Box::new(request)));
    }
    let (user, enrollment) = d
        .auth
        .new_user(&body.name, role, body.officer_id, "custos", (d.clock)())
        .await?;
    let object = format!("user:{}", user.name);
    let exists = || ApiError::new(Code::Exists, "that user exists");
    if d.catalog
        .user(&user.name)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        let event = a.event(d, "user.add", Outcome::Refused).object(&object);
        return Err(a.refused(d, event, exists()).await);
    }
    a.record(
        d,
        a.event(d, "user.add", Outcome::Ok)
            .object(&object)
            .detail(format!("role {}", role.as_str())),
    )
    .await?;
    match d.catalog.add_user(&user).await {
        Ok(()) => Ok(Credentials::Shown(enrollment)),
        Err(custos_catalog::CatalogError::AlreadyExists { .. }) => {
            let event = a.event(d, "user.add", Outcome::Failed).object(&object);
            Err(a.refused(d, event, exists()).await)
        }
        Err(e) => Err(unavailable(e)),
    }
}

pub(crate) async fn post_user(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    a.permit(&d, Action::ManageUsers, "user.add", "users")
        .await?;
    match add_user(&d, &a, json_body(body)?).await? {
        Credentials::Shown(enrollment) => Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({
                "name": enrollment.name,
                "role": enrollment.role.as_str(),
                "initial_password": enrollment.password.as_str(),
                "totp_secret": enrollment.totp_secret.as_str(),
                "otpauth_uri": enrollment.otpauth_uri.as_str(),
            })),
        )),
        Credentials::AwaitingApproval(request) => Ok(awaiting(&request)),
    }
}

/// `202`: a request for the privacy officer, and no credentials.
pub(crate) fn awaiting(
    request: &custos_catalog::Activation,
) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "name": request.user_name,
            "role": request.role,
            "status": "awaiting-approval",
            "activation_id": request.activation_id,
        })),
    )
}

/// Permits `action` on a user who exists (404 otherwise), then audits it.
pub(crate) async fn on_user(
    d: &Deployment,
    a: &Authenticated,
    name: &str,
    audit_action: &str,
) -> Result<custos_catalog::User, ApiError> {
    let user = user_named(d, a, name, audit_action).await?;
    a.ok(d, audit_action, &format!("user:{}", user.name))
        .await?;
    Ok(user)
}

/// Permits `action` on a user who exists (404 otherwise); audits nothing
/// yet (what is done decides what is written).
pub(crate) async fn user_named(
    d: &Deployment,
    a: &Authenticated,
    name: &str,
    audit_action: &str,
) -> Result<custos_catalog::User, ApiError> {
    let object = format!("user:{}", name.escape_default());
    a.permit(d, Action::ManageUsers, audit_action, &object)
        .await?;
    d.catalog
        .user(name)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::new(Code::NotFound, "no such user"))
}

pub async fn unlock_user(d: &Deployment, a: &Authenticated, name: &str) -> Result<(), ApiError> {
    let user = on_user(d, a, name, "user.unlock").await?;
    d.catalog
        .set_login_state(name, 0, None, user.totp_last_step)
        .await
        .map_err(unavailable)
}

pub(crate) async fn post_unlock_user(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    unlock_user(&d, &a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new initial password for someone who forgot theirs: shown once to the
/// admin, replaced at the next sign-in; the person's sessions end. For an
/// account that can see footage: a request for the privacy officer, after
/// which the person sets their own through a link.
pub async fn reset_password(
    d: &Deployment,
    a: &Authenticated,
    name: &str,
) -> Result<Credentials<zeroize::Zeroizing<String>>, ApiError> {
    let user = user_named(d, a, name, "user.password-reset").await?;
    if let Some(request) = reset_request(d, a, &user, "user.password-reset").await? {
        return Ok(Credentials::AwaitingApproval(Box::new(request)));
    }
    a.ok(d, "user.password-reset", &format!("user:{}", user.name))
        .await?;
    Ok(Credentials::Shown(
        d.auth.reset_password(name, (d.clock)()).await?,
    ))
}

/// For an account that can see footage, a reset is a request.
pub(crate) async fn reset_request(
    d: &Deployment,
    a: &Authenticated,
    user: &custos_catalog::User,
    audit_action: &str,
) -> Result<Option<custos_catalog::Activation>, ApiError> {
    let Some(role) = Role::parse(&user.role) else {
        return Ok(None);
    };
    if !crate::accounts::sees_footage(d, role) {
        return Ok(None);
    }
    crate::accounts::request(
        d,
        a,
        audit_action,
        "reset",
        &user.name,
        role,
        user.officer_id.clone(),
    )
    .await
    .map(Some)
}

pub(crate) async fn post_reset_password(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match reset_password(&d, &a, &name).await? {
        Credentials::Shown(password) => Ok((
            StatusCode::OK,
            Json(serde_json::json!({
                "name": name,
                "initial_password": password.as_str(),
                "password_change_required": true,
            })),
        )),
        Credentials::AwaitingApproval(request) => Ok(awaiting(&request)),
    }
}

/// Someone who left: they can no longer sign in, their sessions end. The
/// account stays, so the audit log's names keep meaning someone.
pub async fn disable_user(d: &Deployment, a: &Authenticated, name: &str) -> Result<(), ApiError> {
    let object = format!("user:{}", name.escape_default());
    a.permit(d, Action::ManageUsers, "user.disable", &object)
        .await?;
    if a.caller.name == name {
        let event = a.event(d, "user.disable", Outcome::Refused).object(&object);
        let answer = ApiError::new(
            Code::SelfApproval,
            "an administrator cannot disable their own account",
        );
        return Err(a.refused(d, event, answer).await);
    }
    on_user(d, a, name, "user.disable").await?;
    d.catalog
        .disable_user(name, (d.clock)())
        .await
        .map_err(unavailable)
}

pub(crate) async fn post_disable_user(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    disable_user(&d, &a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A lost or replaced phone: a new TOTP secret (shown once), the old one
/// stops working, every session of the person ends.
pub async fn reset_mfa(
    d: &Deployment,
    a: &Authenticated,
    name: &str,
) -> Result<Credentials<crate::auth::NewTotp>, ApiError> {
    let user = user_named(d, a, name, "user.mfa-reset").await?;
    if let Some(request) = reset_request(d, a, &user, "user.mfa-reset").await? {
        return Ok(Credentials::AwaitingApproval(Box::new(request)));
    }
    a.ok(d, "user.mfa-reset", &format!("user:{}", user.name))
        .await?;
    let totp = crate::auth::new_totp_secret(name, &d.keys.recipient, "custos")?;
    d.catalog
        .reset_totp(name, &totp.sealed, (d.clock)())
        .await
        .map_err(unavailable)?;
    Ok(Credentials::Shown(totp))
}

pub(crate) async fn post_reset_mfa(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match reset_mfa(&d, &a, &name).await? {
        Credentials::Shown(totp) => Ok((
            StatusCode::OK,
            Json(serde_json::json!({
                "name": name,
                "totp_secret": totp.secret.as_str(),
                "otpauth_uri": totp.otpauth_uri.as_str(),
            })),
        )),
        Credentials::AwaitingApproval(request) => Ok(awaiting(&request)),
    }
}

pub(crate) async fn get_activations(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<custos_catalog::Activation>>, ApiError> {
    Ok(Json(crate::accounts::list(&d, &a).await?))
}

pub(crate) async fn post_approve_activation(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let approved = crate::accounts::approve(&d, &a, &id).await?;
    Ok(Json(serde_json::json!({
        "activation": approved.activation,
        "activation_link": approved.link.as_str(),
    })))
}

pub(crate) async fn post_reject_activation(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::Activation>, ApiError> {
    Ok(Json(crate::accounts::reject(&d, &a, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Activate {
    token: String,
    password: String,
}

/// `POST /api/v1/activate`: the person, not signed in, with their link's
/// token and the password they chose.
pub(crate) async fn post_activate(
    State(d): State<Arc<Deployment>>,
    source: crate::admission::Source,
    body: Result<Json<Activate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = json_body(body)?;
    let done = crate::accounts::activate(&d, &body.token, &body.password, &source).await?;
    Ok(Json(serde_json::json!({
        "name": done.name,
        "role": done.role.as_str(),
        "totp_secret": done.totp.secret.as_str(),
        "otpauth_uri": done.totp.otpauth_uri.as_str(),
    })))
}
