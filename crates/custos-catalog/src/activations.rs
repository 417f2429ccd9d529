//! Accounts that can see footage reach their person by a one-time
//! activation link, after a second person approved them (issue 20): the
//! statements, written once for both catalogs (`$N` placeholders, which
//! SQLite takes too). Each state change is one conditional `UPDATE`, so a
//! request is approved, refused or used once, whoever races.

pub const INSERT_SQL: &str = "INSERT INTO account_activations \
    (activation_id, user_name, kind, role, officer_id, requested_by, requested_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub const BY_ID_SQL: &str = "SELECT * FROM account_activations WHERE activation_id = $1";

pub const BY_TOKEN_SQL: &str = "SELECT * FROM account_activations WHERE token_sha256 = $1";

/// The newest first: what the privacy officer decides on and has decided.
pub const LIST_SQL: &str = "SELECT * FROM account_activations \
    ORDER BY requested_at DESC, activation_id DESC LIMIT 200";

/// Requests for a name still open at `$2`: not refused, not used, and
/// not approved so long ago that the link expired.
pub const OPEN_FOR_NAME_SQL: &str = "SELECT COUNT(*) FROM account_activations \
    WHERE user_name = $1 AND rejected_at IS NULL AND activated_at IS NULL \
    AND (expires_at IS NULL OR expires_at > $2)";

pub const APPROVE_SQL: &str = "UPDATE account_activations \
    SET approved_by = $2, approved_at = $3, token_sha256 = $4, expires_at = $5 \
    WHERE activation_id = $1 AND approved_at IS NULL AND rejected_at IS NULL";

pub const REJECT_SQL: &str = "UPDATE account_activations \
    SET rejected_by = $2, rejected_at = $3 \
    WHERE activation_id = $1 AND approved_at IS NULL AND rejected_at IS NULL";

/// The link is used: it can never be used again (its hash is forgotten).
pub const FINISH_SQL: &str = "UPDATE account_activations \
    SET activated_at = $2, token_sha256 = NULL \
    WHERE activation_id = $1 AND approved_at IS NOT NULL AND activated_at IS NULL \
    AND expires_at > $2";
