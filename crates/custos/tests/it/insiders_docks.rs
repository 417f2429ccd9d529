//! Insiders at the dock: an upload belongs to the dock sending it, and one
//! request writes it at a time (issue 20).

use crate::common::*;
use custos_server::http::Code;

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
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_bound_to_its_dock_and_written_by_one_request_at_a_time() {
    use custos_server::ingest::Offer;
    use futures::StreamExt;
    let w = world().await;
    let d = &w.server.deployment;
    let cam = w.camera("cam-u", 1, true).await;
    let paths = &cam.pending_recordings().unwrap()[0];
    let manifest = std::fs::read(&paths.manifest).unwrap();
    let signature = std::fs::read(&paths.signature).unwrap();
    let ciphertext = std::fs::read(&paths.ciphertext).unwrap();
    let ciphertext: &'static [u8] = Box::leak(ciphertext.into_boxed_slice());
    let (a, b) = ("dock-a", "dock-b");
    let Offer::Upload {
        upload_id, length, ..
    } = d.ingest.offer(a, &manifest, &signature).await.unwrap()
    else {
        panic!("expected an upload")
    };
    assert_eq!(length, ciphertext.len() as u64);
    let half = ciphertext.len() / 2;

    // Another dock: the upload does not exist for it.
    assert_eq!(
        d.ingest.status(b, upload_id).await.unwrap_err().code(),
        Code::UploadNotFound
    );
    let err = d
        .ingest
        .append(b, upload_id, 0, pieces(vec![&ciphertext[..half]]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::UploadNotFound);
    assert_eq!(
        d.ingest.complete(b, upload_id).await.unwrap_err().code(),
        Code::UploadNotFound
    );
    assert_eq!(d.ingest.status(a, upload_id).await.unwrap(), (0, length));

    // Two writes at offset 0 at once: the second is told the upload is busy.
    let (release, held) = futures::channel::oneshot::channel::<()>();
    let first_piece: &'static [u8] = &ciphertext[..half];
    let slow = futures::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(first_piece))
    })
    .chain(futures::stream::once(async move {
        let _ = held.await;
        Ok::<_, std::io::Error>(bytes::Bytes::new())
    }))
    .boxed();
    let ingest = &d.ingest;
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
            .append(a, upload_id, 0, pieces(vec![&ciphertext[..half]]))
            .await;
        let _ = release.send(());
        busy
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap(), half as u64);
    assert_eq!(second.unwrap_err().code(), Code::UploadBusy);
    assert_eq!(
        d.ingest.status(a, upload_id).await.unwrap(),
        (half as u64, length),
        "only one of the two writes was kept"
    );

    // The camera moves to dock B: the upload goes with it, at its offset.
    match d.ingest.offer(b, &manifest, &signature).await.unwrap() {
        Offer::Upload {
            upload_id: moved,
            offset,
            ..
        } => assert_eq!((moved, offset), (upload_id, half as u64)),
        other => panic!("{other:?}"),
    }
    let err = d
        .ingest
        .append(a, upload_id, half as u64, pieces(vec![&ciphertext[half..]]))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::UploadNotFound,
        "the dock it left cannot write"
    );
    d.ingest
        .append(b, upload_id, half as u64, pieces(vec![&ciphertext[half..]]))
        .await
        .unwrap();
    let receipt = d.ingest.complete(b, upload_id).await.unwrap();
    assert_eq!(receipt.receipt().ciphertext_length, length);
    let moved: Vec<_> = audit_events(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "upload.move")
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].detail.as_deref(), Some("from dock dock-a"));
}
