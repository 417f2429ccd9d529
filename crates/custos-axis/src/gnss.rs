//! A recording's GNSS trail (README "Location file format"):
//! `{"CoordinateEntries": [{"LocationWKT": "POINT(lon lat)",
//! "SecondsFromStart": 64.0, "Timestamp": "2022-08-23T11:48:10Z"}, …]}`.
//! `SecondsFromStart` counts from the recording's `StartTime` (pre-buffer
//! included), not from its trigger.

use custos_format::UtcMillis;
use serde::Deserialize;

use crate::AxisError;

/// The most points taken from one trail: a point a second for a day.
pub const MAX_POINTS: usize = 86_400;

/// One position of the camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    pub longitude: f64,
    pub latitude: f64,
    pub seconds_from_start: f64,
    pub at: UtcMillis,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Wire {
    coordinate_entries: Vec<WireEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireEntry {
    #[serde(rename = "LocationWKT")]
    location_wkt: String,
    seconds_from_start: f64,
    timestamp: String,
}

fn trail_error(n: usize, why: &str) -> AxisError {
    AxisError::Trail(format!("entry {n}: {why}"))
}

/// `POINT(x y)`: x is the longitude, y the latitude (WKT's order).
fn point(wkt: &str) -> Option<(f64, f64)> {
    let inner = wkt
        .trim()
        .strip_prefix("POINT")
        .or_else(|| wkt.trim().strip_prefix("Point"))?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let mut numbers = inner.split_whitespace().map(str::parse::<f64>);
    let longitude = numbers.next()?.ok()?;
    let latitude = numbers.next()?.ok()?;
    if numbers.next().is_some() {
        return None;
    }
    ((-180.0..=180.0).contains(&longitude) && (-90.0..=90.0).contains(&latitude))
        .then_some((longitude, latitude))
}

/// The trail's points, in the order given; any entry that is not a point
/// on Earth at a time refuses the whole trail (it is stored as it came
/// either way; this is what Custos reads from it).
pub fn parse(bytes: &[u8]) -> Result<Vec<TrackPoint>, AxisError> {
    // serde's message may quote a value (a coordinate): only where and
    // what kind of fault is said.
    let wire: Wire = serde_json::from_slice(bytes).map_err(|e| {
        AxisError::Trail(format!(
            "not the spec's JSON ({:?} fault at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if wire.coordinate_entries.len() > MAX_POINTS {
        return Err(AxisError::Trail(format!("more than {MAX_POINTS} entries")));
    }
    wire.coordinate_entries
        .iter()
        .enumerate()
        .map(|(n, e)| {
            let (longitude, latitude) = point(&e.location_wkt)
                .ok_or_else(|| trail_error(n, "LocationWKT is not POINT(lon lat) on Earth"))?;
            if !(e.seconds_from_start.is_finite() && e.seconds_from_start >= 0.0) {
                return Err(trail_error(n, "SecondsFromStart is not a time"));
            }
            let at = time::OffsetDateTime::parse(
                &e.timestamp,
                &time::format_description::well_known::Rfc3339,
            )
            .ok()
            .and_then(|t| UtcMillis::from_millis((t.unix_timestamp_nanos() / 1_000_000) as i64))
            .ok_or_else(|| trail_error(n, "Timestamp is not an RFC 3339 time"))?;
            Ok(TrackPoint {
                longitude,
                latitude,
                seconds_from_start: e.seconds_from_start,
                at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's example, as the README gives it.
    const EXAMPLE: &str = r#"{
  "CoordinateEntries": [
    {"LocationWKT": "POINT(13.221184 55.718409)", "SecondsFromStart": 64.0, "Timestamp": "2022-08-23T11:48:10Z"},
    {"LocationWKT": "POINT(13.220701 55.718702)", "SecondsFromStart": 82.0, "Timestamp": "2022-08-23T11:48:28Z"},
    {"LocationWKT": "POINT(13.221424 55.718778)", "SecondsFromStart": 92.0, "Timestamp": "2022-08-23T11:48:38Z"},
    {"LocationWKT": "POINT(13.221766 55.718877)", "SecondsFromStart": 102.0, "Timestamp": "2022-08-23T11:48:48Z"},
    {"LocationWKT": "POINT(13.221725 55.718951)", "SecondsFromStart": 113.0, "Timestamp": "2022-08-23T11:48:59Z"}
  ]
}"#;

    #[test]
    fn the_spec_s_example_trail_reads_as_longitude_latitude_and_time() {
        let points = parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(points.len(), 5);
        assert_eq!(points[0].longitude, 13.221184);
        assert_eq!(points[0].latitude, 55.718409);
        assert_eq!(points[0].seconds_from_start, 64.0);
        assert_eq!(points[4].at.to_string(), "2022-08-23T11:48:59.000Z");
    }

    #[test]
    fn a_trail_with_a_point_off_earth_or_garbage_is_refused_naming_the_entry() {
        let entry = |wkt: &str, s: &str, t: &str| {
            format!(
                r#"{{"CoordinateEntries":[{{"LocationWKT":"POINT(1 1)","SecondsFromStart":0,"Timestamp":"2022-08-23T11:48:10Z"}},{{"LocationWKT":"{wkt}","SecondsFromStart":{s},"Timestamp":"{t}"}}]}}"#
            )
        };
        let ok_time = "2022-08-23T11:48:10Z";
        for (body, why) in [
            (entry("POINT(181 0)", "1", ok_time), "entry 1: LocationWKT"),
            (entry("POINT(0 -91)", "1", ok_time), "entry 1: LocationWKT"),
            (entry("POINT(1 2 3)", "1", ok_time), "entry 1: LocationWKT"),
            (
                entry("LINESTRING(1 2, 3 4)", "1", ok_time),
                "entry 1: LocationWKT",
            ),
            (entry("POINT(NaN 1)", "1", ok_time), "entry 1: LocationWKT"),
            (
                entry("POINT(1 1)", "-1", ok_time),
                "entry 1: SecondsFromStart",
            ),
            (entry("POINT(1 1)", "1", "yesterday"), "entry 1: Timestamp"),
            ("{}".to_owned(), "not the spec's JSON"),
            ("[1,2".to_owned(), "not the spec's JSON"),
            ("\u{0}\u{1}".to_owned(), "not the spec's JSON"),
        ] {
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "gnss-trail");
            assert!(err.to_string().contains(why), "{body}: {err}");
        }
    }

    /// The reason goes to the audit log, which is never erased: a value
    /// of the trail (a coordinate, a time) is never in it.
    #[test]
    fn a_refusal_never_quotes_a_position() {
        for body in [
            r#"{"CoordinateEntries":[{"LocationWKT": 51.92221, "SecondsFromStart": 1.0, "Timestamp": "2022-08-23T11:48:10Z"}]}"#,
            r#"{"CoordinateEntries":[{"LocationWKT": "POINT(4.47901 51.92221)", "SecondsFromStart": "51.92221", "Timestamp": "2022-08-23T11:48:10Z"}]}"#,
            r#"{"CoordinateEntries": "POINT(4.47901 51.92221)"}"#,
            r#"{"CoordinateEntries":[{"LocationWKT": "POINT(4.47901 51.92221)", "SecondsFromStart": 1.0, "Timestamp": "2022-08-23T11:48:10Z", "Extra": 51.92221}], 51.92221"#,
        ] {
            let err = parse(body.as_bytes()).unwrap_err().to_string();
            assert!(
                !err.contains("51.92221") && !err.contains("4.47901"),
                "{err}"
            );
        }
    }
}
