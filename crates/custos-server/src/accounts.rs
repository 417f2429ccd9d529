//! Separation of duties for accounts that can see footage (issue 20, ADR
//! 0013). An administrator manages accounts, but creating one that can see
//! footage, or resetting its password or second factor, is only a request:
//! the privacy officer (another person, another role) approves it, and the
//! credentials then reach the person by a one-time activation link on which
//! they choose their own password and receive their own TOTP secret. No
//! password or secret of such an account ever passes through the admin.
//! Accounts that cannot see footage are handled as before.

use custos_access::{Action, Role};
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::Activation;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::api::{unavailable, Authenticated};
use crate::http::{ApiError, Code};
use crate::Deployment;

/// How long an approved link can be used.
pub const ACTIVATION_MILLIS: i64 = 72 * 3_600_000;

/// A real Argon2 hash of 32 random bytes nobody keeps: the account exists,
/// but nobody can sign in to it until its person has used their link, and a
/// sign-in attempt takes as long as any other (no telling such accounts by
/// the time an answer takes).
async fn unusable_password(d: &Deployment) -> Result<String, ApiError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut secret[..]);
    Ok(d.auth.hash_new_password(&hex::encode(&secret[..])).await?)
}

/// What an administrator's change to an account came to.
pub enum Credentials<T> {
    /// An account that cannot see footage: its credentials, shown once.
    Shown(T),
    /// An account that can see footage: a request for the privacy officer.
    AwaitingApproval(Box<Activation>),
}

/// Whether an account of `role` sees footage in this deployment now, or
/// may later: an officer does as soon as the deployment turns self-review
/// on, and credentials the admin once held would then open footage.
pub fn sees_footage(d: &Deployment, role: Role) -> bool {
    role == Role::Officer || custos_access::sees_footage(role, &d.policy())
}

/// An administrator asks for an account that can see footage, or for new
/// credentials for one (`kind` `add` or `reset`). Audited as the action
/// the administrator took (`user.add`, `user.password-reset`,
/// `user.mfa-reset`), saying it awaits approval.
pub async fn request(
    d: &Deployment,
    a: &Authenticated,
    audit_action: &str,
    kind: &str,
    name: &str,
    role: Role,
    officer_id: Option<String>,
) -> Result<Activation, ApiError> {
    let now = (d.clock)();
    let object = format!("user:{}", custos_audit::excerpt(name));
    if d.catalog
        .open_activations_for(name, now)
        .await
        .map_err(unavailable)?
        > 0
    {
        let event = a.event(d, audit_action, Outcome::Refused).object(&object);
        let answer = ApiError::new(
            Code::AwaitingApproval,
            "a request for this account is already waiting for the privacy officer or its person",
        );
        return Err(a.refused(d, event, answer).await);
    }
    let activation = Activation {
        activation_id: Uuid::now_v7(),
        user_name: name.to_owned(),
        kind: kind.to_owned(),
        role: role.as_str().to_owned(),
        officer_id,
        requested_by: a.caller.name.clone(),
        requested_at: now,
        approved_by: None,
        approved_at: None,
        rejected_by: None,
        rejected_at: None,
        token_sha256: None,
        expires_at: None,
        activated_at: None,
    };
    a.record(
        d,
        a.event(d, audit_action, Outcome::Ok)
            .object(&object)
            .detail(format!(
                "role {}: awaiting the privacy officer's approval (activation {})",
                role.as_str(),
                activation.activation_id
            )),
    )
    .await?;
    d.catalog
        .add_activation(&activation)
        .await
        .map_err(unavailable)?;
    Ok(activation)
}

/// The requests, newest first: for the privacy officer who decides them
/// and the administrators who made them. Never their tokens.
pub async fn list(d: &Deployment, a: &Authenticated) -> Result<Vec<Activation>, ApiError> {
    let action = if d
        .settings
        .decide(a.caller.role, Action::ApproveAccounts)
        .is_ok()
    {
        Action::ApproveAccounts
    } else {
        Action::ManageUsers
    };
    a.permit(d, action, "activations.list", "activations")
        .await?;
    a.ok(d, "activations.list", "activations").await?;
    d.catalog.activations().await.map_err(unavailable)
}

async fn pending(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
    audit_action: &str,
) -> Result<(Activation, String), ApiError> {
    let object = format!("activation:{}", id.escape_default());
    a.permit(d, Action::ApproveAccounts, audit_action, &object)
        .await?;
    let found = match id.parse::<Uuid>() {
        Ok(id) => d.catalog.activation(id).await.map_err(unavailable)?,
        Err(_) => None,
    };
    let Some(activation) = found else {
        return Err(ApiError::new(Code::NotFound, "no such request"));
    };
    if activation.approved_at.is_some() || activation.rejected_at.is_some() {
        return Err(ApiError::new(
            Code::NotPending,
            "that request was decided already",
        ));
    }
    if activation.requested_by == a.caller.name {
        let event = a.event(d, audit_action, Outcome::Refused).object(&object);
        let answer = ApiError::new(
            Code::FourEyes,
            "a request is decided by someone other than who made it",
        );
        return Err(a.refused(d, event, answer).await);
    }
    Ok((activation, object))
}

/// An approved request and its one-time link, shown once to the approver,
/// who hands it to the person.
pub struct Approved {
    pub activation: Activation,
    /// `/activate/TOKEN` on this server.
    pub link: Zeroizing<String>,
}

/// The privacy officer approves: a new account is made that nobody can
/// sign in to yet, or an existing one's credentials stop working (and its
/// sessions end); either way its person gets a link, valid 72 hours, to
/// set their own.
pub async fn approve(d: &Deployment, a: &Authenticated, id: &str) -> Result<Approved, ApiError> {
    let (activation, object) = pending(d, a, id, "user.approve").await?;
    let now = (d.clock)();
    let role = Role::parse(&activation.role).ok_or_else(|| unavailable("stored role"))?;
    let existing = d
        .catalog
        .user(&activation.user_name)
        .await
        .map_err(unavailable)?;
    match (activation.kind.as_str(), &existing) {
        ("add", None) | ("reset", Some(_)) => {}
        ("add", Some(_)) => return Err(ApiError::new(Code::Exists, "that user exists")),
        _ => return Err(ApiError::new(Code::NotFound, "no such user")),
    }
    let mut token = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut token[..]);
    let token = Zeroizing::new(hex::encode(&token[..]));
    let expires_at = now.plus_millis(ACTIVATION_MILLIS);
    // Decided once, whoever races: the conditional update first, the
    // entry after it (a loser writes nothing), the account last.
    if !d
        .catalog
        .approve_activation(
            activation.activation_id,
            &a.caller.name,
            now,
            &token_sha256(&token),
            expires_at,
        )
        .await
        .map_err(unavailable)?
    {
        return Err(ApiError::new(
            Code::NotPending,
            "that request was decided already",
        ));
    }
    a.record(
        d,
        a.event(d, "user.approve", Outcome::Ok)
            .object(format!("user:{}", activation.user_name))
            .detail(format!(
                "{} {} requested by {} ({object}); link valid until {expires_at}",
                activation.kind,
                role.as_str(),
                activation.requested_by
            )),
    )
    .await?;
    let unusable = unusable_password(d).await?;
    if existing.is_none() {
        let user = custos_catalog::User {
            name: activation.user_name.clone(),
            role: role.as_str().to_owned(),
            officer_id: activation.officer_id.clone(),
            password_hash: unusable,
            totp_secret_sealed: Vec::new(),
            failed_attempts: 0,
            locked_until: None,
            totp_last_step: None,
            created_at: now,
            disabled_at: None,
            password_must_change: false,
        };
        d.catalog.add_user(&user).await.map_err(|e| match e {
            custos_catalog::CatalogError::AlreadyExists { .. } => {
                ApiError::new(Code::Exists, "that user exists")
            }
            e => unavailable(e),
        })?;
    } else {
        // The old credentials stop now: whoever held them is out.
        d.catalog
            .set_password(&activation.user_name, &unusable, false, None, now)
            .await
            .map_err(unavailable)?;
    }
    let activation = d
        .catalog
        .activation(activation.activation_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unavailable("request vanished"))?;
    Ok(Approved {
        activation,
        link: Zeroizing::new(format!("/activate/{}", token.as_str())),
    })
}

/// The privacy officer refuses: nothing changes for the account.
pub async fn reject(d: &Deployment, a: &Authenticated, id: &str) -> Result<Activation, ApiError> {
    let (activation, object) = pending(d, a, id, "user.reject").await?;
    let now = (d.clock)();
    if !d
        .catalog
        .reject_activation(activation.activation_id, &a.caller.name, now)
        .await
        .map_err(unavailable)?
    {
        return Err(ApiError::new(
            Code::NotPending,
            "that request was decided already",
        ));
    }
    a.record(
        d,
        a.event(d, "user.reject", Outcome::Ok)
            .object(format!("user:{}", activation.user_name))
            .detail(format!(
                "{} {} requested by {} ({object})",
                activation.kind, activation.role, activation.requested_by
            )),
    )
    .await?;
    d.catalog
        .activation(activation.activation_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unavailable("request vanished"))
}

/// What the person gets for using their link: their own second factor.
pub struct Activated {
    pub name: String,
    pub role: Role,
    pub totp: crate::auth::NewTotp,
}

fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A link's token: 64 lowercase hex digits, or it is no link of ours.
fn well_formed(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The link, before anything is set: whose it is and until when, or why it
/// cannot be used. Nothing is written (the page asks for a password first).
pub async fn look_up(d: &Deployment, token: &str) -> Result<Activation, ApiError> {
    let gone = || {
        ApiError::new(
            Code::NotFound,
            "this link is not valid: it was used, refused, or never made",
        )
    };
    if !well_formed(token) {
        return Err(gone());
    }
    let found = d
        .catalog
        .activation_by_token(&token_sha256(token))
        .await
        .map_err(unavailable)?
        .ok_or_else(gone)?;
    let now = (d.clock)();
    if found.expires_at.is_none_or(|at| at <= now) || found.activated_at.is_some() {
        return Err(ApiError::new(
            Code::Expired,
            "this link has expired: ask for a new one",
        ));
    }
    Ok(found)
}

/// The person uses their link: their own password (the usual rules), and a
/// new TOTP secret shown to them alone. The link works once. Audited as
/// the person (`user.activate`); a bad link is audited as anonymous.
pub async fn activate(
    d: &Deployment,
    token: &str,
    password: &str,
    source: &crate::admission::Source,
) -> Result<Activated, ApiError> {
    let now = (d.clock)();
    let found = match look_up(d, token).await {
        Ok(found) => found,
        Err(answer) => {
            if d.auth.refusal_audit.admit(source, now) {
                let event = AuditEvent::new(now, "anonymous", "user.activate", Outcome::Refused)
                    .client(source.address())
                    .detail(answer.code().as_str());
                d.audit.record(event).await.map_err(unavailable)?;
            }
            return Err(answer);
        }
    };
    let name = found.user_name.clone();
    let role = Role::parse(&found.role).ok_or_else(|| unavailable("stored role"))?;
    let event = |outcome, detail: &str| {
        AuditEvent::new(now, format!("user:{name}"), "user.activate", outcome)
            .role(role.as_str())
            .client(source.address())
            .object(format!("user:{name}"))
            .detail(detail)
    };
    if let Err(e) = crate::auth::check_new_password(&name, "", password) {
        d.audit
            .record(event(Outcome::Refused, "password too weak"))
            .await
            .map_err(unavailable)?;
        return Err(e.into());
    }
    let hash = d.auth.hash_new_password(password).await?;
    let totp = crate::auth::new_totp_secret(&name, &d.keys.recipient, "custos")?;
    // Claimed first, so two uses of one link cannot both set credentials
    // (and the loser writes no entry that says it did).
    if !d
        .catalog
        .finish_activation(found.activation_id, now)
        .await
        .map_err(unavailable)?
    {
        return Err(ApiError::new(
            Code::Expired,
            "this link has expired: ask for a new one",
        ));
    }
    d.audit
        .record(event(
            Outcome::Ok,
            &format!("activation {}", found.activation_id),
        ))
        .await
        .map_err(unavailable)?;
    d.catalog
        .reset_totp(&name, &totp.sealed, now)
        .await
        .map_err(unavailable)?;
    d.catalog
        .set_password(&name, &hash, false, None, now)
        .await
        .map_err(unavailable)?;
    Ok(Activated { name, role, totp })
}
