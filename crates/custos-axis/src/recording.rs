//! What a recording container's and a clip's metadata say, read into typed
//! facts and checked against the container's name and against time: the
//! README's cases for `400` ("the timestamp is out of bounds, the clip has
//! no duration") are refused here, before a byte is stored.

use custos_format::UtcMillis;

use crate::metadata::Metadata;
use crate::names::{ClipType, RecordingName};
use crate::AxisError;

/// The longest recording or clip taken.
pub const MAX_DURATION_MS: i64 = 24 * 3_600_000;
/// 2000-01-01: nothing earlier is a body-worn recording.
const EARLIEST_MS: i64 = 946_684_800_000;
/// How far past the server's clock a camera's may run.
const CLOCK_SLACK_MS: i64 = 24 * 3_600_000;

/// A recording, as its container's metadata describes it at `Complete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFacts {
    pub serial: String,
    pub user: uuid::Uuid,
    /// Pre-buffer included.
    pub start: UtcMillis,
    pub stop: UtcMillis,
    pub trigger_on: UtcMillis,
    pub trigger_off: Option<UtcMillis>,
    pub trigger_on_reason: Option<String>,
    pub trigger_off_reason: Option<String>,
    pub trigger_on_location: Option<String>,
    pub trigger_off_location: Option<String>,
    pub firmware: Option<String>,
    pub model: Option<String>,
    pub controller: Option<String>,
    pub time_zone: Option<String>,
}

/// One clip, as its object's metadata describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipFacts {
    pub start: UtcMillis,
    pub stop: UtcMillis,
}

fn facts_error(key: &str, why: impl Into<String>) -> AxisError {
    AxisError::metadata(key, why)
}

fn required(meta: &Metadata, key: &str) -> Result<UtcMillis, AxisError> {
    meta.instant(key)?
        .ok_or_else(|| facts_error(key, "is missing"))
}

/// `start..stop` is a span of this world: after 2000, not far past `now`,
/// not empty and at most a day.
fn span(key: &str, start: UtcMillis, stop: UtcMillis, now: UtcMillis) -> Result<(), AxisError> {
    if start.as_millis() < EARLIEST_MS || stop.as_millis() > now.as_millis() + CLOCK_SLACK_MS {
        return Err(facts_error(key, "is out of bounds"));
    }
    let duration = stop.as_millis() - start.as_millis();
    if duration <= 0 {
        return Err(facts_error(key, "has no duration"));
    }
    if duration > MAX_DURATION_MS {
        return Err(facts_error(key, "is longer than a day"));
    }
    Ok(())
}

impl RecordingFacts {
    /// The facts of the recording named `name`, from its container's
    /// metadata, checked at the server's time `now`.
    pub fn read(
        name: &RecordingName,
        meta: &Metadata,
        now: UtcMillis,
    ) -> Result<RecordingFacts, AxisError> {
        if let Some(serial) = meta.get("BWCSerialNumber") {
            if serial != name.serial {
                return Err(facts_error(
                    "BWCSerialNumber",
                    "is not the camera the container's name gives",
                ));
            }
        }
        if let Some(user) = meta.get("UserID") {
            if !user.eq_ignore_ascii_case(&name.user.to_string()) {
                return Err(facts_error(
                    "UserID",
                    "is not the user the container's name gives",
                ));
            }
        }
        let trigger_on = match meta.instant("TriggerOnTime")? {
            // The name keeps whole seconds only.
            Some(t) if t.as_millis() / 1000 != name.trigger_on.as_millis() / 1000 => {
                return Err(facts_error(
                    "TriggerOnTime",
                    "is not the time the container's name gives",
                ))
            }
            Some(t) => t,
            None => name.trigger_on,
        };
        let start = required(meta, "StartTime")?;
        let stop = required(meta, "StopTime")?;
        span("StartTime", start, stop, now)?;
        if trigger_on < start.plus_millis(-1000) || trigger_on > stop {
            return Err(facts_error(
                "TriggerOnTime",
                "is outside the recording's start and stop",
            ));
        }
        let text = |key: &str| meta.get(key).map(str::to_owned);
        Ok(RecordingFacts {
            serial: name.serial.clone(),
            user: name.user,
            start,
            stop,
            trigger_on,
            trigger_off: meta.instant("TriggerOffTime")?,
            trigger_on_reason: text("TriggerOn"),
            trigger_off_reason: text("TriggerOff"),
            trigger_on_location: text("TriggerOnLocation"),
            trigger_off_location: text("TriggerOffLocation"),
            firmware: text("FirmwareVersion"),
            model: text("BWCModel"),
            controller: text("SCUSerialNumber"),
            time_zone: text("TimeZone"),
        })
    }
}

impl ClipFacts {
    /// A clip's facts; its `ContainerType`, where given, must be its
    /// name's extension.
    pub fn read(kind: ClipType, meta: &Metadata, now: UtcMillis) -> Result<ClipFacts, AxisError> {
        if let Some(given) = meta.get("ContainerType") {
            if !given.eq_ignore_ascii_case(kind.extension()) {
                return Err(facts_error("ContainerType", "is not the clip's extension"));
            }
        }
        let start = required(meta, "StartTime")?;
        let stop = required(meta, "StopTime")?;
        span("StartTime", start, stop, now)?;
        Ok(ClipFacts { start, stop })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Carrier;
    use crate::names::Container;

    const NAME: &str = "5a1c8e9e-0c1d-4a6e-9b55-0d2f3b1c7a10_ACCC8E_20220823T114710Z";

    fn name() -> RecordingName {
        match Container::parse(NAME).unwrap() {
            Container::Recording(r) => r,
            _ => unreachable!(),
        }
    }

    fn now() -> UtcMillis {
        UtcMillis::parse("2022-08-24T00:00:00.000Z").unwrap()
    }

    fn meta(carrier: Carrier, pairs: &[(&str, &str)]) -> Metadata {
        let prefix = match carrier {
            Carrier::Container => "X-Container-Meta-",
            Carrier::Object => "X-Object-Meta-",
        };
        let headers: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (format!("{prefix}{k}"), v.to_string()))
            .collect();
        Metadata::from_headers(
            carrier,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
        )
        .unwrap()
    }

    fn complete() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Containername", NAME),
            ("Bwcserialnumber", "ACCC8E"),
            ("Userid", "5A1C8E9E-0C1D-4A6E-9B55-0D2F3B1C7A10"),
            ("Triggeron", "Button"),
            ("Triggerontime", "1661255230"),
            ("Triggerontimeiso", "2022-08-23T11:47:10Z"),
            ("Triggerofftime", "1661255349"),
            ("Starttime", "1661255200"),
            ("Stoptime", "1661255350"),
            ("Firmwareversion", "11.2.3"),
            ("Timezone", "Europe%2FStockholm"),
            ("Status", "Complete"),
        ]
    }

    #[test]
    fn a_complete_recording_reads_into_facts() {
        let facts =
            RecordingFacts::read(&name(), &meta(Carrier::Container, &complete()), now()).unwrap();
        assert_eq!(facts.serial, "ACCC8E");
        assert_eq!(facts.start.to_string(), "2022-08-23T11:46:40.000Z");
        assert_eq!(facts.stop.to_string(), "2022-08-23T11:49:10.000Z");
        assert_eq!(facts.trigger_on.to_string(), "2022-08-23T11:47:10.000Z");
        assert_eq!(facts.trigger_on_reason.as_deref(), Some("Button"));
        assert_eq!(facts.time_zone.as_deref(), Some("Europe/Stockholm"));
        assert!(facts.trigger_off.is_some());
    }

    #[test]
    fn facts_that_contradict_the_name_or_time_are_refused() {
        for (key, value, why) in [
            ("Bwcserialnumber", "OTHER1", "not the camera"),
            (
                "Userid",
                "00000000-0000-0000-0000-000000000000",
                "not the user",
            ),
            ("Triggerontime", "1661255240", "TriggerOnTimeISO says"),
            ("Stoptime", "1661255200", "no duration"),
            ("Stoptime", "1661355200", "longer than a day"),
            ("Starttime", "100", "out of bounds"),
            ("Stoptime", "4102444800", "out of bounds"),
            ("Starttime", "1661255235", "outside the recording"),
            ("Starttime", "soon", "epoch"),
        ] {
            let mut pairs = complete();
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            let err = RecordingFacts::read(&name(), &meta(Carrier::Container, &pairs), now())
                .unwrap_err();
            assert!(err.to_string().contains(why), "{key}={value}: {err}");
        }
        let mut pairs = complete();
        pairs.retain(|(k, _)| *k != "Stoptime");
        let err =
            RecordingFacts::read(&name(), &meta(Carrier::Container, &pairs), now()).unwrap_err();
        assert_eq!(err.to_string(), "metadata `StopTime`: is missing");
    }

    #[test]
    fn a_clip_needs_its_times_and_its_own_type() {
        let ok = [
            ("Starttime", "1661255200"),
            ("Stoptime", "1661255260"),
            ("Containertype", "mp4"),
        ];
        let clip = ClipFacts::read(ClipType::Mp4, &meta(Carrier::Object, &ok), now()).unwrap();
        assert_eq!(clip.stop.as_millis() - clip.start.as_millis(), 60_000);
        let err = ClipFacts::read(ClipType::Mkv, &meta(Carrier::Object, &ok), now()).unwrap_err();
        assert!(err.to_string().contains("extension"));
        let no_times = meta(Carrier::Object, &[("Containertype", "mp4")]);
        assert!(ClipFacts::read(ClipType::Mp4, &no_times, now()).is_err());
    }
}
