//! Uploads' bytes as objects of an S3-compatible bucket, `storage.media_url`
//! (`s3://bucket/optional/prefix`), which every node reads: `{prefix}/{deviceId}/{uploadId}`.
//!
//! The client is `object_store`'s, configured as its `AmazonS3Builder::from_env` is (the
//! `AWS_*` variables: credentials, region, endpoint, `AWS_ALLOW_HTTP`), then by the URL's
//! query, whose keys are the builder's own (`?endpoint=…&region=…&allow_http=true`), so that
//! one setting can say everything; an option it does not know fails the start.
//!
//! An upload streams into the bucket as it arrives: up to one part of [`PART_BYTES`] is held,
//! sent with one `PUT` when the file is no larger, else as a multipart upload whose parts go
//! one at a time, so a 16 MiB file never costs more than a part's memory. A download streams
//! out of the bucket the same way. The store records an upload only once its object is
//! stored whole; a node that dies in between leaves an object no upload names, which
//! [`Bucket::sweep`] removes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, RetryConfig};
use percent_encoding::percent_decode_str;
use tokio::io::AsyncWriteExt;

use super::{Arriving, UploadError, ID_PREFIX};
use crate::config::{Problem, SectionCheck, Settings};
use crate::device::DeviceError;
use crate::model::{upstream::FileStream, DeviceId};

/// S3's smallest part of a multipart upload (all but the last): what an upload holds at most.
const PART_BYTES: usize = 5 << 20;

/// Why `storage.media_url` cannot be used; each reads after the key's name.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("is not a URL: {0}")]
    NotAUrl(url::ParseError),
    #[error("must start with s3:// (s3://bucket/optional/prefix), not {0}://")]
    Scheme(String),
    #[error("names no bucket: write s3://bucket/optional/prefix")]
    NoBucket,
    #[error(
        "has option {0:?}, which is none of the S3 client's (such as endpoint, region, allow_http)"
    )]
    UnknownOption(String),
    #[error("names its bucket as an option too: the bucket is the URL's host")]
    BucketOption,
    #[error("cannot make an S3 client of it: {0}")]
    Client(object_store::Error),
}

/// Refuses a `storage.media_url` the daemon could not use, at startup, naming the key: a
/// wrong scheme, an unknown option, or options the client refuses. Whether the bucket can be
/// reached is not asked: the daemon starts without it, and answers uploads when it is back.
pub struct MediaBucketCheck;

impl SectionCheck for MediaBucketCheck {
    fn problems(&self, settings: &Settings, out: &mut Vec<Problem>) {
        if let Some(url) = &settings.storage.media_url {
            if let Err(error) = Bucket::new(url, Duration::ZERO) {
                out.push(Problem::new("storage.media_url", error));
            }
        }
    }
}

/// What a `storage.media_url` names.
struct Location {
    bucket: String,
    /// Where in the bucket the objects go: no leading or trailing `/`, maybe empty.
    prefix: String,
    options: Vec<(AmazonS3ConfigKey, String)>,
}

impl Location {
    fn parse(url: &str) -> Result<Self, BucketError> {
        let url = url::Url::parse(url).map_err(BucketError::NotAUrl)?;
        if url.scheme() != "s3" {
            return Err(BucketError::Scheme(url.scheme().to_owned()));
        }
        let bucket = url.host_str().filter(|bucket| !bucket.is_empty());
        let bucket = bucket.ok_or(BucketError::NoBucket)?.to_owned();
        let prefix = percent_decode_str(url.path().trim_matches('/'))
            .decode_utf8_lossy()
            .into_owned();
        let options = url
            .query_pairs()
            .map(|(key, value)| match key.parse() {
                Ok(AmazonS3ConfigKey::Bucket) => Err(BucketError::BucketOption),
                Ok(key) => Ok((key, value.into_owned())),
                Err(_) => Err(BucketError::UnknownOption(key.into_owned())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            bucket,
            prefix,
            options,
        })
    }
}

/// The bucket of `storage.media_url`.
#[derive(Clone)]
pub(super) struct Bucket {
    /// The bucket, seen from the prefix.
    objects: Arc<dyn ObjectStore>,
    /// How long an object may go without an upload naming it before a sweep removes it.
    grace: Duration,
    /// The objects the sweeps found that no upload named, and since when.
    suspects: Arc<Mutex<HashMap<Path, Instant>>>,
}

impl Bucket {
    /// The client of the bucket `url` names; no request is made yet. `grace` is the time
    /// between two sweeps (see [`Self::sweep`]).
    pub(super) fn new(url: &str, grace: Duration) -> Result<Self, BucketError> {
        let location = Location::parse(url)?;
        // An upload's answer waits for the bucket: one that is down is reported within
        // seconds, not after the client's default of ten retries over three minutes.
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(location.bucket)
            .with_retry(retry);
        for (key, value) in location.options {
            builder = builder.with_config(key, value);
        }
        let s3 = builder.build().map_err(BucketError::Client)?;
        Ok(Self {
            objects: Arc::new(PrefixStore::new(s3, location.prefix.as_str())),
            grace,
            suspects: Arc::default(),
        })
    }

    /// Stores `body` whole as the object of upload `upload_id` of device `id`, of type
    /// `mime`; returns its size. Nothing is left behind when it fails, but the parts of a
    /// multipart upload the bucket could not be told to abort.
    pub(super) async fn put<E: std::fmt::Display>(
        &self,
        id: &DeviceId,
        upload_id: &str,
        mime: &str,
        body: &mut Arriving<impl Stream<Item = Result<Bytes, E>> + Unpin>,
    ) -> Result<u64, UploadError> {
        let path = object(id.as_str(), upload_id);
        let attributes = Attributes::from_iter([(Attribute::ContentType, mime.to_owned())]);
        let mut writer = BufWriter::with_capacity(self.objects.clone(), path, PART_BYTES)
            .with_max_concurrency(1)
            .with_attributes(attributes);
        let size = match fill(&mut writer, body).await {
            Ok(size) => size,
            Err(error) => {
                if let Err(left) = writer.abort().await {
                    tracing::warn!(error = %left, "could not abort a multipart upload to the media bucket");
                }
                return Err(error);
            }
        };
        match writer.shutdown().await {
            Ok(()) => Ok(size),
            Err(error) => Err(failed("store an upload", error)),
        }
    }

    /// The bytes of upload `upload_id` of `device`, read from the bucket as the stream is read.
    pub(super) async fn open(
        &self,
        device: &str,
        upload_id: &str,
    ) -> Result<FileStream, DeviceError> {
        match self.objects.get(&object(device, upload_id)).await {
            Ok(found) => Ok(found.into_stream().map_err(std::io::Error::other).boxed()),
            Err(object_store::Error::NotFound { .. }) => Err(DeviceError::MediaNotFound(format!(
                "upload {upload_id} has no object in the media bucket"
            ))),
            Err(error) => {
                tracing::error!(%error, "the media bucket cannot be read");
                Err(DeviceError::MediaUnavailable)
            }
        }
    }

    /// Removes the object of upload `upload_id` of `device`.
    pub(super) async fn remove(&self, device: &str, upload_id: &str) {
        self.delete(vec![object(device, upload_id)]).await;
    }

    /// Removes the objects of a deleted device's uploads.
    pub(super) async fn forget(&self, device: &str) {
        match self.uploads_under(Some(&Path::from(device))).await {
            Ok(objects) => {
                self.delete(objects).await;
            }
            Err(error) => tracing::warn!(%error, "could not remove a device's uploads"),
        }
    }

    /// Every object of an upload in the bucket.
    pub(super) async fn list(&self) -> Result<Vec<Path>, UploadError> {
        self.uploads_under(None)
            .await
            .map_err(|error| failed("list its uploads", error))
    }

    /// The objects under `prefix` named as uploads are (`{deviceId}/up_…`): whatever else
    /// shares the bucket is never touched.
    async fn uploads_under(&self, prefix: Option<&Path>) -> object_store::Result<Vec<Path>> {
        self.objects
            .list(prefix)
            .map_ok(|object| object.location)
            .try_filter(|path| std::future::ready(upload_of(path).is_some()))
            .try_collect()
            .await
    }

    /// Removes the objects of `listed` that `known`, every upload as (device, id), has not
    /// named since at least the grace given to [`Self::new`] before `now`; returns how
    /// many. An upload's
    /// node stores its object before it records it, so an object a sweep finds unknown may
    /// be one whose record is being written: only one still unknown at a sweep `grace` or
    /// more later is removed, and the first sweep of a daemon removes none.
    pub(super) async fn sweep(
        &self,
        listed: Vec<Path>,
        known: &HashSet<(String, String)>,
        now: Instant,
    ) -> usize {
        let doomed = {
            let mut suspects = self
                .suspects
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut still = HashMap::new();
            let mut doomed = Vec::new();
            let unknown = listed
                .into_iter()
                .filter(|path| upload_of(path).is_some_and(|upload| !known.contains(&upload)));
            for path in unknown {
                let since = suspects.get(&path).copied().unwrap_or(now);
                if now.duration_since(since) >= self.grace {
                    doomed.push(path);
                } else {
                    still.insert(path, since);
                }
            }
            *suspects = still;
            doomed
        };
        self.delete(doomed).await
    }

    /// Deletes `objects`; returns how many went.
    async fn delete(&self, objects: Vec<Path>) -> usize {
        if objects.is_empty() {
            return 0;
        }
        let paths = stream::iter(objects.into_iter().map(Ok)).boxed();
        let results: Vec<_> = self.objects.delete_stream(paths).collect().await;
        let mut deleted = 0;
        for result in results {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
                Err(error) => {
                    tracing::warn!(%error, "could not remove an upload from the media bucket")
                }
            }
        }
        deleted
    }
}

/// Writes `body` into `writer` to its end; returns its size.
async fn fill<E: std::fmt::Display>(
    writer: &mut BufWriter,
    body: &mut Arriving<impl Stream<Item = Result<Bytes, E>> + Unpin>,
) -> Result<u64, UploadError> {
    while let Some(chunk) = body.next().await? {
        writer
            .put(chunk)
            .await
            .map_err(|error| failed("store an upload", error))?;
    }
    body.size()
}

/// The bucket failed to do `what`: logged here, as it is the operator's to fix, and answered
/// without its details.
fn failed(what: &str, error: impl std::fmt::Display) -> UploadError {
    tracing::error!(%error, "the media bucket could not {what}");
    UploadError::Bucket(error.to_string())
}

/// The object of upload `upload_id` of `device`.
fn object(device: &str, upload_id: &str) -> Path {
    Path::from_iter([device, upload_id])
}

/// The upload, as (device, id), whose object `path` is, if it is one's.
fn upload_of(path: &Path) -> Option<(String, String)> {
    let parts: Vec<_> = path.parts().collect();
    let [device, upload_id] = parts.as_slice() else {
        return None;
    };
    let (device, upload_id) = (device.as_ref(), upload_id.as_ref());
    (upload_id.starts_with(ID_PREFIX) && DeviceId::parse(device).is_ok())
        .then(|| (device.to_owned(), upload_id.to_owned()))
}
