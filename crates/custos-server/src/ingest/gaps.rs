//! Gaps in a camera's signed chain, and recordings a dock set aside on the
//! camera: one incident per fact, counted.

use super::*;

impl Ingest {
    /// A dock set `signed`'s recording aside on the camera (its copy there
    /// is damaged, unreadable or does not match its receipt): one incident
    /// per recording, however often it is reported.
    /// Unlike the incidents ingest records on its way, the report's answer
    /// says whether it was recorded: a failure here is the dock's to hear.
    pub async fn report_set_aside(
        &self,
        dock: &str,
        signed: &SignedManifest,
        detail: &str,
    ) -> Result<(), IngestError> {
        let m = signed.manifest();
        let at = (self.clock)();
        let event = AuditEvent::new(at, format!("dock:{dock}"), "dock.set-aside", Outcome::Ok)
            .object(format!("recording:{}", m.recording_id))
            .detail(detail.split(':').next().unwrap_or(""));
        self.audit.record(event).await.map_err(|e| match e {
            crate::audit::AuditError::Full(_) => IngestError::StorageFull,
            e => IngestError::Unavailable(e.to_string()),
        })?;
        let incident = NewIncident {
            kind: IncidentKind::SetAsideOnCamera,
            device_id: Some(m.device_id.clone()),
            dock_id: Some(dock.to_owned()),
            sequence: Some(m.sequence),
            recording_id: Some(m.recording_id),
            detail: detail.to_owned(),
        };
        self.catalog.sight_incident(&incident, at).await?;
        tracing::warn!("recording set aside on the camera");
        // Its signed manifest says how far the camera got, as an offer's does.
        self.gap_seen(dock, signed).await
    }

    /// Records a gap when `signed` (validly signed by its enrolled camera)
    /// comes after sequence numbers the server has never stored: each named
    /// missing, or refused (with why) where an incident says the recording
    /// was offered and refused, or not at all where it was deleted. One
    /// incident per arriving recording, however often it is offered. Only
    /// refused numbers are no gap.
    pub(super) async fn gap_seen(
        &self,
        dock: &str,
        signed: &SignedManifest,
    ) -> Result<(), IngestError> {
        let m = signed.manifest();
        let head = self
            .catalog
            .chain_head(&m.device_id)
            .await?
            .map_or(0, |h| h.sequence);
        if m.sequence <= head + 1 {
            return Ok(());
        }
        let (mut missing, mut refused, mut set_aside) = (Vec::new(), Vec::new(), Vec::new());
        let last = m.sequence - 1;
        // A camera's key could sign any number: at most this many are
        // looked at one by one, the rest are named as a range.
        let first = head + 1;
        let looked = last.min(first.saturating_add(MAX_GAP_LOOKUPS - 1));
        for s in first..=looked {
            if self
                .catalog
                .recording_by_sequence(&m.device_id, s)
                .await?
                .is_some()
                || self
                    .catalog
                    .tombstone_by_sequence(&m.device_id, s)
                    .await?
                    .is_some()
            {
                continue;
            }
            let known = self
                .catalog
                .incidents_for_recording(Uuid::nil(), &m.device_id, s, 20)
                .await?;
            let about = |i: &&custos_catalog::Incident| i.sequence == Some(s);
            if let Some(i) = known.iter().filter(about).find(|i| i.kind.is_refusal()) {
                refused.push(format!("{s} ({})", i.kind.as_str()));
            } else if known
                .iter()
                .filter(about)
                .any(|i| i.kind == IncidentKind::SetAsideOnCamera)
            {
                set_aside.push(s);
            } else {
                missing.push(s);
            }
        }
        // Refused numbers alone are no gap: the server saw them, and each
        // has its incident. Anything else not stored is, named for what it
        // is: a dock's word that it set a recording aside does not make its
        // absence less of a gap.
        let unlooked = (looked < last).then(|| looked + 1);
        let Some(from) = [missing.first(), set_aside.first(), unlooked.as_ref()]
            .into_iter()
            .flatten()
            .min()
            .copied()
        else {
            return Ok(());
        };
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", runs(&missing).join(", ")));
        }
        if !set_aside.is_empty() {
            parts.push(format!(
                "set aside on the camera {}",
                runs(&set_aside).join(", ")
            ));
        }
        if !refused.is_empty() {
            parts.push(format!("refused {}", refused.join(", ")));
        }
        if let Some(first) = unlooked {
            parts.push(format!("{first}..={last} not looked at"));
        }
        parts.push(format!("before {}", m.sequence));
        let text = parts.join("; ");
        // About the first number not stored, so the same gap seen again from
        // a later recording is the same incident, counted.
        let gap = NewIncident {
            kind: IncidentKind::Gap,
            device_id: Some(m.device_id.clone()),
            dock_id: Some(dock.to_owned()),
            sequence: Some(from),
            recording_id: None,
            detail: text,
        };
        self.record_incident(dock, gap).await;
        Ok(())
    }
}

/// How many sequence numbers of one gap are looked up one by one.
const MAX_GAP_LOOKUPS: u64 = 1000;

/// `[2, 3, 4, 7]` as `["2..=4", "7"]`.
fn runs(numbers: &[u64]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end + 1 {
            i += 1;
            end = numbers[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}..={end}")
        });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_named_as_runs() {
        assert_eq!(super::runs(&[]), Vec::<String>::new());
        assert_eq!(super::runs(&[5]), ["5"]);
        assert_eq!(super::runs(&[2, 3, 4, 7, 9, 10]), ["2..=4", "7", "9..=10"]);
    }
}
