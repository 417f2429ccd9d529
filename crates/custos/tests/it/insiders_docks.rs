//! Insiders at the dock: an upload belongs to the dock sending it, and one
//! request writes it at a time (issue 20).

use crate::common::*;
use custos_server::http::Code;
use custos_server::ingest::{IngestError, Offer};
use futures::StreamExt;

type Piece = Result<bytes::Bytes, std::io::Error>;

fn pieces(chunks: Vec<&'static [u8]>) -> futures::stream::Iter<std::vec::IntoIter<Piece>> {
    futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok(bytes::Bytes::from_static(c)))
            .collect::<Vec<_>>(),
    )
}

/// An upload belongs to the dock sending it: another dock can neither
/// learn where it stands, nor write to it, nor complete it; two writes at
/// once are not both kept; a camera moved to another dock mid-upload takes
/// its upload along, and the dock it left can no longer write to it.
/// One recording of camera cam-u, offered by dock A (nothing written yet).
struct Upload {
    w: World,
    manifest: Vec<u8>,
    signature: Vec<u8>,
    ciphertext: &'static [u8],
    upload_id: uuid::Uuid,
    length: u64,
    half: usize,
}

const A: &str = "dock-a";
const B: &str = "dock-b";

async fn offered_by_dock_a() -> Upload {
    let w = world().await;
    let cam = w.camera("cam-u", 1, true).await;
    let paths = &cam.pending_recordings().unwrap()[0];
    let manifest = std::fs::read(&paths.manifest).unwrap();
    let signature = std::fs::read(&paths.signature).unwrap();
    let ciphertext = std::fs::read(&paths.ciphertext).unwrap();
    let ciphertext: &'static [u8] = Box::leak(ciphertext.into_boxed_slice());
    let d = &w.server.deployment;
    let Offer::Upload {
        upload_id, length, ..
    } = d.ingest.offer(A, &manifest, &signature).await.unwrap()
    else {
        panic!("expected an upload")
    };
    assert_eq!(length, ciphertext.len() as u64);
    let half = ciphertext.len() / 2;
    Upload {
        w,
        manifest,
        signature,
        ciphertext,
        upload_id,
        length,
        half,
    }
}

impl Upload {
    /// Two writes of the first half at offset 0 at once, by dock A: what
    /// each was answered.
    async fn two_writes_at_once(&self) -> (Result<u64, IngestError>, Result<u64, IngestError>) {
        let (a, upload_id, half) = (A, self.upload_id, self.half);
        let (release, held) = futures::channel::oneshot::channel::<()>();
        let first_piece: &'static [u8] = &self.ciphertext[..half];
        let slow = futures::stream::once(async move {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(first_piece))
        })
        .chain(futures::stream::once(async move {
            let _ = held.await;
            Ok::<_, std::io::Error>(bytes::Bytes::new())
        }))
        .boxed();
        let ingest = &self.w.server.deployment.ingest;
        let first = ingest.append(a, upload_id, 0, slow);
        let second = async {
            // Let the first request claim the upload and write its piece.
            for _ in 0..1000 {
                if ingest.status(a, upload_id).await.unwrap().0 > 0 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let busy = ingest
                .append(a, upload_id, 0, pieces(vec![&self.ciphertext[..half]]))
                .await;
            let _ = release.send(());
            busy
        };
        tokio::join!(first, second)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_dock_can_neither_learn_where_an_upload_stands_nor_write_nor_complete_it() {
    let u = offered_by_dock_a().await;
    let (d, upload_id, half) = (&u.w.server.deployment, u.upload_id, u.half);
    let (a, b, length) = (A, B, u.length);
    // Another dock: the upload does not exist for it.
    assert_eq!(
        d.ingest.status(b, upload_id).await.unwrap_err().code(),
        Code::UploadNotFound
    );
    let err = d
        .ingest
        .append(b, upload_id, 0, pieces(vec![&u.ciphertext[..half]]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::UploadNotFound);
    assert_eq!(
        d.ingest.complete(b, upload_id).await.unwrap_err().code(),
        Code::UploadNotFound
    );
    assert_eq!(d.ingest.status(a, upload_id).await.unwrap(), (0, length));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_writes_at_once_the_second_is_told_the_upload_is_busy_and_one_is_kept() {
    let u = offered_by_dock_a().await;
    let (d, upload_id, half) = (&u.w.server.deployment, u.upload_id, u.half);
    let (a, length) = (A, u.length);
    let (first, second) = u.two_writes_at_once().await;
    assert_eq!(first.unwrap(), half as u64);
    assert_eq!(second.unwrap_err().code(), Code::UploadBusy);
    assert_eq!(
        d.ingest.status(a, upload_id).await.unwrap(),
        (half as u64, length),
        "only one of the two writes was kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_moved_to_another_dock_takes_its_upload_along_and_the_dock_it_left_cannot_write() {
    let u = offered_by_dock_a().await;
    let (d, upload_id, half) = (&u.w.server.deployment, u.upload_id, u.half);
    let (a, b, length) = (A, B, u.length);
    let _ = u.two_writes_at_once().await;
    // The camera moves to dock B: the upload goes with it, at its offset.
    match d.ingest.offer(b, &u.manifest, &u.signature).await.unwrap() {
        Offer::Upload {
            upload_id: moved,
            offset,
            ..
        } => assert_eq!((moved, offset), (upload_id, half as u64)),
        other => panic!("{other:?}"),
    }
    let err = d
        .ingest
        .append(
            a,
            upload_id,
            half as u64,
            pieces(vec![&u.ciphertext[half..]]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::UploadNotFound,
        "the dock it left cannot write"
    );
    d.ingest
        .append(
            b,
            upload_id,
            half as u64,
            pieces(vec![&u.ciphertext[half..]]),
        )
        .await
        .unwrap();
    let receipt = d.ingest.complete(b, upload_id).await.unwrap();
    assert_eq!(receipt.receipt().ciphertext_length, length);
    let moved: Vec<_> = audit_events(&u.w)
        .await
        .into_iter()
        .filter(|e| e.action == "upload.move")
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].detail.as_deref(), Some("from dock dock-a"));
}
