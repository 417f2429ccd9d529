//! People signing in: Argon2id passwords, TOTP as the mandatory second
//! factor for every role, lockout after repeated failures, sessions that
//! expire when idle. Every attempt, good or bad, is audited.

use std::io::Write;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use custos_access::Role;
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::stores::UserStore;
use custos_catalog::{Catalog, CatalogError, Session, SignInBackoff, User};
use custos_format::UtcMillis;
use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::admission::{Admission, AdmissionConfig, Source};
use crate::audit::AuditLog;
use crate::keys::ServerKeys;
use crate::Clock;

/// How consecutive failed sign-ins slow the next attempt at an account.
pub const BACKOFF: SignInBackoff = SignInBackoff::DEFAULT;
/// A session unused this long is over.
pub const IDLE_TIMEOUT_MILLIS: i64 = 30 * 60 * 1000;
/// A session this old is over, however busy: a stolen token, or a browser
/// left signed in at a shared desk, does not live past a working day.
pub const ABSOLUTE_LIFETIME_MILLIS: i64 = 12 * 3600 * 1000;
/// Longest password looked at: nothing longer was ever set (at most 256
/// characters, 4 bytes each).
const MAX_PASSWORD_BYTES: usize = 1024;
/// The cookie a browser gets when someone signs in with it: a later
/// sign-in from it as the same person is not held up by others' failures
/// at that account (OWASP's "device cookies"; ADR 0012).
pub const DEVICE_COOKIE: &str = "__Host-custos_device";
/// How long a device cookie counts (half a year).
const DEVICE_LIFETIME_MILLIS: i64 = 183 * 86_400_000;
const TOTP_STEP_SECONDS: u64 = 30;
const TOTP_DIGITS: usize = 6;
/// Only write `last_seen` when it moved this much: one write a minute, not per request.
const TOUCH_GRANULARITY_MILLIS: i64 = 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong name, password or code: deliberately one message for all.
    #[error("wrong name, password or code")]
    BadCredentials,
    /// Too many attempts (from this source, at this account, or on the
    /// server at once): not looked at; try again after the wait.
    #[error("too many sign-in attempts; try again in {retry_after_secs} s")]
    SlowDown { retry_after_secs: u64 },
    #[error("not signed in, or the session expired")]
    NoSession,
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("{0}")]
    Invalid(String),
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

impl From<CatalogError> for AuthError {
    fn from(e: CatalogError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// What a new user receives once: never stored in the clear.
pub struct Enrollment {
    pub name: String,
    pub role: Role,
    pub password: Zeroizing<String>,
    /// Base32, as authenticator apps take it.
    pub totp_secret: Zeroizing<String>,
    pub otpauth_uri: Zeroizing<String>,
}

pub fn random_password() -> Zeroizing<String> {
    // 20 characters from 32 unambiguous ones: 100 bits.
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789-";
    let mut bytes = Zeroizing::new([0u8; 20]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
    Zeroizing::new(
        bytes
            .iter()
            .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
            .collect(),
    )
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Unavailable(format!("argon2: {e}")))
}

fn totp(secret: &[u8]) -> Result<TOTP, AuthError> {
    TOTP::new(
        Algorithm::SHA1,
        TOTP_DIGITS,
        1,
        TOTP_STEP_SECONDS,
        secret.to_vec(),
    )
    .map_err(|e| AuthError::Unavailable(format!("totp: {e}")))
}

/// The current code for a secret (base32): for tests and the demo.
pub fn totp_code(secret_base32: &str, at: UtcMillis) -> Result<String, AuthError> {
    let secret = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|_| AuthError::Invalid("not a base32 TOTP secret".into()))?;
    Ok(totp(&secret)?.generate(at.as_millis() as u64 / 1000))
}

fn seal(recipient: &age::x25519::Recipient, secret: &[u8]) -> Result<Vec<u8>, AuthError> {
    let fail = |e: &dyn std::fmt::Display| AuthError::Unavailable(format!("sealing: {e}"));
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| fail(&e))?;
    let mut out = Vec::new();
    let mut w = encryptor.wrap_output(&mut out).map_err(|e| fail(&e))?;
    w.write_all(secret).map_err(|e| fail(&e))?;
    w.finish().map_err(|e| fail(&e))?;
    Ok(out)
}

pub fn check_user_name(name: &str) -> Result<(), AuthError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "user name `{}` must be 1–64 of a-z 0-9 - _ . starting with a letter or digit",
            custos_audit::excerpt(name)
        )))
    }
}

/// A fresh TOTP secret: sealed for the catalog, and as the person's
/// authenticator app takes it (shown once).
pub struct NewTotp {
    pub sealed: Vec<u8>,
    /// Base32.
    pub secret: Zeroizing<String>,
    pub otpauth_uri: Zeroizing<String>,
}

pub fn new_totp_secret(
    name: &str,
    evidence_recipient: &age::x25519::Recipient,
    deployment: &str,
) -> Result<NewTotp, AuthError> {
    let mut secret = Zeroizing::new([0u8; 20]);
    rand::rngs::OsRng.fill_bytes(&mut secret[..]);
    let encoded = match totp_rs::Secret::Raw(secret.to_vec()).to_encoded() {
        totp_rs::Secret::Encoded(s) => Zeroizing::new(s),
        totp_rs::Secret::Raw(_) => unreachable!("to_encoded gives Encoded"),
    };
    let uri = Zeroizing::new(format!(
        "otpauth://totp/Custos%20{deployment}:{name}?secret={}&issuer=Custos%20{deployment}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECONDS}",
        encoded.as_str()
    ));
    Ok(NewTotp {
        sealed: seal(evidence_recipient, &secret[..])?,
        secret: encoded,
        otpauth_uri: uri,
    })
}

/// A new account with a random initial password and TOTP secret; the TOTP
/// secret is sealed to the evidence key, so making users needs no passphrase.
pub fn new_user(
    name: &str,
    role: Role,
    officer_id: Option<String>,
    evidence_recipient: &age::x25519::Recipient,
    deployment: &str,
    now: UtcMillis,
) -> Result<(User, Enrollment), AuthError> {
    check_user_name(name)?;
    if role == Role::Officer && officer_id.is_none() {
        return Err(AuthError::Invalid(
            "an officer account needs the officer id their camera records (--officer-id)".into(),
        ));
    }
    if let Some(id) = &officer_id {
        custos_format::manifest::check_identifier(id).map_err(AuthError::Invalid)?;
    }
    let password = random_password();
    let totp = new_totp_secret(name, evidence_recipient, deployment)?;
    let user = User {
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        officer_id,
        password_hash: hash_password(&password)?,
        totp_secret_sealed: totp.sealed,
        failed_attempts: 0,
        locked_until: None,
        totp_last_step: None,
        created_at: now,
        disabled_at: None,
        password_must_change: true,
    };
    Ok((
        user,
        Enrollment {
            name: name.to_owned(),
            role,
            password,
            totp_secret: totp.secret,
            otpauth_uri: totp.otpauth_uri,
        },
    ))
}

/// A signed-in person, as handlers see them.
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub officer_id: Option<String>,
    pub session_sha256: String,
    pub csrf_token: String,
    /// Signed in with a password someone else set: this session may only
    /// replace it (or sign out).
    pub must_change_password: bool,
}

impl Caller {
    pub fn actor(&self) -> String {
        format!("user:{}", self.name)
    }
}

pub struct SignedIn {
    pub token: Zeroizing<String>,
    pub caller: Caller,
    /// `Set-Cookie` for the browser (see [`DEVICE_COOKIE`]).
    pub device_cookie: String,
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn random_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
    Zeroizing::new(hex::encode(&bytes[..]))
}

pub struct Authenticator {
    catalog: Arc<dyn Catalog>,
    keys: Arc<ServerKeys>,
    audit: AuditLog,
    clock: Clock,
    /// Verified against when the name is unknown, so timing does not tell
    /// which names exist.
    dummy_hash: String,
    /// Who may make this node hash a password now.
    admission: Admission,
    /// Signs device cookies.
    device_key: ring::hmac::Key,
    /// How many anonymous refusals get entries of their own.
    pub refusal_audit: crate::admission::RefusalAudit,
}

impl Authenticator {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        keys: Arc<ServerKeys>,
        audit: AuditLog,
        clock: Clock,
        admission: AdmissionConfig,
        device_key: &[u8; 32],
    ) -> Result<Self, AuthError> {
        Ok(Self {
            catalog,
            keys,
            audit,
            clock,
            dummy_hash: hash_password("not a password anyone has")?,
            admission: Admission::new(admission),
            device_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, device_key),
            refusal_audit: Default::default(),
        })
    }

    fn device_tag(&self, name: &str, issued: i64) -> String {
        let tag = ring::hmac::sign(&self.device_key, format!("v1:{name}:{issued}").as_bytes());
        hex::encode(tag.as_ref())
    }

    /// The `Set-Cookie` value that marks this browser as one `name` signed
    /// in with (HttpOnly, Secure, SameSite=Strict, half a year).
    pub fn device_cookie(&self, name: &str, now: UtcMillis) -> String {
        let issued = now.as_millis();
        format!(
            "{DEVICE_COOKIE}=v1:{name}:{issued}:{}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
            self.device_tag(name, issued),
            DEVICE_LIFETIME_MILLIS / 1000
        )
    }

    /// Whether `cookie` (the device cookie's value) says this browser
    /// signed in as `name` within the last half year.
    fn known_device(&self, cookie: Option<&str>, name: &str, now: UtcMillis) -> bool {
        let Some(parts) = cookie.map(|c| c.split(':').collect::<Vec<_>>()) else {
            return false;
        };
        let ["v1", who, issued, tag] = parts[..] else {
            return false;
        };
        let Ok(issued) = issued.parse::<i64>() else {
            return false;
        };
        let age = now.as_millis() - issued;
        who == name
            && (-300_000..=DEVICE_LIFETIME_MILLIS).contains(&age)
            && constant_time_eq(self.device_tag(name, issued).as_bytes(), tag.as_bytes())
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// A new password's hash, in turn with every other hash on this node.
    pub async fn hash_new_password(&self, password: &str) -> Result<String, AuthError> {
        let turn = self.admission.hash_turn().await;
        let password = Zeroizing::new(password.to_owned());
        self.admission
            .threads
            .run(turn, move || hash_password(&password))
            .await
            .ok_or_else(|| AuthError::Unavailable("the hashing threads stopped".into()))?
    }

    /// Whether `password` matches `hash`, on a hashing thread that holds
    /// `permit` until it is done.
    async fn verify<P: Send + 'static>(&self, permit: P, hash: &str, password: &str) -> bool {
        let (hash, password) = (hash.to_owned(), Zeroizing::new(password.to_owned()));
        self.admission
            .threads
            .run(permit, move || password_matches(&hash, &password))
            .await
            .unwrap_or(false)
    }

    /// [`reset_password`], in turn with every other hash on this node.
    pub async fn reset_password(
        &self,
        name: &str,
        at: UtcMillis,
    ) -> Result<Zeroizing<String>, AuthError> {
        if self.catalog.user(name).await?.is_none() {
            return Err(AuthError::Invalid(format!(
                "no user `{}`",
                custos_audit::excerpt(name)
            )));
        }
        let password = random_password();
        let hash = self.hash_new_password(&password).await?;
        self.catalog
            .set_password(name, &hash, true, None, at)
            .await?;
        Ok(password)
    }

    /// [`new_user`] (which hashes its initial password), in turn with
    /// every other hash on this node and off the async runtime.
    pub async fn new_user(
        &self,
        name: &str,
        role: Role,
        officer_id: Option<String>,
        deployment: &str,
        now: UtcMillis,
    ) -> Result<(User, Enrollment), AuthError> {
        check_user_name(name)?;
        let turn = self.admission.hash_turn().await;
        let (name, deployment) = (name.to_owned(), deployment.to_owned());
        let recipient = self.keys.recipient.clone();
        self.admission
            .threads
            .run(turn, move || {
                new_user(&name, role, officer_id, &recipient, &deployment, now)
            })
            .await
            .ok_or_else(|| AuthError::Unavailable("the hashing threads stopped".into()))?
    }

    async fn record(&self, event: AuditEvent) -> Result<(), AuthError> {
        self.audit
            .record(event)
            .await
            .map(|_| ())
            .map_err(|e| AuthError::Unavailable(e.to_string()))
    }

    /// Password and TOTP code. Audited whatever the outcome.
    ///
    /// Cheapest refusals first: a source that must wait, or no hashing
    /// permit free, is answered at once without looking anything up; an
    /// account in back-off is answered without hashing; only then is a
    /// password hashed, on a hashing thread that keeps the permit until it
    /// is done. Each attempt counts as a failure of its source (and, in
    /// back-off, of its account) before it is looked at, and is forgiven
    /// if it succeeds: hanging up half-way spends the attempt all the same.
    ///
    /// `device` is the browser's device cookie: one this person signed in
    /// with before is not held up by others' failures at their account.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
        code: &str,
        source: &Source,
        device: Option<&str>,
    ) -> Result<SignedIn, AuthError> {
        let now = (self.clock)();
        let client = source.address();
        let anonymous = |detail: &str| {
            AuditEvent::new(now, "anonymous", "session.sign-in", Outcome::Refused)
                .client(&client)
                .detail(detail)
        };
        let record_anonymous = |detail: &'static str| async move {
            if self.refusal_audit.admit(source, now) {
                self.record(anonymous(detail)).await
            } else {
                Ok(())
            }
        };
        let permit = match self.admission.admit(source, now) {
            Ok(permit) => permit,
            Err(busy) => {
                let detail = match busy {
                    crate::admission::Busy::Source { .. } => "too many failures from this source",
                    crate::admission::Busy::Server => "no sign-in capacity free",
                };
                record_anonymous(detail).await?;
                return Err(AuthError::SlowDown {
                    retry_after_secs: busy.retry_after_secs(),
                });
            }
        };
        self.admission.failed(source, now);
        let user = match check_user_name(name) {
            Ok(()) => self.catalog.user(name).await?,
            Err(_) => None,
        };
        let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
            // Same work as for a real account (no hash for an over-long
            // password either way); the audit names no one (the "name" may
            // be a mistyped password).
            if password.len() <= MAX_PASSWORD_BYTES {
                let _ = self.verify(permit, &self.dummy_hash, password).await;
            }
            record_anonymous("unknown or disabled user").await?;
            return Err(AuthError::BadCredentials);
        };
        let refuse = |detail: &str| {
            AuditEvent::new(
                now,
                format!("user:{}", user.name),
                "session.sign-in",
                Outcome::Refused,
            )
            .object(format!("user:{}", user.name))
            .role(&user.role)
            .client(&client)
            .detail(detail)
        };
        // An account in back-off is not looked at until its wait is over;
        // then one attempt (of however many race) is, counted as a failure
        // until it succeeds, and holds off the rest for the wait a failure
        // would earn. A browser the person signed in with before skips it:
        // an attacker cannot keep them out by winning each slot.
        let mut claimed = false;
        if let Some(until) = user.locked_until {
            if !self.known_device(device, &user.name, now) {
                let hold = BACKOFF
                    .delay_millis(user.failed_attempts.saturating_add(1))
                    .unwrap_or(BACKOFF.first_millis);
                claimed = until <= now
                    && self
                        .catalog
                        .claim_sign_in_attempt(&user.name, now, now.plus_millis(hold))
                        .await?;
                if !claimed {
                    // Waiting out the person's own back-off is no failure
                    // of their address.
                    self.admission.forgive(source);
                    self.record(refuse("account in back-off after failed sign-ins"))
                        .await?;
                    let left = if until > now {
                        until.as_millis() - now.as_millis()
                    } else {
                        hold
                    };
                    return Err(AuthError::SlowDown {
                        retry_after_secs: (left as u64).div_ceil(1000).max(1),
                    });
                }
            }
        }
        let password_ok = password.len() <= MAX_PASSWORD_BYTES
            && self.verify(permit, &user.password_hash, password).await;
        let step = if password_ok {
            self.check_code(&user, code, now)?
        } else {
            None
        };
        // One code, one session: of parallel sign-ins with the same code,
        // the catalog lets one take its step.
        let accepted = match step {
            Some(step) => self.catalog.accept_sign_in(&user.name, step).await?,
            None => false,
        };
        if !accepted {
            let failures = if claimed {
                user.failed_attempts.saturating_add(1)
            } else {
                self.catalog
                    .count_failed_sign_in(&user.name, now, &BACKOFF)
                    .await?
                    .map_or(0, |(failures, _)| failures)
            };
            let detail = match (password_ok, BACKOFF.delay_millis(failures).is_some()) {
                (_, true) => "wrong credentials; account in back-off",
                (true, false) => "wrong or reused code",
                (false, false) => "wrong password",
            };
            self.record(refuse(detail)).await?;
            return Err(AuthError::BadCredentials);
        }
        self.admission.forgive(source);
        let role = Role::parse(&user.role).ok_or_else(|| {
            AuthError::Unavailable(format!("user {} has an unknown role", user.name))
        })?;
        let token = random_token();
        let csrf_token = random_token();
        let session = Session {
            token_sha256: token_hash(&token),
            user_name: user.name.clone(),
            csrf_token: csrf_token.to_string(),
            created_at: now,
            last_seen: now,
            ended_at: None,
        };
        self.record(
            AuditEvent::new(
                now,
                format!("user:{}", user.name),
                "session.sign-in",
                Outcome::Ok,
            )
            .object(format!("user:{}", user.name))
            .role(role.as_str())
            .client(&client),
        )
        .await?;
        self.catalog.add_session(&session).await?;
        Ok(SignedIn {
            device_cookie: self.device_cookie(&user.name, now),
            token,
            caller: Caller {
                name: user.name,
                role,
                officer_id: user.officer_id,
                session_sha256: session.token_sha256,
                csrf_token: session.csrf_token,
                must_change_password: user.password_must_change,
            },
        })
    }

    /// The TOTP step the code matches, if it is current (±1 step) and newer
    /// than the last accepted one.
    fn check_code(
        &self,
        user: &User,
        code: &str,
        now: UtcMillis,
    ) -> Result<Option<i64>, AuthError> {
        if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let secret = self
            .keys
            .evidence
            .unseal_secret(&user.totp_secret_sealed)
            .map_err(|e| AuthError::Unavailable(format!("TOTP secret: {e}")))?;
        let totp = totp(&secret)?;
        let now_step = now.as_millis() / 1000 / TOTP_STEP_SECONDS as i64;
        for step in [now_step - 1, now_step, now_step + 1] {
            if user.totp_last_step.is_some_and(|last| step <= last) || step < 0 {
                continue;
            }
            let expected = totp.generate(step as u64 * TOTP_STEP_SECONDS);
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) {
                return Ok(Some(step));
            }
        }
        Ok(None)
    }

    /// The caller behind a session token, if the session is live.
    pub async fn caller(&self, token: &str) -> Result<Caller, AuthError> {
        let now = (self.clock)();
        let hash = token_hash(token);
        let (session, user) = self
            .catalog
            .session_with_user(&hash)
            .await?
            .ok_or(AuthError::NoSession)?;
        if session.ended_at.is_some() {
            return Err(AuthError::NoSession);
        }
        let over = if now.as_millis() - session.created_at.as_millis() > ABSOLUTE_LIFETIME_MILLIS {
            Some("absolute lifetime")
        } else if now.as_millis() - session.last_seen.as_millis() > IDLE_TIMEOUT_MILLIS {
            Some("idle")
        } else {
            None
        };
        if let Some(why) = over {
            self.catalog.end_session(&hash, now).await?;
            self.record(
                AuditEvent::new(
                    now,
                    format!("user:{}", session.user_name),
                    "session.expire",
                    Outcome::Ok,
                )
                .detail(why),
            )
            .await?;
            return Err(AuthError::NoSession);
        }
        if user.disabled_at.is_some() {
            return Err(AuthError::NoSession);
        }
        let role = Role::parse(&user.role).ok_or(AuthError::NoSession)?;
        if now.as_millis() - session.last_seen.as_millis() >= TOUCH_GRANULARITY_MILLIS {
            self.catalog.touch_session(&hash, now).await?;
        }
        Ok(Caller {
            name: user.name,
            role,
            officer_id: user.officer_id,
            session_sha256: hash,
            csrf_token: session.csrf_token,
            must_change_password: user.password_must_change,
        })
    }

    /// Replaces the caller's password: the current one again, then a new
    /// one that passes [`check_new_password`]. A wrong current password
    /// counts toward the lockout like a failed sign-in; every other session
    /// of the person ends.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        new: &str,
        client: &str,
    ) -> Result<(), AuthError> {
        let now = (self.clock)();
        let event = |outcome, detail: &str| {
            let e = AuditEvent::new(now, caller.actor(), "user.password-change", outcome)
                .role(caller.role.as_str())
                .client(client)
                .object(format!("user:{}", caller.name));
            if detail.is_empty() {
                e
            } else {
                e.detail(detail)
            }
        };
        let user = self
            .catalog
            .user(&caller.name)
            .await?
            .ok_or(AuthError::NoSession)?;
        if let Some(until) = user.locked_until.filter(|u| *u > now) {
            self.record(event(
                Outcome::Refused,
                "account in back-off after failed sign-ins",
            ))
            .await?;
            let left = (until.as_millis() - now.as_millis()) as u64;
            return Err(AuthError::SlowDown {
                retry_after_secs: left.div_ceil(1000).max(1),
            });
        }
        let current_ok = current.len() <= MAX_PASSWORD_BYTES && {
            let turn = self.admission.hash_turn().await;
            self.verify(turn, &user.password_hash, current).await
        };
        if !current_ok {
            let (failures, _) = self
                .catalog
                .count_failed_sign_in(&user.name, now, &BACKOFF)
                .await?
                .unwrap_or((0, None));
            if BACKOFF.delay_millis(failures).is_some() {
                // Whoever holds this session is guessing: it ends.
                self.catalog
                    .end_session(&caller.session_sha256, now)
                    .await?;
            }
            self.record(event(Outcome::Refused, "wrong current password"))
                .await?;
            return Err(AuthError::BadCredentials);
        }
        if let Err(e) = check_new_password(&user.name, current, new) {
            self.record(event(Outcome::Refused, "new password too weak"))
                .await?;
            return Err(e);
        }
        let hash = self.hash_new_password(new).await?;
        self.record(event(Outcome::Ok, "")).await?;
        self.catalog
            .set_password(&user.name, &hash, false, Some(&caller.session_sha256), now)
            .await?;
        Ok(())
    }

    pub async fn sign_out(&self, caller: &Caller, client: &str) -> Result<(), AuthError> {
        let now = (self.clock)();
        self.record(
            AuditEvent::new(now, caller.actor(), "session.sign-out", Outcome::Ok)
                .object(caller.actor())
                .role(caller.role.as_str())
                .client(client),
        )
        .await?;
        self.catalog
            .end_session(&caller.session_sha256, now)
            .await?;
        Ok(())
    }
}

/// A forgotten password: a new random one that must be replaced at the next
/// sign-in; every session of the person ends, and a lockout is lifted.
/// Returns the new password (to hand over in person).
pub async fn reset_password(
    catalog: &(impl UserStore + ?Sized),
    name: &str,
    at: UtcMillis,
) -> Result<Zeroizing<String>, AuthError> {
    if catalog.user(name).await?.is_none() {
        return Err(AuthError::Invalid(format!(
            "no user `{}`",
            custos_audit::excerpt(name)
        )));
    }
    let password = random_password();
    let hash = hash_off_the_runtime(&password).await?;
    catalog.set_password(name, &hash, true, None, at).await?;
    Ok(password)
}

/// At least 12 characters (NIST SP 800-63B asks for 8; these people guard
/// footage), at most 256, not the old one, not containing the user name.
pub fn check_new_password(name: &str, old: &str, new: &str) -> Result<(), AuthError> {
    let length = new.chars().count();
    if length < 12 {
        return Err(AuthError::Invalid(
            "the new password must have at least 12 characters".into(),
        ));
    }
    if length > 256 {
        return Err(AuthError::Invalid(
            "the new password must have at most 256 characters".into(),
        ));
    }
    if new == old {
        return Err(AuthError::Invalid(
            "the new password must differ from the current one".into(),
        ));
    }
    if new.to_lowercase().contains(&name.to_lowercase()) {
        return Err(AuthError::Invalid(
            "the new password must not contain the user name".into(),
        ));
    }
    Ok(())
}

/// Argon2id costs tens of milliseconds of CPU: never on the async runtime.
async fn hash_off_the_runtime(password: &str) -> Result<String, AuthError> {
    let password = Zeroizing::new(password.to_owned());
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AuthError::Unavailable(e.to_string()))?
}

/// Argon2 memory above this (in 1 KiB blocks) is not allocated for a
/// stored hash: ours use 19,456; a hash asking for more is not ours.
const MAX_ARGON2_BLOCKS: usize = 256 * 1024;

thread_local! {
    /// This thread's Argon2 memory, kept between verifications: allocated
    /// and freed each time, 19 MiB a sign-in stayed in malloc's arenas.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` matches the PHC string `hash`, computed in this
/// thread's kept memory (wiped after).
fn password_matches(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        argon2::Algorithm::try_from(parsed.algorithm),
        argon2::Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; argon2::password_hash::Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_ARGON2_BLOCKS {
        return false;
    }
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    let computed = ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let result = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            &mut memory[..blocks],
        );
        memory[..blocks].fill(argon2::Block::default());
        result
    });
    computed.is_ok() && constant_time_eq(&out, expected.as_bytes())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verification in kept, reused memory agrees with the argon2 crate's
    /// own, for right and wrong passwords and for other parameters.
    #[test]
    fn verifying_in_kept_memory_agrees_with_argon2() {
        use argon2::password_hash::PasswordVerifier;
        let hashes = [
            hash_password("correct horse battery staple").unwrap(),
            hash_password("").unwrap(),
            Argon2::new(
                argon2::Algorithm::Argon2id,
                argon2::Version::V0x13,
                argon2::Params::new(64, 3, 2, Some(16)).unwrap(),
            )
            .hash_password(b"small one", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string(),
        ];
        for hash in &hashes {
            for password in ["correct horse battery staple", "", "small one", "wrong"] {
                let reference = Argon2::default()
                    .verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap())
                    .is_ok();
                // Twice: the second time in memory the first left behind.
                assert_eq!(
                    password_matches(hash, password),
                    reference,
                    "{hash} {password}"
                );
                assert_eq!(
                    password_matches(hash, password),
                    reference,
                    "{hash} {password}"
                );
            }
        }
        let too_big = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        for garbage in [
            "",
            "$argon2id$",
            "plain",
            too_big,
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        ] {
            assert!(!password_matches(garbage, "x"), "{garbage}");
        }
    }
}
