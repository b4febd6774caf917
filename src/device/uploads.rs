//! Files clients upload to send: a dashboard's file picker has no URL an upstream could
//! fetch, so the file is uploaded to the daemon first (`POST …/devices/{id}/media`) and sent
//! by the URL that gives, `{server.public_url}/api/v1/devices/{id}/media/{uploadId}`, like a
//! file the device received. Sending it is forwarding a file the daemon serves (see
//! [`super::media`]): each connector hands the bytes over its own way.
//!
//! The bytes are a file under `{storage.data_dir}/uploads/{deviceId}/`, written whole and
//! synced before the store records it, so a crash leaves at worst a file nobody knows of,
//! which the next [`Uploads::sweep`] removes; never a recorded upload without its bytes.
//! Uploads older than `storage.upload_retention_days` are removed.
//!
//! In a cluster (the store on PostgreSQL) the node that takes an upload is seldom the one
//! that sends it, nor the one a download reaches: the bytes go into the shared store, in the
//! commit that records the upload, read from that file piece by piece, which is then removed;
//! every node reads them from there, one piece at a time.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{stored, DeviceError};
use crate::config::Settings;
use crate::model::{
    upstream::{media_base, Download},
    DeviceId, Media,
};
use crate::store::uploads::{self, Upload};
use crate::store::Store;

/// The largest file a device sends or forwards: it is held whole while it is sent (WAHA takes
/// it inline in base64; WhatsApp's own limit for images and videos is 16 MB).
pub const MAX_FORWARD_BYTES: usize = 16 << 20;

/// What every upload id starts with.
const ID_PREFIX: &str = "up_";

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is over {} MiB, the largest a device sends", MAX_FORWARD_BYTES >> 20)]
    TooLarge,
    #[error("the upload was cut off: {0}")]
    CutOff(String),
    #[error("could not store the file: {0}")]
    Disk(#[from] std::io::Error),
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// The uploaded files of every device.
#[derive(Clone)]
pub struct Uploads {
    store: Store,
    /// `{storage.data_dir}/uploads`: one directory per device.
    dir: PathBuf,
    public_url: String,
    /// Whether the bytes are kept in the store, which every node of a cluster reads.
    shared: bool,
}

impl Uploads {
    pub fn new(store: Store, settings: &Settings) -> Self {
        Self {
            store,
            dir: settings.storage.data_dir.join("uploads"),
            public_url: settings.server.public_url.clone(),
            shared: settings.storage.postgres_url().is_some(),
        }
    }

    /// Stores the file arriving as `body` for device `id`, and answers the `media` to send
    /// it with. Nothing is recorded unless the whole file was received and is on disk.
    pub async fn save<E: std::fmt::Display>(
        &self,
        id: &DeviceId,
        mime: String,
        name: Option<String>,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
    ) -> Result<Media, UploadError> {
        stored(&self.store, id).await?;
        let upload_id = format!("{ID_PREFIX}{}", ulid::Ulid::new());
        let size = match self.write_file(id, &upload_id, body).await {
            Err(UploadError::Disk(cause)) if crate::store::is_unwritable_file(&cause) => {
                self.store.file_unwritable(&cause);
                return Err(UploadError::Disk(cause));
            }
            written => written?,
        };
        let upload = Upload {
            id: upload_id,
            mime,
            name,
            size,
        };
        let (device, record) = (id.clone(), upload.clone());
        let file = self.dir.join(id.as_str()).join(&upload.id);
        let shared = self.shared.then(|| file.clone());
        let recorded = self
            .store
            .write(move |tx| {
                tx.record_upload(&device, &record)?;
                match shared {
                    Some(file) => keep_in_store(tx, &device, &record.id, &file),
                    None => Ok(()),
                }
            })
            .await;
        if self.shared {
            remove(&file).await;
        }
        recorded.map_err(DeviceError::from)?;
        Ok(Media {
            url: format!("{}{}", media_base(&self.public_url, id), upload.id),
            mime: upload.mime,
            name: upload.name,
            size: Some(upload.size),
            kind: None,
        })
    }

    /// Writes `body` whole to the file of upload `upload_id` of device `id`, synced with its
    /// directory; returns its size. Nothing is left behind when it fails.
    async fn write_file<E: std::fmt::Display>(
        &self,
        id: &DeviceId,
        upload_id: &str,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
    ) -> Result<u64, UploadError> {
        let dir = self.dir.join(id.as_str());
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(upload_id);
        let partial = dir.join(format!("{upload_id}.part"));
        let size = match write_whole(&partial, body).await {
            Ok(size) => size,
            Err(error) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(error);
            }
        };
        tokio::fs::rename(&partial, &path).await?;
        // The rename is durable only once the directory is synced.
        tokio::fs::File::open(&dir).await?.sync_all().await?;
        Ok(size)
    }

    /// What is known of upload `media_id` of device `id`, if `media_id` names one.
    pub async fn find(&self, id: &DeviceId, media_id: &str) -> Result<Option<Upload>, DeviceError> {
        if !media_id.starts_with(ID_PREFIX) {
            return Ok(None);
        }
        let (device, upload_id) = (id.clone(), media_id.to_owned());
        Ok(self
            .store
            .read(move |conn| uploads::find(conn, &device, &upload_id))
            .await?)
    }

    /// Opens upload `media_id` of device `id`; `None` when it is none of its uploads.
    pub async fn open(
        &self,
        id: &DeviceId,
        media_id: &str,
    ) -> Result<Option<Download>, DeviceError> {
        let Some(upload) = self.find(id, media_id).await? else {
            return Ok(None);
        };
        if self.shared {
            return Ok(Some(Download {
                mime: upload.mime,
                length: Some(upload.size),
                body: self.chunks(id.clone(), upload.id).boxed(),
            }));
        }
        let file = tokio::fs::File::open(self.dir.join(id.as_str()).join(&upload.id))
            .await
            .map_err(|error| {
                DeviceError::MediaNotFound(format!("upload {} is unreadable: {error}", upload.id))
            })?;
        Ok(Some(Download {
            mime: upload.mime,
            length: Some(upload.size),
            body: ReaderStream::new(file).boxed(),
        }))
    }

    /// The bytes of upload `upload_id` the store keeps, read one piece at a time as the
    /// stream is read.
    fn chunks(
        &self,
        device: DeviceId,
        upload_id: String,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let store = self.store.clone();
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

    /// Removes the uploads made before `cutoff`; returns how many.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, UploadError> {
        let removed = self
            .store
            .write(move |tx| tx.forget_uploads_before(cutoff))
            .await
            .map_err(DeviceError::from)?;
        for (device, id) in &removed {
            remove(&self.dir.join(device).join(id)).await;
        }
        Ok(removed.len())
    }

    /// Removes the files no upload record names: those of an upload cut off by a crash, and
    /// those of deleted devices. Run before the daemon takes uploads.
    pub async fn sweep(&self) -> Result<usize, UploadError> {
        let known = self
            .store
            .read(uploads::all)
            .await
            .map_err(DeviceError::from)?;
        let mut removed = 0;
        let mut devices = match tokio::fs::read_dir(&self.dir).await {
            Ok(devices) => devices,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error.into()),
        };
        while let Ok(Some(device)) = devices.next_entry().await {
            let device_name = device.file_name().to_string_lossy().into_owned();
            let Ok(mut files) = tokio::fs::read_dir(device.path()).await else {
                continue;
            };
            let mut kept = 0;
            while let Ok(Some(file)) = files.next_entry().await {
                let name = file.file_name().to_string_lossy().into_owned();
                if known.contains(&(device_name.clone(), name)) {
                    kept += 1;
                } else {
                    remove(&file.path()).await;
                    removed += 1;
                }
            }
            if kept == 0 {
                let _ = tokio::fs::remove_dir(device.path()).await;
            }
        }
        Ok(removed)
    }

    /// Removes the files of a deleted device.
    pub async fn forget(&self, id: &DeviceId) {
        let dir = self.dir.join(id.as_str());
        if let Err(error) = tokio::fs::remove_dir_all(&dir).await {
            if error.kind() != ErrorKind::NotFound {
                tracing::warn!(path = %dir.display(), %error, "could not remove a device's uploads");
            }
        }
    }
}

/// Writes `body` to `path` and syncs it; returns its size.
async fn write_whole<E: std::fmt::Display>(
    path: &Path,
    mut body: impl Stream<Item = Result<Bytes, E>> + Unpin,
) -> Result<u64, UploadError> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut size = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| UploadError::CutOff(error.to_string()))?;
        size += chunk.len();
        if size > MAX_FORWARD_BYTES {
            return Err(UploadError::TooLarge);
        }
        file.write_all(&chunk).await?;
    }
    if size == 0 {
        return Err(UploadError::Empty);
    }
    file.sync_all().await?;
    Ok(size as u64)
}

/// Keeps the bytes of the upload's `file` in the store, in pieces of at most
/// [`uploads::CHUNK_BYTES`], in the write that records it. It runs on the store's writer, so
/// it reads the file as it goes rather than holding it whole.
fn keep_in_store(
    tx: &mut crate::store::Tx<'_>,
    device: &DeviceId,
    upload_id: &str,
    file: &Path,
) -> crate::store::StoreResult<()> {
    use std::io::Read;
    let unreadable = |error: std::io::Error| {
        crate::store::StoreError::Unreadable(format!("{}: {error}", file.display()))
    };
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

/// Removes a file that is no longer wanted; one already gone is fine.
async fn remove(path: &Path) {
    if let Err(error) = tokio::fs::remove_file(path).await {
        if error.kind() != ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), %error, "could not remove an upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use futures_util::stream;

    use super::*;
    use crate::bus::EventBus;
    use crate::model::spec::DeviceSpec;
    use crate::store::{DeviceRecord, DeviceSource};

    /// Uploads over a real store in a temporary directory, with device `phone` in it.
    async fn uploads_of_a_phone() -> (tempfile::TempDir, Uploads, DeviceId) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.storage.data_dir = dir.path().to_owned();
        let store = Store::open(&settings.storage, EventBus::new()).unwrap();
        let id = DeviceId::parse("phone").unwrap();
        let spec: DeviceSpec =
            serde_json::from_value(serde_json::json!({ "name": "Phone" })).unwrap();
        let record = DeviceRecord::new(id.clone(), &spec, DeviceSource::Api);
        store
            .write(move |tx| tx.upsert_device(&record))
            .await
            .unwrap();
        (dir, Uploads::new(store, &settings), id)
    }

    fn chunks(
        parts: Vec<std::io::Result<&'static [u8]>>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin {
        stream::iter(parts.into_iter().map(|part| part.map(Bytes::from_static)))
    }

    #[tokio::test]
    async fn uploads_older_than_the_cutoff_go_with_their_files() {
        let (_dir, uploads, id) = uploads_of_a_phone().await;
        let media = uploads
            .save(
                &id,
                "text/plain".into(),
                None,
                chunks(vec![Ok(b"he"), Ok(b"llo")]),
            )
            .await
            .unwrap();
        assert_eq!(media.size, Some(5));
        let upload_id = media.url.rsplit('/').next().unwrap().to_owned();
        let path = uploads.dir.join("phone").join(&upload_id);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");

        assert_eq!(
            uploads
                .prune(Utc::now() - Duration::hours(1))
                .await
                .unwrap(),
            0
        );
        let opened = uploads.open(&id, &upload_id).await.unwrap().unwrap();
        assert_eq!(
            (opened.mime.as_str(), opened.length),
            ("text/plain", Some(5))
        );

        assert_eq!(
            uploads
                .prune(Utc::now() + Duration::seconds(1))
                .await
                .unwrap(),
            1
        );
        assert!(!path.exists());
        assert!(uploads.open(&id, &upload_id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_upload_cut_off_midway_is_neither_kept_nor_recorded() {
        let (_dir, uploads, id) = uploads_of_a_phone().await;
        let cut = chunks(vec![
            Ok(b"first half"),
            Err(std::io::Error::other("connection reset")),
        ]);
        let error = uploads
            .save(&id, "video/mp4".into(), None, cut)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, UploadError::CutOff(why) if why.contains("connection reset")),
            "{error}"
        );
        let left: Vec<_> = std::fs::read_dir(uploads.dir.join("phone"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(uploads.store.read(uploads::all).await.unwrap().is_empty());
    }
}
