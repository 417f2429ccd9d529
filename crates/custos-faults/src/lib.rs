//! Crash points for tests of invariant 7 ("nothing is lost"): with
//! `CUSTOS_CRASH_AT=N` set, the process aborts — no destructors, no flushing,
//! like `kill -9` or a power cut — when it passes its N-th crash point.
//! `CUSTOS_CRASH_FILTER=prefix` counts only points whose name starts with it.
//! Without the variable a crash point costs one relaxed atomic load.
//!
//! `CUSTOS_FULL_DISK=prefix` makes every storage point whose name starts
//! with it fail as a full disk would ([`disk_full`]), where a test cannot
//! fill a real one.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

struct Plan {
    at: u64,
    filter: String,
}

static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
static PASSED: AtomicU64 = AtomicU64::new(0);

fn plan() -> &'static Option<Plan> {
    PLAN.get_or_init(|| {
        let at = std::env::var("CUSTOS_CRASH_AT").ok()?.parse().ok()?;
        Some(Plan {
            at,
            filter: std::env::var("CUSTOS_CRASH_FILTER").unwrap_or_default(),
        })
    })
}

/// Marks a point where a crash must leave everything recoverable.
pub fn crash_point(name: &str) {
    let Some(plan) = plan() else { return };
    if !name.starts_with(&plan.filter) {
        return;
    }
    if PASSED.fetch_add(1, Ordering::Relaxed) + 1 == plan.at {
        eprintln!(
            "custos-faults: crashing at `{name}` (crash point {})",
            plan.at
        );
        std::process::abort();
    }
}

static FULL_DISK: OnceLock<Option<String>> = OnceLock::new();

/// Whether the storage point `name` is to fail as if its disk were full
/// (`CUSTOS_FULL_DISK`, a prefix of point names).
pub fn disk_full(name: &str) -> bool {
    FULL_DISK
        .get_or_init(|| std::env::var("CUSTOS_FULL_DISK").ok())
        .as_deref()
        .is_some_and(|prefix| name.starts_with(prefix))
}
