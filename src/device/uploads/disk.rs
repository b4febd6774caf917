//! Uploads' bytes as files under `{storage.data_dir}/uploads/{deviceId}/`: each written whole
//! and synced before the store records it, so a crash leaves at worst a file nobody knows of,
//! which the next sweep removes. A cluster's node writes an upload here too, while it arrives,
//! and moves it into the store (see [`super::chunks`]).

use std::collections::HashSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{Arriving, UploadError};
use crate::device::DeviceError;
use crate::model::{upstream::FileStream, DeviceId};

/// The files of every device's uploads.
#[derive(Clone)]
pub(super) struct Files {
    /// `{storage.data_dir}/uploads`: one directory per device.
    dir: PathBuf,
}

impl Files {
    pub(super) fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("uploads"),
        }
    }

    /// The file of upload `upload_id` of `device`.
    pub(super) fn path(&self, device: &str, upload_id: &str) -> PathBuf {
        self.dir.join(device).join(upload_id)
    }

    /// Writes `body` whole to the file of upload `upload_id` of device `id`, synced with its
    /// directory; returns its size. Nothing is left behind when it fails.
    pub(super) async fn write<E: std::fmt::Display>(
        &self,
        id: &DeviceId,
        upload_id: &str,
        body: &mut Arriving<impl Stream<Item = Result<Bytes, E>> + Unpin>,
    ) -> Result<u64, UploadError> {
        let dir = self.dir.join(id.as_str());
        tokio::fs::create_dir_all(&dir).await?;
        let partial = dir.join(format!("{upload_id}.part"));
        let size = match write_whole(&partial, body).await {
            Ok(size) => size,
            Err(error) => {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(error);
            }
        };
        tokio::fs::rename(&partial, dir.join(upload_id)).await?;
        // The rename is durable only once the directory is synced.
        tokio::fs::File::open(&dir).await?.sync_all().await?;
        Ok(size)
    }

    /// The bytes of upload `upload_id` of `device`, read as the stream is read.
    pub(super) async fn open(
        &self,
        device: &str,
        upload_id: &str,
    ) -> Result<FileStream, DeviceError> {
        let file = tokio::fs::File::open(self.path(device, upload_id))
            .await
            .map_err(|error| {
                DeviceError::MediaNotFound(format!("upload {upload_id} is unreadable: {error}"))
            })?;
        Ok(ReaderStream::new(file).boxed())
    }

    /// Removes the file of upload `upload_id` of `device`.
    pub(super) async fn remove(&self, device: &str, upload_id: &str) {
        remove(&self.path(device, upload_id)).await;
    }

    /// Removes the files `known`, every upload as (device, id), does not name; returns how
    /// many.
    pub(super) async fn sweep(&self, known: &HashSet<(String, String)>) -> std::io::Result<usize> {
        let mut removed = 0;
        let mut devices = match tokio::fs::read_dir(&self.dir).await {
            Ok(devices) => devices,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
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
    pub(super) async fn forget(&self, device: &str) {
        let dir = self.dir.join(device);
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
    body: &mut Arriving<impl Stream<Item = Result<Bytes, E>> + Unpin>,
) -> Result<u64, UploadError> {
    let mut file = tokio::fs::File::create(path).await?;
    while let Some(chunk) = body.next().await? {
        file.write_all(&chunk).await?;
    }
    let size = body.size()?;
    file.sync_all().await?;
    Ok(size)
}

/// Removes a file that is no longer wanted; one already gone is fine.
pub(super) async fn remove(path: &Path) {
    if let Err(error) = tokio::fs::remove_file(path).await {
        if error.kind() != ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), %error, "could not remove an upload");
        }
    }
}
