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

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), FormatError> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(FormatError::InvalidField {
            field,
            reason: format!("must be 1–{max} bytes without control characters"),
        });
    }
    Ok(())
}

impl AuditEntry {
    fn validate(&self) -> Result<(), FormatError> {
        if self.index > MAX_INDEX {
            return Err(FormatError::InvalidField {
                field: "index",
                reason: "larger than 2^53 - 1".into(),
            });
        }
        let e = &self.event;
        check_text("actor", &e.actor, 200)?;
        check_text("action", &e.action, 100)?;
        for (field, value) in [
            ("role", &e.role),
            ("object", &e.object),
            ("purpose", &e.purpose),
            ("case", &e.case),
            ("client", &e.client),
        ] {
            if let Some(v) = value {
                check_text(field, v, 200)?;
            }
        }
        if let Some(d) = &e.detail {
            check_text("detail", d, 2000)?;
        }
        Ok(())
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
    fn refuses_empty_actor_and_huge_index() {
        let mut e = entry();
        e.event.actor.clear();
        assert!(e.to_bytes().is_err());
        let mut e = entry();
        e.index = 1 << 53;
        assert!(e.to_bytes().is_err());
    }
}
