//! `report.html`: the chain-of-custody report, for people. It says what the
//! package holds, who recorded and handled each recording for what purpose,
//! every hash, and how to check all of it. One self-contained page (no
//! scripts, no outside resources) that prints well.

use custos_audit::AuditEntry;
use custos_format::{Manifest, Receipt};

use crate::ExportDescription;

/// One recording as the report shows it.
pub struct ReportRecording<'a> {
    pub manifest: &'a Manifest,
    pub manifest_sha256: [u8; 32],
    pub receipt: &'a Receipt,
    pub video_sha256: [u8; 32],
    pub video_length: u64,
    pub neighbours: Vec<String>,
    pub audit: Vec<AuditEntry>,
}

pub struct ReportInput<'a> {
    pub description: &'a ExportDescription,
    pub server_key_sha256: String,
    pub log_key: String,
    pub recordings: Vec<ReportRecording<'a>>,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(input: &ReportInput) -> String {
    let d = input.description;
    let mut h = String::new();
    h += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
    h += &format!(
        "<title>Chain of custody: case {}</title>\n",
        esc(&d.case.case_id)
    );
    h += "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}\
          table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}\
          th{background:#eee}code{font-size:13px;word-break:break-all}h2{border-top:2px solid #111;padding-top:1rem}</style>\n";
    h += "</head><body>\n";
    h += "<h1>Chain-of-custody report</h1>\n<table>\n";
    let row = |h: &mut String, k: &str, v: &str| {
        *h += &format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n", esc(k), v)
    };
    row(&mut h, "Export", &format!("<code>{}</code>", d.export_id));
    row(
        &mut h,
        "Case",
        &format!(
            "{} ({}){} — {}",
            esc(&d.case.case_id),
            esc(&d.case.kind),
            d.case
                .reference
                .as_ref()
                .map(|r| format!(", reference {}", esc(r)))
                .unwrap_or_default(),
            esc(&d.case.label)
        ),
    );
    row(&mut h, "Purpose", &esc(&d.purpose));
    row(&mut h, "For", &esc(&d.recipient));
    row(
        &mut h,
        "Made by",
        &format!(
            "{} at {}{}",
            esc(&d.created_by),
            d.created_at,
            d.approved_by
                .as_ref()
                .map(|a| format!(", approved by {}", esc(a)))
                .unwrap_or_default()
        ),
    );
    row(
        &mut h,
        "Server",
        &format!(
            "{}; signing key SHA-256 <code>{}</code>",
            esc(&d.server_id),
            esc(&input.server_key_sha256)
        ),
    );
    row(
        &mut h,
        "Audit log",
        &format!(
            "key <code>{}</code>; checkpoint over {} entries",
            esc(&input.log_key),
            d.audit_tree_size
        ),
    );
    h += "</table>\n";
    for r in &input.recordings {
        let m = r.manifest;
        h += &format!(
            "<h2>Camera {}, recording #{}</h2>\n<table>\n",
            esc(&m.device_id),
            m.sequence
        );
        row(
            &mut h,
            "Recording",
            &format!("<code>{}</code>", m.recording_id),
        );
        row(
            &mut h,
            "Officer",
            &esc(m.officer_id.as_deref().unwrap_or("(none assigned)")),
        );
        row(
            &mut h,
            "Recorded",
            &format!(
                "{} to {}{}",
                m.started_at,
                m.ended_at,
                if m.truncated {
                    " (cut short: the camera lost power or storage)"
                } else {
                    ""
                }
            ),
        );
        row(
            &mut h,
            "Video",
            &format!(
                "video.mp4, {} bytes, SHA-256 <code>{}</code>",
                r.video_length,
                hex::encode(r.video_sha256)
            ),
        );
        row(
            &mut h,
            "Manifest",
            &format!(
                "signed by the camera; SHA-256 <code>{}</code>",
                hex::encode(r.manifest_sha256)
            ),
        );
        row(
            &mut h,
            "Received",
            &format!(
                "by server {} at {}; ciphertext SHA-256 <code>{}</code>",
                esc(&r.receipt.server_id),
                r.receipt.stored_at,
                hex::encode(r.receipt.ciphertext_sha256)
            ),
        );
        row(&mut h, "Sequence", &esc(&r.neighbours.join("; ")));
        h += "</table>\n<table><caption>Every recorded access to this recording</caption>\n\
              <tr><th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">Who</th><th scope=\"col\">Action</th><th scope=\"col\">Purpose</th><th scope=\"col\">Case</th><th scope=\"col\">Outcome</th></tr>\n";
        for e in &r.audit {
            let ev = &e.event;
            h += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                e.index,
                ev.at,
                esc(&ev.actor),
                ev.role
                    .as_ref()
                    .map(|r| format!(" ({})", esc(r)))
                    .unwrap_or_default(),
                esc(&ev.action),
                esc(ev.purpose.as_deref().unwrap_or("")),
                esc(ev.case.as_deref().unwrap_or("")),
                esc(ev.outcome.as_str()),
            );
        }
        h += "</table>\n";
    }
    h += "<h2>How to check this package</h2>\n<ol>\n\
          <li>With Custos: <code>custos verify PACKAGE --server-key server.pem --log-key 'KEY'</code>, with the keys your deployment publishes.</li>\n\
          <li>With standard tools alone (docs/VERIFY.md): <code>openssl pkeyutl -verify -pubin -inkey server.pub.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig</code>, then <code>sha256sum -c SHA256SUMS</code>; each manifest.sig with camera.pub.pem over manifest.json; and <code>sha256sum video.mp4</code> against the manifest's <code>plaintext.sha256</code>.</li>\n\
          <li>Compare the server key's SHA-256 above with the one the deployment publishes: a package signed with another key is not from this deployment.</li>\n\
          </ol>\n</body></html>\n";
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            super::esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
