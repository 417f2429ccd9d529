//! Resumable pieces of an upload: one writer per upload at a time, hashed
//! as they arrive, appended to its staging file.

use super::*;

/// An upload claimed by one request; released when the request ends,
/// however it ends.
pub(super) struct Writing<'a> {
    ingest: &'a Ingest,
    upload_id: Uuid,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.ingest
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.upload_id);
    }
}

impl Ingest {
    /// Where an upload stands: (offset, length). Only the dock sending it
    /// learns it; to any other the upload does not exist.
    pub async fn status(&self, dock: &str, upload_id: Uuid) -> Result<(u64, u64), IngestError> {
        let upload = self.upload_of(dock, upload_id).await?;
        let length = parse_stored(&upload)?.manifest().ciphertext.length;
        Ok((self.staged_length(upload_id).await, length))
    }

    pub(super) async fn upload_of(
        &self,
        dock: &str,
        upload_id: Uuid,
    ) -> Result<Upload, IngestError> {
        self.catalog
            .upload(upload_id)
            .await?
            .filter(|u| u.dock_id == dock)
            .ok_or(IngestError::UploadNotFound(upload_id))
    }

    pub(super) async fn staged_length(&self, upload_id: Uuid) -> u64 {
        tokio::fs::metadata(self.staging_path(upload_id))
            .await
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// One request at a time writes or completes an upload.
    pub(super) async fn claim(&self, upload_id: Uuid) -> Result<Writing<'_>, IngestError> {
        let claimed = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(upload_id);
        if !claimed {
            return Err(IngestError::UploadBusy {
                current: self.staged_length(upload_id).await,
            });
        }
        Ok(Writing {
            ingest: self,
            upload_id,
        })
    }

    /// Appends a piece of ciphertext at `offset`. Whatever arrives before a
    /// connection breaks is kept, so the next try resumes after it.
    pub async fn append<S, E>(
        &self,
        dock: &str,
        upload_id: Uuid,
        offset: u64,
        mut body: S,
    ) -> Result<u64, IngestError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        // Whose it is first: another dock learns nothing, not even "busy".
        self.upload_of(dock, upload_id).await?;
        let _writing = self.claim(upload_id).await?;
        let (current, length) = self.status(dock, upload_id).await?;
        if current != offset {
            return Err(IngestError::OffsetMismatch {
                current,
                claimed: offset,
            });
        }
        // Hash as the bytes arrive, so completing needs no second read; the
        // state is kept only while it matches the staged bytes exactly.
        let hasher = {
            let mut hashers = self
                .hashers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match hashers.remove(&upload_id) {
                Some((at, h)) if at == current => Some(h),
                _ if current == 0 => Some(Sha256::new()),
                _ => None,
            }
        };
        // Hashing and writing run on their own thread, fed the received
        // buffers without copying: the connection task only decrypts and frames.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(32);
        let path = self.staging_path(upload_id);
        let writer =
            tokio::task::spawn_blocking(move || -> (std::io::Result<()>, Option<Sha256>) {
                use std::io::Write;
                let mut hasher = hasher;
                // Created if missing: a crash may have moved it into blob storage
                // before the catalog row was committed; the upload then starts over.
                let file = match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                {
                    Ok(f) => f,
                    Err(e) => return (Err(e), None),
                };
                // 256 KiB per upload in flight keeps memory bounded at a shift change.
                let mut file = std::io::BufWriter::with_capacity(256 << 10, file);
                while let Some(chunk) = rx.blocking_recv() {
                    if custos_faults::disk_full("ingest:staging") {
                        return (Err(std::io::ErrorKind::StorageFull.into()), None);
                    }
                    if let Err(e) = file.write_all(&chunk) {
                        return (Err(e), None);
                    }
                    if let Some(h) = &mut hasher {
                        h.update(&chunk);
                    }
                    custos_faults::crash_point("server:append");
                }
                (file.flush(), hasher)
            });
        let mut position = current;
        let mut writer_failed = false;
        let outcome = loop {
            let Some(chunk) = body.next().await else {
                break Ok(());
            };
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => break Err(IngestError::Unavailable(format!("upload interrupted: {e}"))),
            };
            if position + chunk.len() as u64 > length {
                break Err(IngestError::TooLarge { length });
            }
            position += chunk.len() as u64;
            // Once the writer has failed (a full disk, say), the rest of the
            // body is read and dropped, never more than the manifest's
            // length: a server that stops reading resets the connection, and
            // the dock would hear a broken pipe instead of `507
            // storage-full` (the fault bench found it on a real full disk).
            if !writer_failed && tx.send(chunk).await.is_err() {
                writer_failed = true; // its error is reported below
            }
        };
        drop(tx);
        let (written, hasher) = writer
            .await
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        match (outcome, written) {
            (Ok(()), Ok(())) => {
                if let Some(h) = hasher {
                    self.hashers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(upload_id, (position, h));
                }
                Ok(position)
            }
            (_, Err(e)) => Err(e.into()),
            (Err(e), Ok(())) => Err(e),
        }
    }
}
