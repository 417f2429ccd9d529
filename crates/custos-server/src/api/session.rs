//! Signing in and out, the session, and one's own password.

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    name: String,
    password: String,
    code: String,
}

pub(crate) fn session_json(c: &Caller) -> serde_json::Value {
    serde_json::json!({
        "name": c.name,
        "role": c.role.as_str(),
        "officer_id": c.officer_id,
        "csrf_token": c.csrf_token,
        "idle_timeout_seconds": crate::auth::IDLE_TIMEOUT_MILLIS / 1000,
        "password_change_required": c.must_change_password,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    current_password: String,
    new_password: String,
}

pub(crate) async fn change_password(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<PasswordChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = json_body(body)?;
    let (current, new) = (
        zeroize::Zeroizing::new(body.current_password),
        zeroize::Zeroizing::new(body.new_password),
    );
    d.auth
        .change_password(&a.caller, &current, &new, &a.client)
        .await?;
    let caller = Caller {
        must_change_password: false,
        ..a.caller
    };
    Ok(Json(session_json(&caller)))
}

pub(crate) async fn sign_in(
    State(d): State<Arc<Deployment>>,
    source: crate::admission::Source,
    headers: axum::http::HeaderMap,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let device = cookie_in(&headers, crate::auth::DEVICE_COOKIE);
    let signed_in = d
        .auth
        .sign_in(
            &body.name,
            &body.password,
            &body.code,
            &source,
            device.as_deref(),
        )
        .await?;
    let mut json = session_json(&signed_in.caller);
    json["token"] = serde_json::Value::String(signed_in.token.to_string());
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict",
        signed_in.token.as_str()
    );
    Ok((
        axum::response::AppendHeaders([
            (header::SET_COOKIE, cookie),
            (header::SET_COOKIE, signed_in.device_cookie),
        ]),
        Json(json),
    )
        .into_response())
}

pub(crate) async fn session(a: Authenticated) -> Json<serde_json::Value> {
    Json(session_json(&a.caller))
}

pub(crate) async fn sign_out(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Response, ApiError> {
    d.auth.sign_out(&a.caller, &a.client).await?;
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}
