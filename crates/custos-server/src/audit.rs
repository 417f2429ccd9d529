//! The audit log's writer: every operation is appended here before it takes
//! effect. Appends from concurrent requests are grouped (group commit): one
//! transaction, one fsync and one signed checkpoint per batch, so a busy
//! server pays one disk flush for hundreds of entries and no entry is ever
//! stored outside a signed checkpoint.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use custos_audit::checkpoint::default_origin;
use custos_audit::{append_batch, AuditEvent, Frontier, NoteSigner, NoteVerifier};
use custos_catalog::stores::AuditStore;
use custos_catalog::{Catalog, CatalogError};
use custos_format::SigningKey;
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

/// Entries per batch at most: bounds a transaction's size.
const MAX_BATCH: usize = 4096;
/// Attempts when another writer (another node, an operator's CLI) appended
/// first; each waits a random moment, growing to 50 ms.
const MAX_CONFLICTS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log cannot be written: {0}")]
    Unavailable(String),
    /// The disk under the log is full: nothing can be added until there is
    /// room. Reading and checking the log still work.
    #[error("the audit log cannot be written: storage full ({0})")]
    Full(String),
    #[error(
        "the audit log's newest checkpoint does not match its frontier: run `custos audit verify`"
    )]
    Damaged,
}

/// The audit signing key: `keys/audit.key` (seed, hex, mode 0600) and its
/// public half `keys/audit.vkey` (a signed-note verifier key).
///
/// Unlike the receipt key it is not sealed with the evidence passphrase:
/// operator commands on the data directory audit themselves without it. It
/// makes edits to the catalog (by a database administrator, a restored
/// backup, a compromised PostgreSQL host) evident; against root on the
/// evidence server itself, copy checkpoints elsewhere (ADR 0003).
pub fn load_or_create_signer(data: &Path) -> anyhow::Result<NoteSigner> {
    let key_path = data.join("keys/audit.key");
    let key = if key_path.exists() {
        let text =
            Zeroizing::new(std::fs::read_to_string(&key_path).context("reading keys/audit.key")?);
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut seed[..]).context("keys/audit.key is damaged")?;
        SigningKey::from_seed(&seed)
    } else {
        let key = SigningKey::generate();
        let hex_seed = Zeroizing::new(format!("{}\n", hex::encode(&key.seed()[..])));
        write_private(&key_path, hex_seed.as_bytes())?;
        key
    };
    let signer =
        NoteSigner::new(&default_origin(&key.verifying_key()), key).map_err(anyhow::Error::msg)?;
    let vkey_path = data.join("keys/audit.vkey");
    let vkey = format!("{}\n", signer.verifier().to_vkey());
    match std::fs::read_to_string(&vkey_path) {
        Ok(existing) if existing == vkey => {}
        Ok(_) => bail!("keys/audit.vkey does not belong to keys/audit.key"),
        Err(_) => std::fs::write(&vkey_path, vkey)?,
    }
    Ok(signer)
}

/// A key for `purpose` derived from the audit key's seed (HMAC-SHA256):
/// every node of a deployment holds the audit key, so every node derives
/// the same key, and nothing new has to be kept or copied.
pub fn derive_key(data: &Path, purpose: &str) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    load_or_create_signer(data)?;
    let text = Zeroizing::new(
        std::fs::read_to_string(data.join("keys/audit.key")).context("reading keys/audit.key")?,
    );
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), &mut seed[..]).context("keys/audit.key is damaged")?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &seed[..]);
    let tag = ring::hmac::sign(&key, purpose.as_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// The audit log's public key, readable by anyone who verifies.
pub fn load_verifier(data: &Path) -> anyhow::Result<NoteVerifier> {
    let text = std::fs::read_to_string(data.join("keys/audit.vkey")).with_context(|| {
        format!(
            "no audit key in {}: nothing was audited yet",
            data.display()
        )
    })?;
    NoteVerifier::parse(text.trim()).map_err(|e| anyhow::anyhow!("keys/audit.vkey: {e}"))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(path.parent().expect("under keys/"))?;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(path.parent().expect("under keys/"))?.sync_all()?;
    Ok(())
}

/// Appends `events` as one batch; returns their indexes.
pub async fn append(
    catalog: &(impl AuditStore + ?Sized),
    signer: &NoteSigner,
    events: Vec<AuditEvent>,
) -> Result<Range<u64>, AuditError> {
    append_onto(catalog, signer, &mut None, events).await
}

/// [`append`], building on `tip` when it holds the frontier this writer
/// left after its own last batch, instead of reading and checking the
/// stored tip again. The catalog still refuses a batch built on an old tip
/// (another node or an operator's CLI appended since): then the tip is
/// read again, as it is when `tip` is empty. `tip` holds the new frontier
/// after a success and is emptied by any failure.
async fn append_onto(
    catalog: &(impl AuditStore + ?Sized),
    signer: &NoteSigner,
    tip: &mut Option<Frontier>,
    events: Vec<AuditEvent>,
) -> Result<Range<u64>, AuditError> {
    let unavailable = |e: CatalogError| AuditError::Unavailable(e.to_string());
    // One request's hostile value (a 300-byte id, a control character) must
    // not make the batch it shares with other requests' entries invalid:
    // each entry is bounded before it joins one.
    let events: Vec<AuditEvent> = events.into_iter().map(AuditEvent::bounded).collect();
    let mut conflicts = 0u32;
    for _ in 0..MAX_CONFLICTS {
        let remembered = tip.is_some();
        let mut frontier = match tip.take() {
            Some(frontier) => frontier,
            None => stored_frontier(catalog, signer).await?,
        };
        let start = frontier.size();
        let (rows, checkpoint) = append_batch(&mut frontier, events.iter().cloned(), signer)
            .map_err(|e| AuditError::Unavailable(format!("entry refused: {e}")))?;
        if custos_faults::disk_full("audit:append") {
            return Err(AuditError::Full("injected".into()));
        }
        match catalog
            .append_audit(start, &rows, &checkpoint, &frontier.to_bytes())
            .await
        {
            Ok(()) => {
                let appended = start..frontier.size();
                *tip = Some(frontier);
                return Ok(appended);
            }
            // The remembered frontier was old (another node appended since
            // this writer's last batch): no race to back off from, so build
            // on the stored tip at once.
            Err(CatalogError::Conflict(_)) if remembered => {}
            Err(CatalogError::Conflict(_)) => {
                // Another writer (another node, the CLI) came first: it made
                // progress, so waiting a random moment lets both go on.
                conflicts += 1;
                let ceiling = (1u64 << conflicts.min(6)).min(50);
                let wait = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=ceiling);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            Err(CatalogError::Full(m)) => return Err(AuditError::Full(m)),
            Err(e) => return Err(unavailable(e)),
        }
    }
    Err(AuditError::Unavailable(
        "too many concurrent writers".into(),
    ))
}

/// The stored tip's frontier, checked against its signed checkpoint.
async fn stored_frontier(
    catalog: &(impl AuditStore + ?Sized),
    signer: &NoteSigner,
) -> Result<Frontier, AuditError> {
    let tip = catalog
        .audit_tip()
        .await
        .map_err(|e| AuditError::Unavailable(e.to_string()))?;
    let Some(tip) = tip else {
        return Ok(Frontier::new());
    };
    let frontier = Frontier::from_bytes(&tip.frontier).ok_or(AuditError::Damaged)?;
    let checkpoint = signer
        .verifier()
        .open(&tip.checkpoint.note)
        .map_err(|_| AuditError::Damaged)?;
    if checkpoint.size != frontier.size() || checkpoint.root != frontier.root() {
        return Err(AuditError::Damaged);
    }
    Ok(frontier)
}

struct Pending {
    event: AuditEvent,
    reply: oneshot::Sender<Result<u64, String>>,
}

/// The server's handle: `record` returns once the entry is durable.
#[derive(Clone)]
pub struct AuditLog {
    sender: mpsc::Sender<Pending>,
    verifier: NoteVerifier,
}

impl AuditLog {
    pub fn start(catalog: Arc<dyn Catalog>, signer: NoteSigner) -> Self {
        let verifier = signer.verifier();
        let (sender, mut receiver) = mpsc::channel::<Pending>(MAX_BATCH * 4);
        tokio::spawn(async move {
            // The frontier after this writer's last batch: each batch but
            // the first (or one after a failure) skips reading the tip, one
            // database hop less on every audited request (P3).
            let mut tip = None;
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match receiver.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let events = batch.iter().map(|p| p.event.clone()).collect();
                let result = append_onto(&*catalog, &signer, &mut tip, events).await;
                if let Err(e) = &result {
                    tracing::error!(error = %e, "audit append failed");
                }
                for (i, p) in batch.into_iter().enumerate() {
                    let reply = match &result {
                        Ok(range) => Ok(range.start + i as u64),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = p.reply.send(reply);
                }
            }
        });
        Self { sender, verifier }
    }

    /// Appends one entry; returns its index once it is durable and covered
    /// by a signed checkpoint.
    pub async fn record(&self, event: AuditEvent) -> Result<u64, AuditError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Pending { event, reply })
            .await
            .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?;
        answer
            .await
            .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?
            .map_err(AuditError::Unavailable)
    }

    /// Appends several entries; they go in the same or consecutive batches
    /// (the writer groups whatever is queued).
    pub async fn record_all(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        let mut answers = Vec::with_capacity(events.len());
        for event in events {
            let (reply, answer) = oneshot::channel();
            self.sender
                .send(Pending { event, reply })
                .await
                .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?;
            answers.push(answer);
        }
        for answer in answers {
            answer
                .await
                .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?
                .map_err(AuditError::Unavailable)?;
        }
        Ok(())
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }
}

/// Entries read per page when verifying: bounds memory, not time.
const VERIFY_PAGE: u64 = 20_000;

/// Recomputes the whole stored log against its signed checkpoints.
pub async fn verify_stored(
    catalog: &(impl AuditStore + ?Sized),
    verifier: &NoteVerifier,
) -> Result<Result<custos_audit::VerifiedLog, custos_audit::Tampering>, CatalogError> {
    let checkpoints = catalog.audit_checkpoints().await?;
    let mut v = match custos_audit::LogVerifier::new(verifier, &checkpoints) {
        Ok(v) => v,
        Err(t) => return Ok(Err(t)),
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut page = catalog.audit_entries(0, VERIFY_PAGE).await?;
    while let Some(last) = page.last() {
        // Read the next page while this one is checked.
        let from = last.index + 1;
        let (next, checked) = tokio::join!(
            catalog.audit_entries(from, VERIFY_PAGE),
            tokio::task::spawn_blocking(move || {
                let result = v.push_all(&page, threads);
                (v, result)
            })
        );
        let (back, result) = checked.map_err(|e| CatalogError::Unavailable(e.to_string()))?;
        if let Err(t) = result {
            return Ok(Err(t));
        }
        v = back;
        page = next?;
    }
    Ok(v.finish())
}

/// One entry with its proof, as handed to the privacy officer (and as an
/// export package carries it).
pub use custos_export::ProvenEntry;

/// A stored entry with its inclusion proof against `levels`.
pub fn prove(
    levels: &custos_audit::merkle::Levels,
    row: custos_audit::StoredEntry,
) -> anyhow::Result<ProvenEntry> {
    let proof = levels
        .inclusion_proof(row.index as usize)
        .context("entry beyond the checkpoint")?;
    Ok(ProvenEntry {
        index: row.index,
        entry: String::from_utf8(row.bytes).context("audit entry is not UTF-8")?,
        inclusion_proof: proof.iter().map(hex::encode).collect(),
    })
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditExport {
    /// Signed-note verifier key of the log.
    pub log_key: String,
    /// The signed checkpoint every proof refers to.
    pub checkpoint: String,
    pub tree_size: u64,
    pub entries: Vec<ProvenEntry>,
}

/// The newest signed checkpoint (its note, opened) and the tree it commits
/// to, rebuilt from the stored leaves and checked against it: what every
/// inclusion proof handed out is computed from.
pub async fn newest_tree(
    catalog: &(impl AuditStore + ?Sized),
    verifier: &NoteVerifier,
) -> anyhow::Result<(
    String,
    custos_audit::Checkpoint,
    custos_audit::merkle::Levels,
)> {
    let tip = catalog
        .audit_tip()
        .await?
        .context("the audit log is empty")?;
    let checkpoint = verifier
        .open(&tip.checkpoint.note)
        .map_err(|e| anyhow::anyhow!("newest audit checkpoint: {e}"))?;
    let leaves = catalog.audit_leaf_hashes(checkpoint.size).await?;
    let levels = custos_audit::merkle::Levels::new(leaves);
    if levels.root() != checkpoint.root {
        bail!("the stored log does not match its newest checkpoint: run `custos audit verify`");
    }
    Ok((tip.checkpoint.note, checkpoint, levels))
}

/// Entries `from..to` (clamped to the newest checkpoint) with inclusion
/// proofs against the newest checkpoint.
pub async fn export(
    catalog: &(impl AuditStore + ?Sized),
    verifier: &NoteVerifier,
    from: u64,
    to: Option<u64>,
) -> anyhow::Result<AuditExport> {
    let (note, checkpoint, levels) = newest_tree(catalog, verifier).await?;
    let size = checkpoint.size;
    let to = to.unwrap_or(size).min(size);
    let mut entries = Vec::new();
    let mut next = from;
    while next < to {
        let page = catalog
            .audit_entries(next, (to - next).min(VERIFY_PAGE))
            .await?;
        let Some(last) = page.last() else { break };
        next = last.index + 1;
        for row in page.into_iter().filter(|r| r.index < to) {
            entries.push(prove(&levels, row)?);
        }
    }
    Ok(AuditExport {
        log_key: verifier.to_vkey(),
        checkpoint: note,
        tree_size: size,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_audit::Outcome;
    use custos_format::UtcMillis;

    fn event(n: u64) -> AuditEvent {
        AuditEvent::new(
            UtcMillis::from_millis(1_700_000_000_000 + n as i64).unwrap(),
            "system:test",
            "test.append",
            Outcome::Ok,
        )
        .detail(format!("entry {n}"))
    }

    /// A catalog in a fresh directory and the server's writer on it.
    async fn server_log() -> (tempfile::TempDir, Arc<dyn Catalog>, NoteVerifier, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog: Arc<dyn Catalog> =
            Arc::new(custos_catalog_sqlite::open(dir.path()).await.unwrap());
        let signer = load_or_create_signer(dir.path()).unwrap();
        let verifier = signer.verifier();
        let log = AuditLog::start(catalog.clone(), signer);
        (dir, catalog, verifier, log)
    }

    /// The server's writer keeps its own frontier between batches; another
    /// writer (an operator's CLI on the same data directory) appending in
    /// between must make it read the tip again, never fork the tree.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_notices_another_writer_and_the_log_stays_one_tree() {
        let (dir, catalog, verifier, log) = server_log().await;
        let other = load_or_create_signer(dir.path()).unwrap();

        assert_eq!(log.record(event(0)).await.unwrap(), 0);
        assert_eq!(log.record(event(1)).await.unwrap(), 1);
        // The CLI appends two while the server's writer holds frontier 2.
        assert_eq!(
            append(&*catalog, &other, vec![event(2), event(3)])
                .await
                .unwrap(),
            2..4
        );
        assert_eq!(log.record(event(4)).await.unwrap(), 4);

        // Both at once, many times over.
        let mut tasks = Vec::new();
        for n in 5..65u64 {
            let (log, catalog, other) = (
                log.clone(),
                catalog.clone(),
                load_or_create_signer(dir.path()).unwrap(),
            );
            tasks.push(tokio::spawn(async move {
                if n % 6 == 0 {
                    let range = append(&*catalog, &other, vec![event(n)]).await.unwrap();
                    range.start
                } else {
                    log.record(event(n)).await.unwrap()
                }
            }));
        }
        let mut indexes = vec![0, 1, 2, 3, 4];
        for t in tasks {
            indexes.push(t.await.unwrap());
        }
        indexes.sort();
        assert_eq!(
            indexes,
            (0..65).collect::<Vec<_>>(),
            "each entry once, no gaps"
        );

        let entries = catalog.audit_entries(0, 1000).await.unwrap();
        let checkpoints = catalog.audit_checkpoints().await.unwrap();
        let verified = custos_audit::verify::verify_log(&verifier, &entries, &checkpoints).unwrap();
        assert_eq!(verified.size, 65);
        let details: std::collections::BTreeSet<String> = entries
            .iter()
            .map(|e| {
                custos_audit::AuditEntry::parse(&e.bytes)
                    .unwrap()
                    .event
                    .detail
                    .unwrap()
            })
            .collect();
        assert_eq!(details.len(), 65, "every event stored once");
    }

    /// Entries from hostile requests (over-long ids, control characters,
    /// empty fields) land in the same batch as good ones: every entry is
    /// stored, the hostile ones as bounded excerpts, and no request fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hostile_entry_fails_no_one_in_its_batch() {
        let (_dir, catalog, verifier, log) = server_log().await;
        let hostile = |n: u64| {
            let value = match n % 4 {
                0 => "D".repeat(300),
                1 => format!("x{}{n}", '\u{85}'),
                2 => String::new(),
                _ => format!("{n}{}\n{}", '\u{0}', "é".repeat(1500)),
            };
            AuditEvent::new(
                UtcMillis::from_millis(1_700_000_000_000).unwrap(),
                format!("dock:{value}"),
                "dock.authenticate",
                Outcome::Refused,
            )
            .object(format!("recording:{value}"))
            .detail(value)
        };
        let mut tasks = Vec::new();
        for n in 0..400u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let event = if n % 2 == 0 { event(n) } else { hostile(n) };
                log.record(event).await
            }));
        }
        for t in tasks {
            t.await
                .unwrap()
                .expect("no request fails for another's entry");
        }
        let entries = catalog.audit_entries(0, 1000).await.unwrap();
        assert_eq!(entries.len(), 400);
        let checkpoints = catalog.audit_checkpoints().await.unwrap();
        custos_audit::verify::verify_log(&verifier, &entries, &checkpoints).unwrap();
        let shortened = entries
            .iter()
            .map(|e| custos_audit::AuditEntry::parse(&e.bytes).unwrap().event)
            .filter(|e| {
                e.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("[shortened: "))
            })
            .count();
        assert_eq!(shortened, 200, "each hostile entry kept as an excerpt");
        assert!(entries.iter().all(|e| e.bytes.len() < 2600));
    }

    /// A writer whose frontier is stale because the stored log was cut
    /// short behind its back (a restored backup) is refused by the
    /// catalog, reads the tip again and goes on from there.
    #[tokio::test]
    async fn a_stale_frontier_is_refused_not_appended_onto() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = custos_catalog_sqlite::open(dir.path()).await.unwrap();
        let signer = load_or_create_signer(dir.path()).unwrap();
        let mut tip = None;
        append_onto(&catalog, &signer, &mut tip, vec![event(0), event(1)])
            .await
            .unwrap();
        // A frontier from a tree that never was: one entry ahead.
        let mut ahead = tip.clone().unwrap();
        append_batch(&mut ahead, std::iter::once(event(9)), &signer).unwrap();
        let mut stale = Some(ahead);
        let range = append_onto(&catalog, &signer, &mut stale, vec![event(2)])
            .await
            .unwrap();
        assert_eq!(range, 2..3, "re-read the tip, appended at its end");
        assert_eq!(stale.as_ref().map(Frontier::size), Some(3));
    }
}
