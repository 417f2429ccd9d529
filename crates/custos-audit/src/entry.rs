//! One audited operation, encoded as RFC 8785 canonical JSON: the exact bytes
//! are the Merkle leaf, so an entry has exactly one spelling.

use custos_format::canonical;
use custos_format::{FormatError, UtcMillis};
use serde::{Deserialize, Serialize};

/// Value of an entry's `format` field.
pub const AUDIT_ENTRY_FORMAT: &str = "custos.audit-entry/1";

/// Entries are small; anything larger is not an entry.
const MAX_ENTRY_LEN: usize = 16 * 1024;

/// Largest index JSON carries exactly (2^53 − 1).
const MAX_INDEX: u64 = (1 << 53) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done as asked.
    Ok,
    /// Not allowed: authentication, authorisation, purpose or policy said no.
    Refused,
    /// Allowed but it did not work (a storage error, bad input).
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// What a caller records: who did what to which object, why, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    pub at: UtcMillis,
    /// `user:NAME`, `dock:ID`, `camera:ID`, `system:cli`, `system:sweeper`,
    /// `link:ID` (whoever holds an export's download link), `anonymous`.
    pub actor: String,
    /// The actor's role at that moment (`reviewer`, …), if a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A stable dotted name: `session.login`, `recording.play`, `audit.read`, …
    pub action: String,
    /// `recording:UUID`, `user:NAME`, `case:ID`, `camera:ID`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    pub outcome: Outcome,
    /// The client's network address, for requests over the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// A short, content-free note (an error code, a count); never personal data
    /// beyond the fields above, never key material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(at: UtcMillis, actor: impl Into<String>, action: &str, outcome: Outcome) -> Self {
        Self {
            at,
            actor: actor.into(),
            role: None,
            action: action.to_owned(),
            object: None,
            purpose: None,
            case: None,
            outcome,
            client: None,
            detail: None,
        }
    }

    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }

    pub fn purpose(mut self, purpose: impl Into<String>, case: impl Into<String>) -> Self {
        self.purpose = Some(purpose.into());
        self.case = Some(case.into());
        self
    }

    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = Some(client.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// An event at its place in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub index: u64,
    pub event: AuditEvent,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    index: u64,
    at: UtcMillis,
    actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    case: Option<String>,
    outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Longest value, in bytes, of each text field: an entry with a longer one
/// is not an entry.
const MAX_FIELD_LEN: usize = 200;
const MAX_ACTION_LEN: usize = 100;
const MAX_DETAIL_LEN: usize = 2000;

/// Bytes of escaped text an [`excerpt`] keeps before it cuts.
pub const EXCERPT_BYTES: usize = 64;

/// Characters that change how text around them is shown or read: control
/// characters (C0, DEL, C1), bidirectional overrides and isolates, zero-width
/// characters and the byte-order mark. None belongs in an identifier, and a
/// log reader must see them, not be steered by them.
pub fn is_hostile_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A bounded, escaped excerpt of a value as it came from the network: what
/// an audit entry keeps of input it refused, never the value as given.
/// Hostile characters ([`is_hostile_char`]) and `\` are written as
/// `\u{…}` and `\\`; after [`EXCERPT_BYTES`] bytes of that the rest is cut
/// and its size said: `AAAA…(+236 bytes)`. The result is at most 100 bytes
/// and always a valid entry field (if the value was empty: `(empty)`).
pub fn excerpt(value: &str) -> String {
    if value.is_empty() {
        return "(empty)".into();
    }
    let mut out = String::new();
    for (at, c) in value.char_indices() {
        let piece = if c == '\\' {
            "\\\\".to_owned()
        } else if is_hostile_char(c) {
            format!("\\u{{{:x}}}", c as u32)
        } else {
            c.to_string()
        };
        if out.len() + piece.len() > EXCERPT_BYTES {
            out.push_str(&format!("…(+{} bytes)", value.len() - at));
            return out;
        }
        out.push_str(&piece);
    }
    out
}

/// `value` with hostile characters and `\` escaped, whole.
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hostile_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), FormatError> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(FormatError::InvalidField {
            field,
            reason: format!("must be 1–{max} bytes without control characters"),
        });
    }
    Ok(())
}

impl AuditEvent {
    /// Whether this event makes a valid entry: each text field 1–200 bytes
    /// (the action 100, the detail 2,000) without control characters.
    pub fn validate(&self) -> Result<(), FormatError> {
        check_text("actor", &self.actor, MAX_FIELD_LEN)?;
        check_text("action", &self.action, MAX_ACTION_LEN)?;
        for (field, value) in [
            ("role", &self.role),
            ("object", &self.object),
            ("purpose", &self.purpose),
            ("case", &self.case),
            ("client", &self.client),
        ] {
            if let Some(v) = value {
                check_text(field, v, MAX_FIELD_LEN)?;
            }
        }
        if let Some(d) = &self.detail {
            check_text("detail", d, MAX_DETAIL_LEN)?;
        }
        Ok(())
    }

    /// This event as a valid entry: each field that is not valid (too long,
    /// empty, control characters — typically a value taken from a hostile
    /// request) is replaced by its [`excerpt`], and the detail says which
    /// were. A writer that appends only bounded events cannot have one
    /// request's entry refuse a batch holding others' entries.
    pub fn bounded(mut self) -> Self {
        if self.validate().is_ok() {
            return self;
        }
        let mut shortened = Vec::new();
        let mut fix = |field: &'static str, value: &mut String, max: usize| {
            if check_text(field, value, max).is_err() {
                *value = excerpt(value);
                shortened.push(field);
            }
        };
        fix("actor", &mut self.actor, MAX_FIELD_LEN);
        fix("action", &mut self.action, MAX_ACTION_LEN);
        for (field, value) in [
            ("role", &mut self.role),
            ("object", &mut self.object),
            ("purpose", &mut self.purpose),
            ("case", &mut self.case),
            ("client", &mut self.client),
        ] {
            if let Some(v) = value {
                fix(field, v, MAX_FIELD_LEN);
            }
        }
        // The detail is prose: its hostile characters escaped and its end
        // cut, not the whole of it reduced to an excerpt.
        let mut detail = self.detail.take();
        if let Some(d) = &mut detail {
            if check_text("detail", d, MAX_DETAIL_LEN).is_err() {
                *d = escaped(d);
                shortened.push("detail");
            }
        }
        let note = format!("[shortened: {}]", shortened.join(", "));
        let room = MAX_DETAIL_LEN - note.len() - 1;
        self.detail = Some(match detail {
            Some(d) if d.is_empty() => note,
            Some(mut d) => {
                if d.len() > room {
                    let mut cut = room;
                    while !d.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    d.truncate(cut);
                }
                format!("{d} {note}")
            }
            None => note,
        });
        self
    }
}

impl AuditEntry {
    fn validate(&self) -> Result<(), FormatError> {
        if self.index > MAX_INDEX {
            return Err(FormatError::InvalidField {
                field: "index",
                reason: "larger than 2^53 - 1".into(),
            });
        }
        self.event.validate()
    }

    /// The canonical bytes: the Merkle leaf's data. Written by hand (keys in
    /// RFC 8785 order, strings escaped as RFC 8785 says): `audit verify`
    /// re-encodes every entry of the log, and this is ten times faster than
    /// going through a generic JSON value. A test holds it to `serde_jcs`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        let e = &self.event;
        let mut out = Vec::with_capacity(320);
        out.push(b'{');
        let field = |out: &mut Vec<u8>, key: &str, value: Option<&str>| {
            if let Some(v) = value {
                if out.len() > 1 {
                    out.push(b',');
                }
                write_json_string(out, key);
                out.push(b':');
                write_json_string(out, v);
            }
        };
        let at = e.at.to_string();
        field(&mut out, "action", Some(&e.action));
        field(&mut out, "actor", Some(&e.actor));
        field(&mut out, "at", Some(&at));
        field(&mut out, "case", e.case.as_deref());
        field(&mut out, "client", e.client.as_deref());
        field(&mut out, "detail", e.detail.as_deref());
        field(&mut out, "format", Some(AUDIT_ENTRY_FORMAT));
        out.extend_from_slice(format!(",\"index\":{}", self.index).as_bytes());
        field(&mut out, "object", e.object.as_deref());
        field(&mut out, "outcome", Some(e.outcome.as_str()));
        field(&mut out, "purpose", e.purpose.as_deref());
        field(&mut out, "role", e.role.as_deref());
        out.push(b'}');
        Ok(out)
    }

    /// The same bytes through the generic RFC 8785 encoder (tests only).
    #[doc(hidden)]
    pub fn to_bytes_generic(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        let e = self.event.clone();
        canonical::encode(&Wire {
            format: AUDIT_ENTRY_FORMAT.to_owned(),
            index: self.index,
            at: e.at,
            actor: e.actor,
            role: e.role,
            action: e.action,
            object: e.object,
            purpose: e.purpose,
            case: e.case,
            outcome: e.outcome,
            client: e.client,
            detail: e.detail,
        })
    }

    /// Parses an entry, accepting only its canonical encoding.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(FormatError::InvalidField {
                field: "(whole entry)",
                reason: format!("larger than {MAX_ENTRY_LEN} bytes"),
            });
        }
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| FormatError::Syntax(e.to_string()))?;
        if wire.format != AUDIT_ENTRY_FORMAT {
            return Err(FormatError::UnsupportedFormat(wire.format));
        }
        let entry = Self::from_wire(&wire);
        if entry.to_bytes()? != bytes {
            return Err(FormatError::NotCanonical);
        }
        Ok(entry)
    }

    fn from_wire(w: &Wire) -> Self {
        Self {
            index: w.index,
            event: AuditEvent {
                at: w.at,
                actor: w.actor.clone(),
                role: w.role.clone(),
                action: w.action.clone(),
                object: w.object.clone(),
                purpose: w.purpose.clone(),
                case: w.case.clone(),
                outcome: w.outcome,
                client: w.client.clone(),
                detail: w.detail.clone(),
            },
        }
    }

    /// RFC 6962 leaf hash of the canonical bytes.
    pub fn leaf_hash(&self) -> Result<crate::Hash, FormatError> {
        Ok(crate::merkle::leaf_hash(&self.to_bytes()?))
    }
}

/// A JSON string as RFC 8785 writes it: `"` and `\` escaped, control
/// characters as `\b \t \n \f \r` or `\u00xx`, everything else literal.
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            index: 7,
            event: AuditEvent::new(
                UtcMillis::from_millis(1_790_000_000_000).unwrap(),
                "user:anna",
                "recording.play",
                Outcome::Ok,
            )
            .role("reviewer")
            .object("recording:0190f0c4-0000-7000-8000-000000000001")
            .purpose("complaint", "K-2026-17")
            .client("127.0.0.1"),
        }
    }

    #[test]
    fn round_trips_canonically() {
        let bytes = entry().to_bytes().unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"action":"recording.play","actor":"user:anna","at":"2026-09-21T14:13:20.000Z","case":"K-2026-17","client":"127.0.0.1","format":"custos.audit-entry/1","index":7,"object":"recording:0190f0c4-0000-7000-8000-000000000001","outcome":"ok","purpose":"complaint","role":"reviewer"}"#
        );
        assert_eq!(AuditEntry::parse(&bytes).unwrap(), entry());
    }

    #[test]
    fn refuses_other_spellings_and_garbage() {
        let good = String::from_utf8(entry().to_bytes().unwrap()).unwrap();
        let respaced = good.replace(",\"actor\"", ", \"actor\"");
        let with_null = good.replace("{\"action\"", "{\"detail\":null,\"action\"");
        let unknown = good.replace("{\"action\"", "{\"a\":1,\"action\"");
        let float_index = good.replace("\"index\":7", "\"index\":7.0");
        let bad_outcome = good.replace("\"outcome\":\"ok\"", "\"outcome\":\"maybe\"");
        let control = good.replace("user:anna", "user:an\\nna");
        let other_format = good.replace("audit-entry/1", "audit-entry/2");
        for bad in [
            respaced.as_str(),
            &with_null,
            &unknown,
            &float_index,
            &bad_outcome,
            &control,
            &other_format,
            &good[..good.len() - 1],
            "",
            "[]",
            "\u{0}garbage",
        ] {
            assert!(AuditEntry::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hand_written_encoder_equals_rfc8785() {
        let texts = [
            "plain",
            "with \"quotes\" and \\ backslash",
            "Straße, één, ĳ, 日本, 😀",
            "a/b <script>&amp;",
            "\u{2028}\u{2029}",
        ];
        for (i, text) in texts.iter().enumerate() {
            for mask in 0u32..64 {
                let pick = |bit: u32| (mask & (1 << bit) != 0).then(|| text.to_string());
                let entry = AuditEntry {
                    index: (i as u64) * 1_000_003 + mask as u64,
                    event: AuditEvent {
                        at: UtcMillis::from_millis(1_790_000_000_000 + mask as i64).unwrap(),
                        actor: format!("user:{text}"),
                        role: pick(0),
                        action: text.to_string(),
                        object: pick(1),
                        purpose: pick(2),
                        case: pick(3),
                        outcome: [Outcome::Ok, Outcome::Refused, Outcome::Failed]
                            [mask as usize % 3],
                        client: pick(4),
                        detail: pick(5),
                    },
                };
                let fast = entry.to_bytes().unwrap();
                assert_eq!(fast, entry.to_bytes_generic().unwrap(), "{text} {mask}");
                assert_eq!(AuditEntry::parse(&fast).unwrap(), entry);
            }
        }
        let mut control = String::new();
        write_json_string_for_test(&mut control, "a\u{1}b\tc");
        assert_eq!(control, "\"a\\u0001b\\tc\"");
    }

    fn write_json_string_for_test(out: &mut String, s: &str) {
        let mut bytes = Vec::new();
        write_json_string(&mut bytes, s);
        out.push_str(std::str::from_utf8(&bytes).unwrap());
    }

    #[test]
    fn an_excerpt_is_bounded_escaped_and_says_what_it_cut() {
        assert_eq!(excerpt("K-17"), "K-17");
        assert_eq!(excerpt(""), "(empty)");
        assert_eq!(excerpt("a\u{85}b\u{202e}c\\d"), "a\\u{85}b\\u{202e}c\\\\d");
        let long = "A".repeat(300);
        assert_eq!(excerpt(&long), format!("{}…(+236 bytes)", "A".repeat(64)));
        // Multi-byte characters are never split, whatever the cut.
        for value in ["é".repeat(300), "😀".repeat(300), "\u{0}".repeat(300)] {
            let e = excerpt(&value);
            assert!(e.len() <= 100, "{e}");
            assert!(!e.chars().any(is_hostile_char), "{e:?}");
        }
    }

    #[test]
    fn a_bounded_event_is_always_a_valid_entry() {
        let hostile = [
            String::new(),
            "x".repeat(5000),
            "a\u{0}b".into(),
            "\u{85}\u{9b}".into(),
            "é".repeat(1001),
        ];
        for value in &hostile {
            let event = AuditEvent::new(
                UtcMillis::from_millis(1_790_000_000_000).unwrap(),
                format!("dock:{value}"),
                "dock.authenticate",
                Outcome::Refused,
            )
            .object(value.clone())
            .client(value.clone())
            .detail(value.clone());
            assert!(event.validate().is_err());
            let bounded = event.clone().bounded();
            let entry = AuditEntry {
                index: 1,
                event: bounded.clone(),
            };
            let bytes = entry.to_bytes().expect("a bounded event encodes");
            assert_eq!(AuditEntry::parse(&bytes).unwrap().event, bounded);
            assert!(bounded.detail.unwrap().contains("[shortened: "));
            assert!(bytes.len() < 2600, "{}", bytes.len());
        }
        // A valid event is left as it is.
        let good = entry().event;
        assert_eq!(good.clone().bounded(), good);
        // A detail just short of its limit and another field too long: the
        // note still fits.
        let mut near = entry().event.detail("d".repeat(1995));
        near.case = Some("c".repeat(300));
        let bounded = near.bounded();
        assert!(
            bounded.validate().is_ok(),
            "{}",
            bounded.detail.unwrap().len()
        );
        // A newline in prose keeps the prose, escaped.
        let prose = entry()
            .event
            .detail("category standard -> training; reason: line one\nline two")
            .bounded();
        let detail = prose.detail.unwrap();
        assert!(
            detail.starts_with("category standard -> training; reason: line one\\u{a}line two"),
            "{detail}"
        );
        assert!(detail.ends_with("[shortened: detail]"));
    }

    #[test]
    fn refuses_empty_actor_and_huge_index() {
        let mut e = entry();
        e.event.actor.clear();
        assert!(e.to_bytes().is_err());
        let mut e = entry();
        e.index = 1 << 53;
        assert!(e.to_bytes().is_err());
    }
}
