//! `GET /auth/v1.0` and the token every other request carries. Tokens are
//! 32 random bytes, kept as their SHA-256 for [`super::TOKEN_MILLIS`];
//! refused credentials are audited (at most a source's rate, then counted)
//! and counted into the source's incident for the hour, as a dock's are.

use axum::http::HeaderMap;
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::AxisToken;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Refusal;
use crate::admission::Source;
use crate::Deployment;

/// Longest user name or key looked at (ours are an identifier and 64 hex
/// digits).
const MAX_CREDENTIAL: usize = 256;

/// A connection whose token was good: its name.
#[derive(Debug, Clone)]
pub struct Connection(pub String);

impl Connection {
    /// Who the audit log says acted.
    pub fn actor(&self) -> String {
        format!("axis:{}", self.0)
    }
}

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_CREDENTIAL)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A token for the connection whose name and key are in `headers`.
pub async fn issue(
    d: &Deployment,
    headers: &HeaderMap,
    source: &Source,
) -> Result<(Connection, String), Refusal> {
    let user = text(headers, "x-auth-user").unwrap_or("");
    let Some(key) = text(headers, "x-auth-key") else {
        refuse(d, user, source, "no credentials").await?;
        return Err(Refusal::Unauthorized);
    };
    let known = if custos_format::manifest::check_identifier(user).is_ok() {
        d.catalog.axis_connection(user).await?
    } else {
        None
    };
    let presented = hex::encode(Sha256::digest(key.as_bytes()));
    let reason = match &known {
        None => Some("unknown connection"),
        Some(c) if c.revoked_at.is_some() => Some("revoked connection"),
        Some(c) if !constant_time_eq(c.key_sha256.as_bytes(), presented.as_bytes()) => {
            Some("wrong key")
        }
        Some(_) => None,
    };
    if let Some(reason) = reason {
        refuse(d, user, source, reason).await?;
        return Err(Refusal::Unauthorized);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let now = (d.clock)();
    let kept = AxisToken {
        token_sha256: hex::encode(Sha256::digest(token.as_bytes())),
        connection: user.to_owned(),
        expires_at: now.plus_millis(super::TOKEN_MILLIS),
    };
    match d.catalog.add_axis_token(&kept, now).await {
        Ok(()) => {}
        // Revoked between the check and now.
        Err(custos_catalog::CatalogError::NotFound { .. }) => return Err(Refusal::Unauthorized),
        Err(e) => return Err(e.into()),
    }
    let connection = Connection(user.to_owned());
    d.audit
        .record(
            AuditEvent::new(now, connection.actor(), "axis.authenticate", Outcome::Ok)
                .object(connection.actor())
                .client(source.address()),
        )
        .await
        .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    Ok((connection, token))
}

/// The connection whose token `headers` carry.
pub async fn check(
    d: &Deployment,
    headers: &HeaderMap,
    source: &Source,
) -> Result<Connection, Refusal> {
    let token = text(headers, "x-auth-token").or_else(|| text(headers, "x-storage-token"));
    let Some(token) = token else {
        refuse(d, "", source, "no token").await?;
        return Err(Refusal::Unauthorized);
    };
    let sha = hex::encode(Sha256::digest(token.as_bytes()));
    match d.catalog.axis_token(&sha, (d.clock)()).await? {
        Some(c) => Ok(Connection(c.name)),
        None => {
            refuse(d, "", source, "unknown or expired token").await?;
            Err(Refusal::Unauthorized)
        }
    }
}

/// A refusal of credentials: on record (up to the source's rate), and
/// counted into the source's incident for the hour.
async fn refuse(
    d: &Deployment,
    user: &str,
    source: &Source,
    reason: &'static str,
) -> Result<(), Refusal> {
    let now = (d.clock)();
    let who = if user.is_empty() {
        "axis:(no user)".to_owned()
    } else {
        format!("axis:{}", custos_audit::excerpt(user))
    };
    if d.auth.refusal_audit.admit(source, now) {
        d.audit
            .record(
                AuditEvent::new(now, who.clone(), "axis.authenticate", Outcome::Refused)
                    .client(source.address())
                    .detail(reason),
            )
            .await
            .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    }
    d.refusals
        .count(&*d.catalog, source.group(), reason, who, now)
        .await;
    Ok(())
}
