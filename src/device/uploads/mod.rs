//! Files clients upload to send: a dashboard's file picker has no URL an upstream could
//! fetch, so the file is uploaded to the daemon first (`POST …/devices/{id}/media`) and sent
//! by the URL that gives, `{server.public_url}/api/v1/devices/{id}/media/{uploadId}`, like a
//! file the device received. Sending it is forwarding a file the daemon serves (see
//! [`super::media`]): each connector hands the bytes over its own way.
//!
//! Where the bytes are kept ([`Keeping`]) depends on who must read them:
//! - one daemon keeps them as a file under `{storage.data_dir}/uploads/{deviceId}/` ([`disk`]);
//! - in a cluster (the store on PostgreSQL) the node that takes an upload is seldom the one
//!   that sends it, nor the one a download reaches: the bytes go into the shared store, in
//!   the commit that records the upload ([`chunks`]), and every node reads them from there;
//! - with `storage.media_url` they are an object in an S3-compatible bucket ([`bucket`]),
//!   which every node reads, so that neither a disk nor the database holds them.
//!
//! Whichever it is, the store records an upload only once its bytes are kept whole, so a
//! crash leaves at worst bytes nobody knows of, which a sweep removes; never a recorded
//! upload without its bytes. Uploads older than `storage.upload_retention_days` are removed
//! with their bytes.

mod bucket;
mod chunks;
mod disk;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use self::bucket::Bucket;
use self::disk::Files;
use super::{stored, DeviceError};
use crate::config::Settings;
use crate::model::{
    upstream::{media_base, Download},
    DeviceId, Media,
};
use crate::store::uploads::{self, Upload};
use crate::store::Store;

pub use self::bucket::{BucketError, MediaBucketCheck};

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
    /// The bucket of `storage.media_url` failed; logged where it happened.
    #[error("the media bucket failed: {0}")]
    Bucket(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// Where the bytes of uploads are kept (see the module's documentation).
enum Keeping {
    /// Files in the data directory: one daemon.
    Files,
    /// The store's `upload_chunks`, which every node of a cluster reads.
    Store,
    /// An S3-compatible bucket, `storage.media_url`.
    Bucket(Bucket),
}

/// The uploaded files of every device.
#[derive(Clone)]
pub struct Uploads {
    store: Store,
    /// Files of uploads being received, and of every upload when they are kept as files.
    files: Files,
    public_url: String,
    keeping: Arc<Keeping>,
}

impl Uploads {
    /// The uploads of the daemon with `settings`; its bucket's client is made here, with no
    /// request yet, so a `storage.media_url` it cannot use fails the start.
    pub fn new(store: Store, settings: &Settings) -> Result<Self, BucketError> {
        let storage = &settings.storage;
        let keeping = match (&storage.media_url, storage.postgres_url()) {
            (Some(url), _) => {
                let round = Duration::from_secs(settings.journal.prune_interval_secs);
                Keeping::Bucket(Bucket::new(url, round)?)
            }
            (None, Some(_)) => Keeping::Store,
            (None, None) => Keeping::Files,
        };
        Ok(Self {
            store,
            files: Files::new(&storage.data_dir),
            public_url: settings.server.public_url.clone(),
            keeping: Arc::new(keeping),
        })
    }

    /// Stores the file arriving as `body` for device `id`, and answers the `media` to send
    /// it with. Nothing is recorded unless the whole file was received and is kept.
    pub async fn save<E: std::fmt::Display>(
        &self,
        id: &DeviceId,
        mime: String,
        name: Option<String>,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
    ) -> Result<Media, UploadError> {
        stored(&self.store, id).await?;
        let upload_id = format!("{ID_PREFIX}{}", ulid::Ulid::new());
        let mut body = Arriving::new(body);
        let size = match &*self.keeping {
            Keeping::Bucket(bucket) => bucket.put(id, &upload_id, &mime, &mut body).await?,
            Keeping::Files | Keeping::Store => {
                match self.files.write(id, &upload_id, &mut body).await {
                    Err(UploadError::Disk(cause)) if crate::store::is_unwritable_file(&cause) => {
                        self.store.file_unwritable(&cause);
                        return Err(UploadError::Disk(cause));
                    }
                    written => written?,
                }
            }
        };
        let upload = Upload {
            id: upload_id,
            mime,
            name,
            size,
        };
        // Kept in the store, the bytes are read from the file as the write records them.
        let file = matches!(*self.keeping, Keeping::Store)
            .then(|| self.files.path(id.as_str(), &upload.id));
        let (device, record, into_store) = (id.clone(), upload.clone(), file.clone());
        let recorded = self
            .store
            .write(move |tx| {
                tx.record_upload(&device, &record)?;
                match &into_store {
                    Some(file) => chunks::keep(tx, &device, &record.id, file),
                    None => Ok(()),
                }
            })
            .await;
        if let Some(file) = &file {
            disk::remove(file).await;
        }
        if let (Err(_), Keeping::Bucket(bucket)) = (&recorded, &*self.keeping) {
            // Unrecorded, the object would wait for a sweep.
            bucket.remove(id.as_str(), &upload.id).await;
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
        let body = match &*self.keeping {
            Keeping::Files => self.files.open(id.as_str(), &upload.id).await?,
            Keeping::Store => chunks::read(self.store.clone(), id.clone(), upload.id).boxed(),
            Keeping::Bucket(bucket) => bucket.open(id.as_str(), &upload.id).await?,
        };
        Ok(Some(Download {
            mime: upload.mime,
            length: Some(upload.size),
            body,
        }))
    }

    /// Removes the uploads made before `cutoff`, with their bytes; returns how many.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, UploadError> {
        let removed = self
            .store
            .write(move |tx| tx.forget_uploads_before(cutoff))
            .await
            .map_err(DeviceError::from)?;
        for (device, id) in &removed {
            match &*self.keeping {
                Keeping::Files => self.files.remove(device, id).await,
                // Gone with their rows.
                Keeping::Store => {}
                Keeping::Bucket(bucket) => bucket.remove(device, id).await,
            }
        }
        Ok(removed.len())
    }

    /// Removes the files no upload record names (those of an upload cut off by a crash, and
    /// those of deleted devices), and takes a first look at the bucket's objects (see
    /// [`Self::sweep_bucket`]). Run before the daemon takes uploads.
    pub async fn sweep(&self) -> Result<usize, UploadError> {
        let known = self.known().await?;
        let removed = self.files.sweep(&known).await?;
        Ok(removed + self.sweep_bucket().await?)
    }

    /// Removes the bucket's objects that no upload has named for a round of pruning or more:
    /// those of an upload whose node died between storing its object and recording it, and
    /// those of deleted devices. Run at every round of pruning (see [`Bucket::sweep`] for why
    /// an object is given a round).
    pub async fn sweep_bucket(&self) -> Result<usize, UploadError> {
        let Keeping::Bucket(bucket) = &*self.keeping else {
            return Ok(0);
        };
        let listed = bucket.list().await?;
        // Read after the listing, so that an upload recorded meanwhile is known.
        let known = self.known().await?;
        Ok(bucket
            .sweep(listed, &known, std::time::Instant::now())
            .await)
    }

    /// Every upload the store records, as (device, id).
    async fn known(&self) -> Result<HashSet<(String, String)>, UploadError> {
        Ok(self
            .store
            .read(uploads::all)
            .await
            .map_err(DeviceError::from)?)
    }

    /// Removes the bytes of a deleted device's uploads.
    pub async fn forget(&self, id: &DeviceId) {
        self.files.forget(id.as_str()).await;
        if let Keeping::Bucket(bucket) = &*self.keeping {
            bucket.forget(id.as_str()).await;
        }
    }
}

/// Puts the files of the uploads a daemon on SQLite kept under `data_dir` into the bucket of
/// `media_url`, before `devicebridge migrate` copies their records into PostgreSQL: a daemon
/// on the copy with that `storage.media_url` reads them there. Tells `progress` how many are
/// in after each; returns how many were put. An upload whose file is gone (removed by hand) is
/// skipped, as the copy into the database skips it: it could not be sent from SQLite either.
/// A put that fails ends it; what it put before is swept later if the copy does not follow.
pub async fn put_files_in_bucket(
    media_url: &str,
    data_dir: &std::path::Path,
    uploads: &[crate::store::copy::RecordedUpload],
    mut progress: impl FnMut(u64),
) -> Result<u64, UploadError> {
    let bucket = Bucket::new(media_url, Duration::ZERO)
        .map_err(|error| UploadError::Bucket(error.to_string()))?;
    let files = Files::new(data_dir);
    let mut put = 0;
    for upload in uploads {
        let device = DeviceId::parse(&upload.device)
            .map_err(|error| UploadError::Bucket(format!("{}: {error}", upload.device)))?;
        let file = match files.open(&upload.device, &upload.id).await {
            Ok(file) => file,
            Err(error) => {
                tracing::warn!(device_id = %device, upload_id = %upload.id, %error, "an upload's file is unreadable; it is not put in the bucket");
                continue;
            }
        };
        bucket
            .put(&device, &upload.id, &upload.mime, &mut Arriving::new(file))
            .await?;
        put += 1;
        progress(put);
    }
    Ok(put)
}

/// An upload's body as it arrives, refused once it is cut off or over [`MAX_FORWARD_BYTES`],
/// wherever its bytes go.
struct Arriving<B> {
    body: B,
    size: usize,
}

impl<B, E> Arriving<B>
where
    B: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn new(body: B) -> Self {
        Self { body, size: 0 }
    }

    /// The next piece of the body; `None` at its end.
    async fn next(&mut self) -> Result<Option<Bytes>, UploadError> {
        let Some(chunk) = self.body.next().await else {
            return Ok(None);
        };
        let chunk = chunk.map_err(|error| UploadError::CutOff(error.to_string()))?;
        self.size += chunk.len();
        if self.size > MAX_FORWARD_BYTES {
            return Err(UploadError::TooLarge);
        }
        Ok(Some(chunk))
    }

    /// The size of the body, read to its end: an empty file is refused.
    fn size(&self) -> Result<u64, UploadError> {
        match self.size {
            0 => Err(UploadError::Empty),
            size => Ok(size as u64),
        }
    }
}
