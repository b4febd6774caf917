//! Uploads' bytes in the store (`upload_chunks`, PostgreSQL only), which every node of a
//! cluster reads: written in the commit that records the upload, in pieces of at most
//! [`uploads::CHUNK_BYTES`], and read back one piece at a time.

use std::path::Path;

use bytes::Bytes;
use futures_util::Stream;

use crate::model::DeviceId;
use crate::store::{uploads, Store, StoreError, StoreResult, Tx};

/// Keeps the bytes of the upload's `file` in the store, in the write that records it. It runs
/// on the store's writer, so it reads the file as it goes rather than holding it whole.
pub(super) fn keep(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    upload_id: &str,
    file: &Path,
) -> StoreResult<()> {
    use std::io::Read;
    let unreadable =
        |error: std::io::Error| StoreError::Unreadable(format!("{}: {error}", file.display()));
    let mut file = std::fs::File::open(file).map_err(unreadable)?;
    let mut piece = vec![0; uploads::CHUNK_BYTES];
    for n in 0.. {
        let mut filled = 0;
        while filled < piece.len() {
            match file.read(&mut piece[filled..]).map_err(unreadable)? {
                0 => break,
                read => filled += read,
            }
        }
        if filled == 0 {
            break;
        }
        tx.keep_upload_chunk(device, upload_id, n, &piece[..filled])?;
        if filled < piece.len() {
            break;
        }
    }
    Ok(())
}

/// The bytes of upload `upload_id` the store keeps, read one piece at a time as the stream is
/// read.
pub(super) fn read(
    store: Store,
    device: DeviceId,
    upload_id: String,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::try_unfold(0u64, move |n| {
        let (store, device, upload_id) = (store.clone(), device.clone(), upload_id.clone());
        async move {
            let piece = store
                .read(move |conn| uploads::chunk(conn, &device, &upload_id, n))
                .await
                .map_err(std::io::Error::other)?;
            Ok(piece.map(|piece| (Bytes::from(piece), n + 1)))
        }
    })
}
