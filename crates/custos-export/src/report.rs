//! `report.html`: the chain-of-custody report, for people. It says what the
//! package holds, who recorded and handled each recording for what purpose,
//! every hash, and how to check all of it. One self-contained page (no
//! scripts, no outside resources) that prints well.

use custos_audit::AuditEntry;
use custos_format::{Manifest, Receipt, UtcMillis};

use crate::axis::AxisRecordingRecord;
use crate::{DerivativeRecord, ExportDescription};

/// One Axis recording as the report shows it.
pub struct ReportAxis<'a> {
    pub record: &'a AxisRecordingRecord,
    pub officer_id: Option<&'a str>,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    pub audit: Vec<AuditEntry>,
}

/// One recording as the report shows it.
pub struct ReportRecording<'a> {
    pub manifest: &'a Manifest,
    pub manifest_sha256: [u8; 32],
    pub receipt: &'a Receipt,
    pub video_sha256: [u8; 32],
    pub video_length: u64,
    pub previous: Neighbour,
    pub next: Neighbour,
    pub audit: Vec<AuditEntry>,
}

/// What the package says of a recording's neighbour in its camera's sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Neighbour {
    /// There is none before sequence 1.
    First,
    /// None had reached the server when the package was made.
    NotYet,
    InPackage,
    /// Its camera-signed manifest is included.
    Signed,
    Deleted {
        at: UtcMillis,
        reason: String,
    },
}

/// The report's language: the reviewer's, so a Dutch or German court
/// reads its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Language {
    Nl,
    De,
    #[default]
    En,
}

impl Language {
    /// `nl`, `de` or anything else (English).
    pub fn from_code(code: &str) -> Self {
        match code {
            "nl" => Self::Nl,
            "de" => Self::De,
            _ => Self::En,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Nl => "nl",
            Self::De => "de",
            Self::En => "en",
        }
    }
}

pub struct ReportInput<'a> {
    pub description: &'a ExportDescription,
    pub server_key_sha256: String,
    pub log_key: String,
    pub recordings: Vec<ReportRecording<'a>>,
    pub axis: Vec<ReportAxis<'a>>,
    /// Redacted copies (a subject access request's answer).
    pub derived: Vec<&'a DerivativeRecord>,
    pub language: Language,
    /// Times as the reader knows them: the deployment's zone (`UTC`
    /// when none was given), named in the report.
    pub zone_name: String,
    pub format_time: &'a dyn Fn(UtcMillis) -> String,
}

/// Every phrase of the report, per language.
struct Words {
    title: &'static str,
    heading: &'static str,
    export: &'static str,
    case: &'static str,
    reference: &'static str,
    purpose: &'static str,
    for_whom: &'static str,
    made_by: &'static str,
    at: &'static str,
    approved_by: &'static str,
    server: &'static str,
    signing_key: &'static str,
    audit_log: &'static str,
    checkpoint_over: &'static str,
    camera: &'static str,
    recording_no: &'static str,
    recording: &'static str,
    officer: &'static str,
    no_officer: &'static str,
    recorded: &'static str,
    to: &'static str,
    cut_short: &'static str,
    video: &'static str,
    bytes: &'static str,
    manifest: &'static str,
    signed_by_camera: &'static str,
    received: &'static str,
    by_server: &'static str,
    ciphertext: &'static str,
    sequence: &'static str,
    previous: &'static str,
    next: &'static str,
    first: &'static str,
    not_yet: &'static str,
    in_package: &'static str,
    signed: &'static str,
    deleted: &'static str,
    accesses: &'static str,
    columns: [&'static str; 7],
    how: &'static str,
    how_custos: &'static str,
    how_tools: &'static str,
    how_key: &'static str,
    times: &'static str,
    derived: &'static str,
    derived_from: &'static str,
    frames: &'static str,
    axis_recording: &'static str,
    axis_from: &'static str,
    axis_unsigned: &'static str,
    objects: &'static str,
    object_columns: [&'static str; 4],
}

const EN: Words = Words {
    title: "Chain of custody: case",
    heading: "Chain-of-custody report",
    export: "Export",
    case: "Case",
    reference: "reference",
    purpose: "Purpose",
    for_whom: "For",
    made_by: "Made by",
    at: "at",
    approved_by: "approved by",
    server: "Server",
    signing_key: "signing key SHA-256",
    audit_log: "Audit log",
    checkpoint_over: "key {key}; checkpoint over {n} entries",
    camera: "Camera",
    recording_no: "recording",
    recording: "Recording",
    officer: "Officer",
    no_officer: "(none assigned)",
    recorded: "Recorded",
    to: "to",
    cut_short: " (cut short: the camera lost power or storage)",
    video: "Video",
    bytes: "bytes",
    manifest: "Manifest",
    signed_by_camera: "signed by the camera; SHA-256",
    received: "Received",
    by_server: "by server",
    ciphertext: "ciphertext SHA-256",
    sequence: "Sequence",
    previous: "previous",
    next: "next",
    first: "the camera's first recording",
    not_yet: "no {side} recording #{n} had reached the server",
    in_package: "{side} recording #{n} is in this package",
    signed: "{side} recording #{n}: its signed manifest is included",
    deleted: "{side} recording #{n} was deleted at {at} ({reason})",
    accesses: "Every recorded access to this recording",
    columns: ["#", "When", "Who", "Action", "Purpose", "Case", "Outcome"],
    how: "How to check this package",
    how_custos: "With Custos: <code>custos verify PACKAGE --server-key server.pem --log-key 'KEY'</code>, with the keys your deployment publishes.",
    how_tools: "With standard tools alone (docs/VERIFY.md): <code>openssl pkeyutl -verify -pubin -inkey server.pub.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig</code>, then <code>sha256sum -c SHA256SUMS</code>; each manifest.sig with camera.pub.pem over manifest.json; and <code>sha256sum video.mp4</code> against the manifest's <code>plaintext.sha256</code>.",
    how_key: "Compare the server key's SHA-256 above with the one the deployment publishes: a package signed with another key is not from this deployment.",
    times: "All times: {zone}.",
    derived: "Redacted copy",
    derived_from: "Made from recording",
    frames: "frames",
    axis_recording: "Axis camera",
    axis_from: "Uploaded by Axis system controller (connection {connection}), container {container}, complete at {at}",
    axis_unsigned: "An Axis camera signs no metadata: there is no camera signature. Each object below is the bytes the system controller uploaded, with the SHA-256 and MD5 the server took as they arrived; SHA256SUMS, signed by the server, covers them.",
    objects: "Objects",
    object_columns: ["Name", "Bytes", "SHA-256", "MD5"],
};

const NL: Words = Words {
    title: "Bewijsketen: zaak",
    heading: "Rapport bewijsketen",
    export: "Export",
    case: "Zaak",
    reference: "kenmerk",
    purpose: "Doel",
    for_whom: "Voor",
    made_by: "Gemaakt door",
    at: "op",
    approved_by: "goedgekeurd door",
    server: "Server",
    signing_key: "ondertekeningssleutel SHA-256",
    audit_log: "Auditlog",
    checkpoint_over: "sleutel {key}; controlepunt over {n} regels",
    camera: "Camera",
    recording_no: "opname",
    recording: "Opname",
    officer: "Handhaver",
    no_officer: "(niet toegewezen)",
    recorded: "Opgenomen",
    to: "tot",
    cut_short: " (afgebroken: de camera verloor stroom of opslag)",
    video: "Video",
    bytes: "bytes",
    manifest: "Manifest",
    signed_by_camera: "ondertekend door de camera; SHA-256",
    received: "Ontvangen",
    by_server: "door server",
    ciphertext: "versleutelde opname SHA-256",
    sequence: "Volgorde",
    previous: "vorige",
    next: "volgende",
    first: "de eerste opname van de camera",
    not_yet: "geen {side} opname #{n} had de server bereikt",
    in_package: "{side} opname #{n} zit in dit pakket",
    signed: "{side} opname #{n}: het ondertekende manifest is bijgevoegd",
    deleted: "{side} opname #{n} is verwijderd op {at} ({reason})",
    accesses: "Elke vastgelegde toegang tot deze opname",
    columns: ["#", "Wanneer", "Wie", "Handeling", "Doel", "Zaak", "Uitkomst"],
    how: "Zo controleert u dit pakket",
    how_custos: "Met Custos: <code>custos verify PAKKET --server-key server.pem --log-key 'SLEUTEL'</code>, met de sleutels die uw organisatie publiceert.",
    how_tools: "Met alleen standaardgereedschap (docs/VERIFY.md): <code>openssl pkeyutl -verify -pubin -inkey server.pub.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig</code>, daarna <code>sha256sum -c SHA256SUMS</code>; elke manifest.sig met camera.pub.pem over manifest.json; en <code>sha256sum video.mp4</code> tegen <code>plaintext.sha256</code> in het manifest.",
    how_key: "Vergelijk de SHA-256 van de serversleutel hierboven met die de organisatie publiceert: een pakket dat met een andere sleutel is ondertekend, komt niet van deze organisatie.",
    times: "Alle tijden: {zone}.",
    derived: "Geanonimiseerde kopie",
    derived_from: "Gemaakt uit opname",
    frames: "beelden",
    axis_recording: "Axis-camera",
    axis_from: "Aangeleverd door Axis-systeemcontroller (verbinding {connection}), container {container}, compleet om {at}",
    axis_unsigned: "Een Axis-camera ondertekent geen metadata: er is geen handtekening van de camera. Elk object hieronder bestaat uit de bytes die de systeemcontroller aanleverde, met de SHA-256 en MD5 die de server bij aankomst bepaalde; SHA256SUMS, ondertekend door de server, omvat ze.",
    objects: "Objecten",
    object_columns: ["Naam", "Bytes", "SHA-256", "MD5"],
};

const DE: Words = Words {
    title: "Beweiskette: Vorgang",
    heading: "Bericht zur Beweiskette",
    export: "Export",
    case: "Vorgang",
    reference: "Aktenzeichen",
    purpose: "Zweck",
    for_whom: "Für",
    made_by: "Erstellt von",
    at: "am",
    approved_by: "freigegeben von",
    server: "Server",
    signing_key: "Signaturschlüssel SHA-256",
    audit_log: "Protokoll",
    checkpoint_over: "Schlüssel {key}; Prüfpunkt über {n} Einträge",
    camera: "Kamera",
    recording_no: "Aufnahme",
    recording: "Aufnahme",
    officer: "Einsatzkraft",
    no_officer: "(nicht zugewiesen)",
    recorded: "Aufgenommen",
    to: "bis",
    cut_short: " (abgebrochen: die Kamera verlor Strom oder Speicher)",
    video: "Video",
    bytes: "Bytes",
    manifest: "Manifest",
    signed_by_camera: "von der Kamera signiert; SHA-256",
    received: "Empfangen",
    by_server: "vom Server",
    ciphertext: "verschlüsselte Aufnahme SHA-256",
    sequence: "Reihenfolge",
    previous: "vorherige",
    next: "nächste",
    first: "die erste Aufnahme der Kamera",
    not_yet: "keine {side} Aufnahme #{n} hatte den Server erreicht",
    in_package: "{side} Aufnahme #{n} ist in diesem Paket",
    signed: "{side} Aufnahme #{n}: ihr signiertes Manifest liegt bei",
    deleted: "{side} Aufnahme #{n} wurde am {at} gelöscht ({reason})",
    accesses: "Jeder protokollierte Zugriff auf diese Aufnahme",
    columns: ["#", "Wann", "Wer", "Vorgang", "Zweck", "Vorgang-Nr.", "Ergebnis"],
    how: "So prüfen Sie dieses Paket",
    how_custos: "Mit Custos: <code>custos verify PAKET --server-key server.pem --log-key 'SCHLÜSSEL'</code>, mit den Schlüsseln, die Ihre Behörde veröffentlicht.",
    how_tools: "Nur mit Standardwerkzeugen (docs/VERIFY.md): <code>openssl pkeyutl -verify -pubin -inkey server.pub.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig</code>, dann <code>sha256sum -c SHA256SUMS</code>; jede manifest.sig mit camera.pub.pem über manifest.json; und <code>sha256sum video.mp4</code> gegen <code>plaintext.sha256</code> im Manifest.",
    how_key: "Vergleichen Sie den SHA-256 des Serverschlüssels oben mit dem von der Behörde veröffentlichten: ein mit einem anderen Schlüssel signiertes Paket stammt nicht von dieser Behörde.",
    times: "Alle Zeiten: {zone}.",
    derived: "Geschwärzte Kopie",
    derived_from: "Erstellt aus Aufnahme",
    frames: "Bilder",
    axis_recording: "Axis-Kamera",
    axis_from: "Geliefert vom Axis-Systemcontroller (Verbindung {connection}), Container {container}, vollständig um {at}",
    axis_unsigned: "Eine Axis-Kamera signiert keine Metadaten: Es gibt keine Signatur der Kamera. Jedes Objekt unten sind die Bytes, die der Systemcontroller geliefert hat, mit SHA-256 und MD5, die der Server bei der Ankunft bestimmt hat; SHA256SUMS, vom Server signiert, umfasst sie.",
    objects: "Objekte",
    object_columns: ["Name", "Bytes", "SHA-256", "MD5"],
};

fn words(language: Language) -> &'static Words {
    match language {
        Language::Nl => &NL,
        Language::De => &DE,
        Language::En => &EN,
    }
}

fn neighbour(
    w: &Words,
    n: &Neighbour,
    side: &str,
    sequence: u64,
    time: &dyn Fn(UtcMillis) -> String,
) -> String {
    let fill = |template: &str| {
        template
            .replace("{side}", side)
            .replace("{n}", &sequence.to_string())
    };
    match n {
        Neighbour::First => w.first.to_owned(),
        Neighbour::NotYet => fill(w.not_yet),
        Neighbour::InPackage => fill(w.in_package),
        Neighbour::Signed => fill(w.signed),
        Neighbour::Deleted { at, reason } => fill(w.deleted)
            .replace("{at}", &time(*at))
            .replace("{reason}", reason),
    }
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

/// Every recorded access to a recording, oldest first.
fn audit_table(
    h: &mut String,
    w: &Words,
    audit: &[AuditEntry],
    time: &dyn Fn(UtcMillis) -> String,
) {
    *h += &format!("<table><caption>{}</caption>\n<tr>", w.accesses);
    for c in w.columns {
        *h += &format!("<th scope=\"col\">{c}</th>");
    }
    *h += "</tr>\n";
    for e in audit {
        let ev = &e.event;
        *h += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            e.index,
            time(ev.at),
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
    *h += "</table>\n";
}

/// An Axis recording: who and when, where it came from, that no camera
/// signed it, its objects with their hashes, its accesses.
fn axis_section(h: &mut String, w: &Words, x: &ReportAxis, time: &dyn Fn(UtcMillis) -> String) {
    let r = x.record;
    *h += &format!(
        "<h2>{} {}, {} #{}</h2>\n<table>\n",
        w.axis_recording,
        esc(&r.device_id),
        w.recording_no,
        r.sequence
    );
    let row = |h: &mut String, k: &str, v: &str| {
        *h += &format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n", esc(k), v)
    };
    row(h, w.recording, &format!("<code>{}</code>", r.recording_id));
    row(h, w.officer, &esc(x.officer_id.unwrap_or(w.no_officer)));
    row(
        h,
        w.recorded,
        &format!("{} {} {}", time(x.started_at), w.to, time(x.ended_at)),
    );
    row(
        h,
        w.received,
        &esc(&w
            .axis_from
            .replace("{connection}", &r.connection)
            .replace("{container}", &r.container)
            .replace("{at}", &time(r.completed_at))),
    );
    row(h, w.manifest, &esc(w.axis_unsigned));
    *h += &format!("</table>\n<table><caption>{}</caption>\n<tr>", w.objects);
    for c in w.object_columns {
        *h += &format!("<th scope=\"col\">{c}</th>");
    }
    *h += "</tr>\n";
    for o in &r.objects {
        *h += &format!(
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
            esc(&o.name),
            o.length,
            esc(&o.sha256),
            esc(&o.md5)
        );
    }
    *h += "</table>\n";
    audit_table(h, w, &x.audit, time);
}

pub fn render(input: &ReportInput) -> String {
    let d = input.description;
    let w = words(input.language);
    let mut h = String::new();
    h += &format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\n",
        input.language.code()
    );
    h += &format!("<title>{} {}</title>\n", w.title, esc(&d.case.case_id));
    h += "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}\
          table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border:1px solid #999;padding:.25rem .5rem;text-align:left;vertical-align:top}\
          th{background:#eee}code{font-size:13px;word-break:break-all}h2{border-top:2px solid #111;padding-top:1rem}</style>\n";
    h += "</head><body>\n";
    let time = input.format_time;
    h += &format!(
        "<h1>{}</h1>\n<p>{}</p>\n<table>\n",
        w.heading,
        w.times.replace("{zone}", &esc(&input.zone_name))
    );
    let row = |h: &mut String, k: &str, v: &str| {
        *h += &format!("<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n", esc(k), v)
    };
    row(&mut h, w.export, &format!("<code>{}</code>", d.export_id));
    row(
        &mut h,
        w.case,
        &format!(
            "{} ({}){} — {}",
            esc(&d.case.case_id),
            esc(&d.case.kind),
            d.case
                .reference
                .as_ref()
                .map(|r| format!(", {} {}", w.reference, esc(r)))
                .unwrap_or_default(),
            esc(&d.case.label)
        ),
    );
    row(&mut h, w.purpose, &esc(&d.purpose));
    row(&mut h, w.for_whom, &esc(&d.recipient));
    row(
        &mut h,
        w.made_by,
        &format!(
            "{} {} {}{}",
            esc(&d.created_by),
            w.at,
            time(d.created_at),
            d.approved_by
                .as_ref()
                .map(|a| format!(", {} {}", w.approved_by, esc(a)))
                .unwrap_or_default()
        ),
    );
    row(
        &mut h,
        w.server,
        &format!(
            "{}; {} <code>{}</code>",
            esc(&d.server_id),
            w.signing_key,
            esc(&input.server_key_sha256)
        ),
    );
    row(
        &mut h,
        w.audit_log,
        &w.checkpoint_over
            .replace("{key}", &format!("<code>{}</code>", esc(&input.log_key)))
            .replace("{n}", &d.audit_tree_size.to_string()),
    );
    h += "</table>\n";
    for r in &input.recordings {
        let m = r.manifest;
        h += &format!(
            "<h2>{} {}, {} #{}</h2>\n<table>\n",
            w.camera,
            esc(&m.device_id),
            w.recording_no,
            m.sequence
        );
        row(
            &mut h,
            w.recording,
            &format!("<code>{}</code>", m.recording_id),
        );
        row(
            &mut h,
            w.officer,
            &esc(m.officer_id.as_deref().unwrap_or(w.no_officer)),
        );
        row(
            &mut h,
            w.recorded,
            &format!(
                "{} {} {}{}",
                time(m.started_at),
                w.to,
                time(m.ended_at),
                if m.truncated { w.cut_short } else { "" }
            ),
        );
        row(
            &mut h,
            w.video,
            &format!(
                "video.mp4, {} {}, SHA-256 <code>{}</code>",
                r.video_length,
                w.bytes,
                hex::encode(r.video_sha256)
            ),
        );
        row(
            &mut h,
            w.manifest,
            &format!(
                "{} <code>{}</code>",
                w.signed_by_camera,
                hex::encode(r.manifest_sha256)
            ),
        );
        row(
            &mut h,
            w.received,
            &format!(
                "{} {} {} {}; {} <code>{}</code>",
                w.by_server,
                esc(&r.receipt.server_id),
                w.at,
                time(r.receipt.stored_at),
                w.ciphertext,
                hex::encode(r.receipt.ciphertext_sha256)
            ),
        );
        let mut sequence = Vec::new();
        if r.previous != Neighbour::First || m.sequence == 1 {
            sequence.push(neighbour(
                w,
                &r.previous,
                w.previous,
                m.sequence.saturating_sub(1),
                time,
            ));
        }
        sequence.push(neighbour(w, &r.next, w.next, m.sequence + 1, time));
        row(&mut h, w.sequence, &esc(&sequence.join("; ")));
        h += "</table>\n";
        audit_table(&mut h, w, &r.audit, time);
    }
    for x in &input.axis {
        axis_section(&mut h, w, x, time);
    }
    for x in &input.derived {
        h += &format!(
            "<h2>{} <code>{}</code></h2>\n<table>\n",
            w.derived, x.derivative_id
        );
        row(
            &mut h,
            w.derived_from,
            &format!(
                "<code>{}</code>, {} {} #{}, {} {} {}; {} <code>{}</code>",
                x.source_recording_id,
                w.camera,
                esc(&x.source_device_id),
                x.source_sequence,
                time(x.source_started_at),
                w.to,
                time(x.source_ended_at),
                w.manifest,
                esc(&x.source_manifest_sha256)
            ),
        );
        row(
            &mut h,
            w.video,
            &format!(
                "video.mp4, {} {}, {} {}, SHA-256 <code>{}</code>",
                x.length,
                w.bytes,
                x.frames,
                w.frames,
                esc(&x.sha256)
            ),
        );
        row(
            &mut h,
            w.made_by,
            &format!("{} {} {}", esc(&x.made_by), w.at, time(x.made_at)),
        );
        h += "</table>\n";
    }
    h += &format!(
        "<h2>{}</h2>\n<ol>\n<li>{}</li>\n<li>{}</li>\n<li>{}</li>\n</ol>\n</body></html>\n",
        w.how, w.how_custos, w.how_tools, w.how_key
    );
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
