//! Audit entries as CSV rows, for a privacy officer's spreadsheet. The JSON
//! export (with inclusion proofs) is what proves anything; the CSV is for
//! reading, so it is made safe to open: every field that a spreadsheet
//! would take for a formula is prefixed with `'`.

use crate::entry::AuditEntry;
use crate::merkle::leaf_hash;

/// The header row; [`csv_row`] gives the fields in this order.
pub const CSV_HEADER: &str =
    "index,at,actor,role,action,object,purpose,case,outcome,client,detail,leaf_hash";

/// One field: quoted when it holds a separator, a quote or a line break;
/// defused when it starts like a formula (`=`, `+`, `-`, `@`, tab, CR).
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The row for one stored entry (its canonical bytes), without a line end.
pub fn csv_row(entry_bytes: &[u8]) -> Result<String, custos_format::FormatError> {
    let entry = AuditEntry::parse(entry_bytes)?;
    let ev = &entry.event;
    let opt = |o: &Option<String>| csv_field(o.as_deref().unwrap_or(""));
    Ok([
        entry.index.to_string(),
        ev.at.to_string(),
        csv_field(&ev.actor),
        opt(&ev.role),
        csv_field(&ev.action),
        opt(&ev.object),
        opt(&ev.purpose),
        opt(&ev.case),
        ev.outcome.as_str().to_owned(),
        opt(&ev.client),
        opt(&ev.detail),
        hex::encode(leaf_hash(entry_bytes)),
    ]
    .join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-2"), "'-2");
    }
}
