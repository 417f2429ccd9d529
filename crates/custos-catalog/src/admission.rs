//! What keeps sign-ins and refused credentials from being used against
//! others, as single SQL statements both catalogs run verbatim (`$N`
//! placeholders, which SQLite takes too): a count read before a check and
//! written after it loses the attempts made in between, one statement
//! does not.

use std::sync::OnceLock;

/// How a run of failed sign-ins slows the next attempt at an account.
///
/// The first `free_failures − 1` failures cost nothing; from the
/// `free_failures`-th on, the next attempt is looked at only after a wait
/// that doubles from `first_millis` up to `max_millis`. There is no lock
/// that only an administrator lifts: however long someone else guesses,
/// the person gets an attempt at least every `max_millis`, and their own
/// successful sign-in (password and a fresh code) clears the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInBackoff {
    pub free_failures: u32,
    pub first_millis: i64,
    pub max_millis: i64,
}

impl SignInBackoff {
    pub const DEFAULT: Self = Self {
        free_failures: 5,
        first_millis: 15_000,
        max_millis: 300_000,
    };

    /// The wait after the `failures`-th consecutive failure.
    pub fn delay_millis(&self, failures: u32) -> Option<i64> {
        let over = failures.checked_sub(self.free_failures)?;
        let delay = self
            .first_millis
            .checked_shl(over.min(62))
            .filter(|d| *d > 0)
            .unwrap_or(self.max_millis);
        Some(delay.min(self.max_millis))
    }

    /// `UPDATE users`: one more failure for `$1` at `$2`, the wait after it
    /// in `locked_until`; returns both.
    pub fn failure_sql(&self) -> String {
        let mut ladder = format!(
            "CASE WHEN failed_attempts + 1 < {} THEN NULL",
            self.free_failures
        );
        let mut failures = self.free_failures;
        while let Some(delay) = self.delay_millis(failures) {
            if delay >= self.max_millis {
                break;
            }
            ladder.push_str(&format!(
                " WHEN failed_attempts + 1 = {failures} THEN $2 + {delay}"
            ));
            failures += 1;
        }
        ladder.push_str(&format!(" ELSE $2 + {} END", self.max_millis));
        format!(
            "UPDATE users SET failed_attempts = failed_attempts + 1, locked_until = {ladder} \
             WHERE name = $1 RETURNING failed_attempts, locked_until"
        )
    }

    /// [`Self::failure_sql`] for [`Self::DEFAULT`], made once.
    pub fn default_failure_sql() -> &'static str {
        static SQL: OnceLock<String> = OnceLock::new();
        SQL.get_or_init(|| Self::DEFAULT.failure_sql())
    }
}

/// Takes the one attempt an account in back-off may have once its wait
/// (`locked_until`) is over, and counts it as a failure until it succeeds
/// (a client that hangs up half-way has still spent it): `$1` name, `$2`
/// now, `$3` the next hold.
pub const CLAIM_ATTEMPT_SQL: &str = "UPDATE users SET locked_until = $3, \
     failed_attempts = failed_attempts + 1 \
     WHERE name = $1 AND locked_until IS NOT NULL AND locked_until <= $2";

/// A sign-in with TOTP step `$2` for `$1`, if no sign-in used that step or a
/// later one.
pub const ACCEPT_SIGN_IN_SQL: &str = "UPDATE users SET totp_last_step = $2, \
     failed_attempts = 0, locked_until = NULL \
     WHERE name = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)";

/// Refused credentials counted into their source's incident for the window
/// (`$1` first seen, `$2` kind, `$3` device, `$4` dock, `$5` detail, `$6`
/// source, `$7` window start, `$8` how many, `$9` last seen); returns the
/// incident's id.
pub const COUNT_REFUSED_CREDENTIAL_SQL: &str = "INSERT INTO incidents \
     (at, kind, device_id, dock_id, sequence, recording_id, detail, source, window_start, occurrences, last_at) \
     VALUES ($1, $2, $3, $4, NULL, NULL, $5, $6, $7, $8, $9) \
     ON CONFLICT (kind, source, window_start, detail) WHERE window_start IS NOT NULL \
     DO UPDATE SET occurrences = incidents.occurrences + excluded.occurrences, \
     last_at = CASE WHEN excluded.last_at > incidents.last_at THEN excluded.last_at ELSE incidents.last_at END \
     RETURNING id";

/// One more sighting of a fact about one camera's recording: counted into
/// the first incident of kind `$1` about camera `$2`'s sequence number `$3`
/// (not a group of refused credentials), last seen at `$4`, saying what the
/// latest sighting says (`$5`: a gap grown since, a copy now not matching
/// its receipt); returns its id, or nothing when there is none yet.
pub const SIGHT_INCIDENT_SQL: &str = "UPDATE incidents SET occurrences = occurrences + 1, \
     last_at = $4, detail = $5 \
     WHERE id = (SELECT MIN(id) FROM incidents WHERE kind = $1 AND device_id = $2 \
     AND sequence = $3 AND window_start IS NULL) \
     RETURNING id";

/// A new incident, at `$1`, of kind `$2`, camera `$3`, dock `$4`, sequence
/// number `$5`, recording `$6`, saying `$7`; returns its id.
pub const INSERT_INCIDENT_SQL: &str = "INSERT INTO incidents \
     (at, kind, device_id, dock_id, sequence, recording_id, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

/// One more sighting of a fact a dock reported about no recording the
/// server can name (a manifest that does not parse): counted into the first
/// such incident of kind `$1` from dock `$2` saying exactly `$3` (whose
/// detail names the offered bytes by their hash), last seen at `$4`;
/// returns its id, or nothing when there is none yet.
pub const SIGHT_UNNAMED_INCIDENT_SQL: &str = "UPDATE incidents SET occurrences = occurrences + 1, \
     last_at = $4 \
     WHERE id = (SELECT MIN(id) FROM incidents WHERE kind = $1 AND device_id IS NULL \
     AND sequence IS NULL AND recording_id IS NULL AND dock_id = $2 AND detail = $3 \
     AND window_start IS NULL) \
     RETURNING id";

/// Incidents after id `$1`, oldest first, at most `$2`.
pub const INCIDENTS_PAGE_SQL: &str = "SELECT * FROM incidents WHERE id > $1 ORDER BY id LIMIT $2";

/// Incidents newest first, of kind `$1` (if not NULL) and camera `$2` (if
/// not NULL), with ids below `$3`; at most `$4`.
pub const SEARCH_INCIDENTS_SQL: &str = "SELECT * FROM incidents \
     WHERE (CAST($1 AS TEXT) IS NULL OR kind = $1) AND (CAST($2 AS TEXT) IS NULL OR device_id = $2) \
     AND id < $3 ORDER BY id DESC LIMIT $4";

/// Incidents naming recording `$1`, or camera `$2`'s sequence number `$3`;
/// at most `$4`.
pub const INCIDENTS_FOR_RECORDING_SQL: &str = "SELECT * FROM incidents \
     WHERE recording_id = $1 OR (device_id = $2 AND sequence = $3) ORDER BY id LIMIT $4";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_to_its_ceiling_and_never_overflows() {
        let b = SignInBackoff::DEFAULT;
        let waits: Vec<_> = (0..12).map(|n| b.delay_millis(n)).collect();
        assert_eq!(
            waits,
            [
                None,
                None,
                None,
                None,
                None,
                Some(15_000),
                Some(30_000),
                Some(60_000),
                Some(120_000),
                Some(240_000),
                Some(300_000),
                Some(300_000)
            ]
        );
        assert_eq!(b.delay_millis(u32::MAX), Some(300_000));
        let sql = b.failure_sql();
        assert!(sql.contains("WHEN failed_attempts + 1 = 9 THEN $2 + 240000"));
        assert!(sql.contains("ELSE $2 + 300000 END"));
        assert!(!sql.contains("= 10 THEN"));
    }
}
