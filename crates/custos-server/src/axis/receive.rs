//! An object's bytes as they arrive: encrypted with age to the evidence key
//! into a staging file (no plaintext byte touches the disk), hashed (SHA-256
//! for the record, MD5 for Swift's `Etag`) on a thread of their own, synced,
//! and the age header moved out, so the staged file is ready to become a
//! blob whose only key is in the catalog.

use std::io::Write;
use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use md5::Md5;
use sha2::{Digest, Sha256};

use super::Refusal;

/// A staged object; the file goes when this is dropped, unless it was
/// moved into the blob store first.
pub(super) struct Staged {
    pub path: PathBuf,
    pub length: u64,
    pub sha256: [u8; 32],
    /// Hex, as Swift's `Etag`.
    pub md5: String,
    pub age_header: Vec<u8>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes a half-written staging file whatever way receiving ends.
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Buffers queued to each thread: about 3 MiB per upload in all.
const QUEUE: usize = 4;
/// The size of those buffers.
const BATCH: usize = 256 << 10;

/// Where an object is staged and what bounds it.
pub(super) struct Limits {
    pub path: PathBuf,
    /// The largest object taken: more is `400`.
    pub max: u64,
    /// Free space the staging disk keeps: an object that would use it is
    /// `507`, checked as it grows (others grow beside it).
    pub reserve: u64,
}

/// Written between two looks at the disk's free space (and two syncs).
const SPACE_CHECK_EVERY: u64 = 64 << 20;

/// Receives `body` into `limits.path`.
pub(super) async fn receive<S, E>(
    recipient: age::x25519::Recipient,
    limits: Limits,
    mut body: S,
) -> Result<Staged, Refusal>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let Limits { path, max, reserve } = limits;
    let partial = Partial(path.clone());
    let (to_writer, from_body) = tokio::sync::mpsc::channel::<bytes::Bytes>(QUEUE);
    let (to_sha, for_sha) = tokio::sync::mpsc::channel::<bytes::Bytes>(QUEUE);
    let (to_md5, for_md5) = tokio::sync::mpsc::channel::<bytes::Bytes>(QUEUE);
    let target = path.clone();
    // Threads of their own, not tokio's blocking pool: 128 uploads' three
    // threads each would fill it, and the audit writer and file work wait
    // in that pool. If this future is dropped (the connection went), the
    // writer removes the file it made itself.
    let writer = on_thread(move || encrypt(&recipient, &target, reserve, from_body), {
        let path = path.clone();
        move || {
            let _ = std::fs::remove_file(&path);
        }
    })?;
    // SHA-256, MD5 and the encryption each take about as long per byte as
    // the disk: each its own thread, fed the same buffers.
    let sha = on_thread(move || digest::<Sha256>(for_sha), || {})?;
    let md5 = on_thread(move || digest::<Md5>(for_md5), || {})?;
    let mut length = 0u64;
    let mut broken = false;
    // TLS hands the body over in records of 16 KiB; the threads get them
    // gathered into buffers of 256 KiB, a wake-up each instead of sixteen.
    let mut gathered = bytes::BytesMut::with_capacity(BATCH);
    let outcome = loop {
        let next = body.next().await;
        let end = next.is_none();
        let chunk = match next {
            None => bytes::Bytes::new(),
            Some(Ok(c)) => c,
            // A cut cable or a stalled sender: the controller sends the
            // object again, as it does after any network failure.
            Some(Err(e)) => break Err(Refusal::Interrupted(e.to_string())),
        };
        length += chunk.len() as u64;
        if length > max {
            break Err(Refusal::NeverStorable(
                "too-large",
                format!("an object is at most {max} bytes here"),
            ));
        }
        gathered.extend_from_slice(&chunk);
        if gathered.len() < BATCH && !end {
            continue;
        }
        let batch =
            std::mem::replace(&mut gathered, bytes::BytesMut::with_capacity(BATCH)).freeze();
        // A writer that failed (a full disk) has its error said below; the
        // body is still read to its end so the refusal reaches the client.
        if !broken
            && !batch.is_empty()
            && (to_sha.send(batch.clone()).await.is_err()
                || to_md5.send(batch.clone()).await.is_err()
                || to_writer.send(batch).await.is_err())
        {
            broken = true;
        }
        if end {
            break Ok(());
        }
    };
    drop((to_writer, to_sha, to_md5));
    let joined = |_| Refusal::Unavailable("a thread of the upload ended early".into());
    let written = writer.await.map_err(joined)?;
    let sha256: [u8; 32] = sha.await.map_err(joined)?.into();
    let md5 = hex::encode(md5.await.map_err(joined)?);
    outcome?;
    let age_header = written?;
    std::mem::forget(partial);
    Ok(Staged {
        path,
        length,
        sha256,
        md5,
        age_header,
    })
}

/// Runs `work` on a new thread; its result comes through the receiver, or,
/// if no one waits for it any more, `abandoned` runs.
fn on_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    abandoned: impl FnOnce() + Send + 'static,
) -> Result<tokio::sync::oneshot::Receiver<T>, Refusal> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("axis-upload".into())
        .spawn(move || {
            if done.send(work()).is_err() {
                abandoned();
            }
        })
        .map_err(|e| Refusal::Busy(format!("no thread for the upload: {e}")))?;
    Ok(result)
}

fn digest<D: Digest>(
    mut from: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> sha2::digest::Output<D> {
    let mut d = D::new();
    while let Some(chunk) = from.blocking_recv() {
        d.update(&chunk);
    }
    d.finalize()
}

/// Encrypts what arrives into `path`, syncs it, and returns the age header,
/// which is then overwritten with zeros in the file (crypto-shredding: the
/// header is kept in the catalog only, as a camera's recording's is).
fn encrypt(
    recipient: &age::x25519::Recipient,
    path: &Path,
    reserve: u64,
    mut from: tokio::sync::mpsc::Receiver<bytes::Bytes>,
) -> Result<Vec<u8>, Refusal> {
    let dir = path.parent().unwrap_or(path).to_owned();
    let mut since_check = 0u64;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    // The disk writes while the bytes are still arriving: a thread of its
    // own syncs what was written so far every so often, so the last sync
    // before `201` has little left to do (the kernel would otherwise hold
    // gigabytes in its cache and write them all at the end).
    let (tick, ticks) = std::sync::mpsc::sync_channel::<()>(1);
    let syncing = file.try_clone()?;
    let flusher = std::thread::spawn(move || {
        for () in ticks {
            let _ = syncing.sync_data();
        }
    });
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
            .map_err(|e| Refusal::Unavailable(e.to_string()))?;
    let mut stream = encryptor.wrap_output(out)?;
    while let Some(chunk) = from.blocking_recv() {
        if custos_faults::disk_full("axis:staging") {
            return Err(Refusal::Full);
        }
        since_check += chunk.len() as u64;
        if since_check >= SPACE_CHECK_EVERY {
            since_check = 0;
            if fs4::available_space(&dir)? < reserve {
                return Err(Refusal::Full);
            }
            // Skipped while the last sync still runs.
            let _ = tick.try_send(());
        }
        stream.write_all(&chunk)?;
        custos_faults::crash_point("server:axis:receive");
    }
    let file = stream
        .finish()?
        .into_inner()
        .map_err(|e| Refusal::from(e.into_error()))?;
    drop(tick);
    let _ = flusher.join();
    file.sync_all()?;
    drop(file);
    let header = crate::ingest::read_age_header(path)?;
    crate::ingest::write_prefix(path, &vec![0u8; header.len()])?;
    Ok(header)
}
