//! Refused dock credentials, counted in memory and written as incidents
//! once a second: one row per source, reason and hour with its count. A
//! write per refusal made every refusal an SQLite write transaction of its
//! own, queued before the audit writer's batches — a flood of bad dock
//! credentials slowed every audited request (issue 19's benchmark). Each
//! refusal is still in the audit log, durably, before it is answered; a
//! crash loses at most the last second of the incidents' counts.

use std::collections::HashMap;
use std::sync::Mutex;

use custos_catalog::stores::IncidentStore;
use custos_catalog::{IncidentKind, NewIncident};
use custos_format::UtcMillis;

/// Refused dock credentials from one source are one incident per hour.
pub const WINDOW_MILLIS: i64 = 3_600_000;
/// Groups held before a write is forced, whatever the second.
const MAX_GROUPS: usize = 4096;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Group {
    source: String,
    reason: &'static str,
    window_start: i64,
}

struct Tally {
    /// The dock id (an excerpt) first given from this source.
    dock: String,
    first: UtcMillis,
    last: UtcMillis,
    count: u64,
}

#[derive(Default)]
pub struct RefusalCounter {
    groups: Mutex<HashMap<Group, Tally>>,
}

impl RefusalCounter {
    /// Counts one refusal. The first of its group since the last write is
    /// written at once (a revoked dock knocking is seen now, not in a
    /// second); the rest of the second's are added up and written by
    /// [`Self::flush`] — or now, if too many groups wait.
    pub async fn count(
        &self,
        catalog: &(impl IncidentStore + ?Sized),
        source: String,
        reason: &'static str,
        dock: String,
        at: UtcMillis,
    ) {
        let window_start = at.as_millis() - at.as_millis().rem_euclid(WINDOW_MILLIS);
        let group = Group {
            source,
            reason,
            window_start,
        };
        let (first, full) = {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            let first = match groups.get_mut(&group) {
                Some(tally) => {
                    tally.count += 1;
                    tally.first = tally.first.min(at);
                    tally.last = tally.last.max(at);
                    false
                }
                None => {
                    groups.insert(
                        group.clone(),
                        Tally {
                            dock: dock.clone(),
                            first: at,
                            last: at,
                            count: 0,
                        },
                    );
                    true
                }
            };
            (first, groups.len() >= MAX_GROUPS)
        };
        if first {
            let tally = Tally {
                dock,
                first: at,
                last: at,
                count: 1,
            };
            self.write(catalog, group, tally).await;
        }
        if full {
            self.flush(catalog).await;
        }
    }

    async fn write(&self, catalog: &(impl IncidentStore + ?Sized), group: Group, tally: Tally) {
        let incident = NewIncident {
            kind: IncidentKind::UnknownOrRevoked,
            device_id: None,
            dock_id: Some(tally.dock.clone()),
            sequence: None,
            recording_id: None,
            detail: group.reason.into(),
        };
        let window = UtcMillis::from_millis(group.window_start).unwrap_or(tally.first);
        if let Err(e) = catalog
            .count_refused_credential(
                &incident,
                &group.source,
                window,
                (tally.first, tally.last),
                tally.count,
            )
            .await
        {
            tracing::error!(error = %e, "could not write refused dock credentials; kept for the next try");
            let count = tally.count;
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            let kept = groups.entry(group).or_insert(Tally { count: 0, ..tally });
            kept.count += count;
        }
    }

    /// Writes what was counted since the last write.
    pub async fn flush(&self, catalog: &(impl IncidentStore + ?Sized)) {
        let taken: Vec<(Group, Tally)> = {
            let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            groups.drain().filter(|(_, t)| t.count > 0).collect()
        };
        for (group, tally) in taken {
            self.write(catalog, group, tally).await;
        }
    }
}
