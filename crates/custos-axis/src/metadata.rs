//! Metadata, as the system controller sends it: `X-Container-Meta-<Key>`
//! and `X-Object-Meta-<Key>` headers whose values are percent-encoded
//! UTF-8 (README "Clip metadata details"). Keys are written with only the
//! first letter and each letter after a hyphen upper case
//! (`X-Object-Meta-Starttime` carries `StartTime`), so keys compare without
//! case; they are kept lower case here.
//!
//! Limits: the spec's own where it gives one (`String[64]`, `String[100]`),
//! Swift's otherwise (a key of at most 128 bytes, a value of at most 256,
//! at most 90 keys and 4,096 bytes of keys and values in all).

use std::collections::BTreeMap;

use custos_format::UtcMillis;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::AxisError;

pub const MAX_KEY: usize = 128;
pub const MAX_VALUE: usize = 256;
pub const MAX_ITEMS: usize = 90;
pub const MAX_TOTAL: usize = 4096;

/// Keys the spec bounds more tightly than Swift does, in bytes.
const BOUNDED: &[(&str, usize)] = &[
    ("triggeronlocation", 64),
    ("triggerofflocation", 64),
    ("startlocation", 64),
    ("stoplocation", 64),
    ("connectionid", 100),
    ("systemname", 100),
    ("name", 100),
    ("userid", 100),
];

/// What the metadata rides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Container,
    Object,
}

impl Carrier {
    fn prefix(self) -> &'static str {
        match self {
            Carrier::Container => "x-container-meta-",
            Carrier::Object => "x-object-meta-",
        }
    }
}

/// Unreserved characters stay as they are in an answer's header.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One container's or object's metadata: lower-case key → decoded value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    items: BTreeMap<String, String>,
}

/// `key` as its header is written: `starttime` → `X-Object-Meta-Starttime`.
pub fn header_name(carrier: Carrier, key: &str) -> String {
    let mut out = match carrier {
        Carrier::Container => "X-Container-Meta-".to_owned(),
        Carrier::Object => "X-Object-Meta-".to_owned(),
    };
    let mut upper = true;
    for c in key.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

fn limit(key: &str) -> usize {
    BOUNDED
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(MAX_VALUE, |(_, n)| *n)
}

/// A header's value: percent-decoded, strictly (a `%` not followed by two
/// hex digits is an error, not a character), as UTF-8 without control
/// characters.
fn decode(key: &str, raw: &[u8]) -> Result<String, AxisError> {
    let raw = std::str::from_utf8(raw)
        .map_err(|_| AxisError::metadata(key, "is not percent-encoded UTF-8"))?;
    let bytes = raw.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(AxisError::metadata(key, "has a `%` that encodes nothing"));
        }
    }
    let value = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| AxisError::metadata(key, "is not UTF-8 once decoded"))?
        .into_owned();
    if value.chars().any(char::is_control) {
        return Err(AxisError::metadata(key, "has a control character"));
    }
    Ok(value)
}

fn check_key(key: &str) -> Result<(), AxisError> {
    if key.is_empty() {
        return Err(AxisError::metadata(key, "has no name"));
    }
    if key.len() > MAX_KEY {
        return Err(AxisError::metadata(key, "is too long a key"));
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(AxisError::metadata(
            key,
            "is not a key of letters and digits",
        ));
    }
    Ok(())
}

impl Metadata {
    /// The metadata among `headers` (name, raw value) for `carrier`; other
    /// headers are not looked at.
    pub fn from_headers<'a>(
        carrier: Carrier,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Metadata, AxisError> {
        let mut items = BTreeMap::new();
        for (name, raw) in headers {
            let lower = name.to_ascii_lowercase();
            let Some(key) = lower.strip_prefix(carrier.prefix()) else {
                continue;
            };
            check_key(key)?;
            let value = decode(key, raw)?;
            if value.len() > limit(key) {
                let why = format!("is longer than {} bytes", limit(key));
                return Err(AxisError::metadata(key, why));
            }
            if items.insert(key.to_owned(), value).is_some() {
                return Err(AxisError::metadata(key, "is sent twice"));
            }
        }
        let metadata = Metadata { items };
        metadata.within_limits()?;
        Ok(metadata)
    }

    fn within_limits(&self) -> Result<(), AxisError> {
        if self.items.len() > MAX_ITEMS {
            return Err(AxisError::metadata(
                "*",
                format!("more than {MAX_ITEMS} keys"),
            ));
        }
        let total: usize = self.items.iter().map(|(k, v)| k.len() + v.len()).sum();
        if total > MAX_TOTAL {
            return Err(AxisError::metadata(
                "*",
                format!("more than {MAX_TOTAL} bytes in all"),
            ));
        }
        Ok(())
    }

    /// `newer` applied as Swift's `POST` does: its keys replace, an empty
    /// value removes; the result keeps the limits or nothing changes.
    pub fn update(&mut self, newer: &Metadata) -> Result<(), AxisError> {
        let mut merged = self.clone();
        for (k, v) in &newer.items {
            if v.is_empty() {
                merged.items.remove(k);
            } else {
                merged.items.insert(k.clone(), v.clone());
            }
        }
        merged.within_limits()?;
        *self = merged;
        Ok(())
    }

    /// The value of `key`, whatever its case.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Every key (lower case) and value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every key (lower case) and value, owned.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.items.clone()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The headers that give this metadata back (`HEAD`), values encoded.
    pub fn headers(&self, carrier: Carrier) -> Vec<(String, String)> {
        self.items
            .iter()
            .map(|(k, v)| {
                (
                    header_name(carrier, k),
                    utf8_percent_encode(v, ENCODED).to_string(),
                )
            })
            .collect()
    }

    /// The form the catalog keeps: a JSON object of lower-case keys, in order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.items).expect("strings serialise")
    }

    /// What [`Metadata::to_json`] wrote, checked again as if it had come
    /// in headers (a catalog row is not trusted to be what was written).
    pub fn from_json(json: &str) -> Result<Metadata, AxisError> {
        let items: BTreeMap<String, String> = serde_json::from_str(json)
            .map_err(|_| AxisError::metadata("*", "the stored metadata is not a JSON object"))?;
        let mut checked = BTreeMap::new();
        for (key, value) in items {
            check_key(&key)?;
            if key.bytes().any(|b| b.is_ascii_uppercase())
                || value.len() > limit(&key)
                || value.chars().any(char::is_control)
            {
                return Err(AxisError::metadata(&key, "is not as stored"));
            }
            checked.insert(key, value);
        }
        let metadata = Metadata { items: checked };
        metadata.within_limits()?;
        Ok(metadata)
    }

    /// `Status=Complete`: the system controller is done with the recording.
    pub fn is_complete(&self) -> bool {
        self.get("Status")
            .is_some_and(|s| s.eq_ignore_ascii_case("Complete"))
    }

    /// An instant the spec gives twice, as `<key>` (epoch seconds, UTC) and
    /// `<key>ISO` (RFC 3339): either alone, or both if they agree to the
    /// second.
    pub fn instant(&self, key: &str) -> Result<Option<UtcMillis>, AxisError> {
        let iso_key = format!("{key}ISO");
        let epoch = self.get(key).map(|v| epoch(key, v)).transpose()?;
        let iso = self.get(&iso_key).map(|v| iso(&iso_key, v)).transpose()?;
        match (epoch, iso) {
            (Some(e), Some(i)) if (e.as_millis() - i.as_millis()).abs() >= 1000 => Err(
                AxisError::metadata(key, format!("says {e} but {iso_key} says {i}")),
            ),
            (Some(e), _) => Ok(Some(e)),
            (None, i) => Ok(i),
        }
    }
}

/// Epoch time, UTC: whole seconds, seconds with up to three decimals, or
/// (thirteen digits and more) milliseconds.
fn epoch(key: &str, value: &str) -> Result<UtcMillis, AxisError> {
    let bad = || AxisError::metadata(key, "is not an epoch time");
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if whole.is_empty()
        || whole.len() > 16
        || fraction.len() > 3
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        || (value.contains('.') && fraction.is_empty())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let millis = if whole >= 100_000_000_000 {
        if !fraction.is_empty() {
            return Err(bad());
        }
        whole
    } else {
        let fraction: i64 = format!("{fraction:0<3}").parse().map_err(|_| bad())?;
        whole * 1000 + fraction
    };
    UtcMillis::from_millis(millis).ok_or_else(bad)
}

/// RFC 3339, any offset, as UTC.
fn iso(key: &str, value: &str) -> Result<UtcMillis, AxisError> {
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|_| AxisError::metadata(key, "is not an RFC 3339 time"))?;
    UtcMillis::from_millis((at.unix_timestamp_nanos() / 1_000_000) as i64)
        .ok_or_else(|| AxisError::metadata(key, "is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(carrier: Carrier, headers: &[(&str, &str)]) -> Result<Metadata, AxisError> {
        Metadata::from_headers(carrier, headers.iter().map(|(k, v)| (*k, v.as_bytes())))
    }

    #[test]
    fn keys_compare_without_case_and_values_are_decoded() {
        let m = meta(
            Carrier::Container,
            &[
                ("X-Container-Meta-Bwcserialnumber", "ACCC8E"),
                ("x-container-meta-timezone", "Europe%2FAmsterdam"),
                ("X-Container-Meta-Triggeron", "Button"),
                ("X-Object-Meta-Starttime", "1"),
                ("Content-Type", "text/plain"),
                ("X-Container-Meta-Name", "Ren%C3%A9e%20d%27Ors%20%E2%9C%93"),
            ],
        )
        .unwrap();
        assert_eq!(m.get("BWCSerialNumber"), Some("ACCC8E"));
        assert_eq!(m.get("TimeZone"), Some("Europe/Amsterdam"));
        assert_eq!(m.get("Name"), Some("Renée d'Ors ✓"));
        assert_eq!(m.get("StartTime"), None, "an object's key on a container");
        assert_eq!(m.iter().count(), 4);
        let back = m.headers(Carrier::Container);
        assert!(back.contains(&(
            "X-Container-Meta-Timezone".into(),
            "Europe%2FAmsterdam".into()
        )));
        let again = Metadata::from_headers(
            Carrier::Container,
            back.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
        )
        .unwrap();
        assert_eq!(again, m, "what HEAD gives back reads the same");
    }

    #[test]
    fn the_catalogs_form_reads_back_and_a_tampered_one_does_not() {
        let m = meta(
            Carrier::Object,
            &[
                ("X-Object-Meta-Name", "Ren%C3%A9e"),
                ("X-Object-Meta-Starttime", "1"),
            ],
        )
        .unwrap();
        let json = m.to_json();
        assert_eq!(json, r#"{"name":"Renée","starttime":"1"}"#);
        assert_eq!(Metadata::from_json(&json).unwrap(), m);
        assert_eq!(Metadata::from_json("{}").unwrap(), Metadata::default());
        let long = format!(r#"{{"name":"{}"}}"#, "x".repeat(101));
        for bad in [
            "",
            "[]",
            "{",
            r#"{"Name":"x"}"#,
            r#"{"a b":"x"}"#,
            r#"{"a":""}"#,
            &long,
        ] {
            assert_eq!(
                Metadata::from_json(bad).unwrap_err().code(),
                "metadata",
                "{bad}"
            );
        }
    }

    #[test]
    fn header_names_are_written_as_the_spec_says() {
        assert_eq!(
            header_name(Carrier::Object, "starttimeiso"),
            "X-Object-Meta-Starttimeiso"
        );
        assert_eq!(
            header_name(Carrier::Container, "a-b"),
            "X-Container-Meta-A-B"
        );
    }

    #[test]
    fn hostile_metadata_is_refused_naming_the_key() {
        let long_key = format!("X-Object-Meta-{}", "k".repeat(MAX_KEY + 1));
        let long_value = "v".repeat(MAX_VALUE + 1);
        let long_location = "1".repeat(65);
        for (headers, key, why) in [
            (vec![("X-Object-Meta-A", "100%")], "a", "`%`"),
            (vec![("X-Object-Meta-A", "%4")], "a", "`%`"),
            (vec![("X-Object-Meta-A", "%zz")], "a", "`%`"),
            (vec![("X-Object-Meta-A", "%FF%FE")], "a", "UTF-8"),
            (vec![("X-Object-Meta-A", "line%0Abreak")], "a", "control"),
            (vec![("X-Object-Meta-A", "nul%00")], "a", "control"),
            (vec![("X-Object-Meta-", "x")], "", "no name"),
            (vec![("X-Object-Meta-a_b", "x")], "a_b", "letters"),
            (vec![("X-Object-Meta-a%2Fb", "x")], "a%2fb", "letters"),
            (vec![(long_key.as_str(), "x")], "kkk", "too long"),
            (vec![("X-Object-Meta-A", long_value.as_str())], "a", "256"),
            (
                vec![("X-Object-Meta-Startlocation", long_location.as_str())],
                "startlocation",
                "64",
            ),
            (
                vec![("X-Object-Meta-A", "1"), ("x-object-meta-a", "2")],
                "a",
                "twice",
            ),
        ] {
            let err = meta(Carrier::Object, &headers).unwrap_err();
            assert_eq!(err.code(), "metadata");
            let text = err.to_string();
            assert!(
                text.contains(&format!("`{key}")) && text.contains(why),
                "{headers:?}: {text}"
            );
        }
        let raw = [("X-Object-Meta-A", &b"\xff"[..])];
        assert!(Metadata::from_headers(Carrier::Object, raw).is_err());
    }

    #[test]
    fn too_many_keys_or_bytes_are_refused_and_an_update_that_would_exceed_changes_nothing() {
        let names: Vec<String> = (0..=MAX_ITEMS)
            .map(|n| format!("X-Object-Meta-K{n}"))
            .collect();
        let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        assert!(meta(Carrier::Object, &many)
            .unwrap_err()
            .to_string()
            .contains("more than 90 keys"));
        let value = "v".repeat(250);
        let big: Vec<(&str, &str)> = names[..17]
            .iter()
            .map(|n| (n.as_str(), value.as_str()))
            .collect();
        assert!(meta(Carrier::Object, &big)
            .unwrap_err()
            .to_string()
            .contains("4096 bytes"));

        let mut m = meta(Carrier::Object, &big[..15]).unwrap();
        let before = m.clone();
        let more = meta(Carrier::Object, &[("X-Object-Meta-Extra", value.as_str())]).unwrap();
        let more2 = meta(Carrier::Object, &[("X-Object-Meta-Extra2", value.as_str())]).unwrap();
        m.update(&more).unwrap();
        assert!(m.update(&more2).is_err());
        assert_eq!(m.get("extra2"), None, "nothing changed");
        let removal = meta(Carrier::Object, &[("X-Object-Meta-Extra", "")]).unwrap();
        m.update(&removal).unwrap();
        assert_eq!(m, before, "an empty value removes its key");
    }

    #[test]
    fn instants_read_from_epoch_and_iso_and_must_agree() {
        let m = meta(
            Carrier::Container,
            &[
                ("X-Container-Meta-Starttime", "1661255226"),
                ("X-Container-Meta-Starttimeiso", "2022-08-23T11:47:06Z"),
                ("X-Container-Meta-Stoptime", "1661255350.25"),
                (
                    "X-Container-Meta-Triggerontimeiso",
                    "2022-08-23T13:47:10+02:00",
                ),
                ("X-Container-Meta-Triggerofftime", "1661255349123"),
                ("X-Container-Meta-Status", "Complete"),
            ],
        )
        .unwrap();
        assert_eq!(
            m.instant("StartTime").unwrap().unwrap().to_string(),
            "2022-08-23T11:47:06.000Z"
        );
        assert_eq!(
            m.instant("StopTime").unwrap().unwrap().to_string(),
            "2022-08-23T11:49:10.250Z"
        );
        assert_eq!(
            m.instant("TriggerOnTime").unwrap().unwrap().to_string(),
            "2022-08-23T11:47:10.000Z"
        );
        assert_eq!(
            m.instant("TriggerOffTime").unwrap().unwrap().to_string(),
            "2022-08-23T11:49:09.123Z"
        );
        assert_eq!(m.instant("Nothing").unwrap(), None);
        assert!(m.is_complete());

        let disagree = meta(
            Carrier::Container,
            &[
                ("X-Container-Meta-Starttime", "1661255226"),
                ("X-Container-Meta-Starttimeiso", "2022-08-23T11:47:08Z"),
            ],
        )
        .unwrap();
        assert!(disagree
            .instant("StartTime")
            .unwrap_err()
            .to_string()
            .contains("StartTimeISO says"));
        for bad in [
            "",
            "-1",
            "12a",
            "1.",
            ".5",
            "1.2345",
            "99999999999999999",
            "1e9",
        ] {
            let m = meta(Carrier::Container, &[("X-Container-Meta-Starttime", bad)]);
            let failed = m.map(|m| m.instant("StartTime").is_err()).unwrap_or(true);
            assert!(failed, "{bad:?}");
        }
        let m = meta(
            Carrier::Container,
            &[("X-Container-Meta-Starttimeiso", "yesterday")],
        )
        .unwrap();
        assert!(m.instant("StartTime").is_err());
    }
}
