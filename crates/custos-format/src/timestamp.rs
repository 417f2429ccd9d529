//! UTC instants with millisecond precision, written as
//! `YYYY-MM-DDTHH:MM:SS.mmmZ` — one spelling per instant, so canonical JSON
//! stays canonical.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{format_description::FormatItem, macros::format_description, OffsetDateTime};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Milliseconds since the Unix epoch, UTC. Years 1970..=9999 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcMillis(i64);

/// 9999-12-31T23:59:59.999Z
const MAX_MILLIS: i64 = 253_402_300_799_999;

impl UtcMillis {
    pub fn from_millis(ms: i64) -> Option<Self> {
        (0..=MAX_MILLIS).contains(&ms).then_some(Self(ms))
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        let ns = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Self((ns / 1_000_000) as i64)
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Self((self.0 + ms).clamp(0, MAX_MILLIS))
    }

    pub fn to_offset_date_time(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .expect("range checked at construction")
    }

    pub fn parse(s: &str) -> Option<Self> {
        let dt = time::PrimitiveDateTime::parse(s, FORMAT).ok()?.assume_utc();
        let ms = (dt.unix_timestamp_nanos() / 1_000_000) as i64;
        let parsed = Self::from_millis(ms)?;
        // Reject anything whose canonical spelling differs (e.g. leap seconds).
        (parsed.to_string() == s).then_some(parsed)
    }
}

impl fmt::Display for UtcMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self
            .to_offset_date_time()
            .format(FORMAT)
            .map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl Serialize for UtcMillis {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcMillis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        UtcMillis::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{s}` is not a UTC timestamp YYYY-MM-DDTHH:MM:SS.mmmZ"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_strict() {
        let t = UtcMillis::from_millis(1_763_900_000_123).unwrap();
        assert_eq!(t.to_string(), "2025-11-23T12:13:20.123Z");
        assert_eq!(UtcMillis::parse("2025-11-23T12:13:20.123Z"), Some(t));
        for bad in [
            "2025-11-23T12:13:20Z",
            "2025-11-23T12:13:20.123+00:00",
            "2025-11-23 12:13:20.123Z",
            "2025-11-23T12:13:20.1234Z",
            "2025-13-23T12:13:20.123Z",
            "",
            "garbage",
        ] {
            assert_eq!(UtcMillis::parse(bad), None, "{bad}");
        }
        assert_eq!(UtcMillis::from_millis(-1), None);
        assert_eq!(UtcMillis::from_millis(MAX_MILLIS + 1), None);
    }
}
