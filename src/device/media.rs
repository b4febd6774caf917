//! Files the daemon serves for its devices: media that an upstream keeps behind its
//! credentials (a Cloud API device's files, those WAHA serves itself), which received
//! messages show at `{server.public_url}/api/v1/devices/{id}/media/{mediaId}`.
//!
//! The same URL is what a client sends back to forward such a file, through the device that
//! received it or through another one. No upstream can fetch it (it would need a key of
//! ours), so the [`Library`] opens it from the upstream that has the file and the sending
//! connector hands the bytes over: inline to WAHA, uploaded to Meta (a Cloud API device
//! forwarding a file Meta sent it names it by its media id instead). Files clients uploaded
//! to send ([`Uploads`]) are served and forwarded the same way.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use percent_encoding::percent_decode_str;

use super::uploads::{Uploads, MAX_FORWARD_BYTES};
use super::{definition, stored, DeviceError};
use crate::config::Settings;
use crate::model::{
    spec::DeviceSpec,
    upstream::{media_base, ConnectorError, Download},
    DeviceId, Media,
};
use crate::store::Store;

/// Opens the files upstreams keep behind their credentials: what the library needs of the
/// connectors.
#[async_trait]
pub trait Downloads: Send + Sync {
    /// Opens file `media_id` that the device's upstream keeps behind its credentials, or
    /// `None` when its connector keeps no files.
    async fn download(
        &self,
        spec: &DeviceSpec,
        media_id: &str,
    ) -> Result<Option<Download>, ConnectorError>;
}

/// A whole file, read to be handed to another upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    pub mime: String,
}

/// Opens the files the daemon serves, for any of its devices.
#[derive(Clone)]
pub struct Library {
    store: Store,
    settings: Arc<Settings>,
    uploads: Uploads,
    connectors: Arc<dyn Downloads>,
}

impl Library {
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        uploads: Uploads,
        connectors: Arc<dyn Downloads>,
    ) -> Self {
        Self {
            store,
            settings,
            uploads,
            connectors,
        }
    }

    /// The files clients uploaded.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// Opens media `media_id` of device `id`: one uploaded to it, or one from its upstream.
    pub async fn open(&self, id: &DeviceId, media_id: &str) -> Result<Download, DeviceError> {
        if let Some(upload) = self.uploads.open(id, media_id).await? {
            return Ok(upload);
        }
        let spec = definition(&stored(&self.store, id).await?)?;
        match self.connectors.download(&spec, media_id).await {
            Ok(Some(file)) => Ok(file),
            Ok(None) => Err(DeviceError::MediaNotFound(format!(
                "device {id} has no such file: only the files uploaded to it are served"
            ))),
            Err(ConnectorError::Rejected(reason)) => Err(DeviceError::MediaNotFound(reason)),
            Err(error) => Err(error.into()),
        }
    }

    /// The device and media id `url` serves, if it is one of this daemon's media URLs.
    pub fn locate(&self, url: &str) -> Option<(DeviceId, String)> {
        locate(&self.settings.server.public_url, url)
    }

    /// Fills in what a send left out of a file it names by one of the daemon's upload URLs
    /// (its type, name and size), from the upload: such a URL has no file name to tell them.
    pub async fn complete(&self, media: &mut Media) -> Result<(), DeviceError> {
        let Some((device, media_id)) = self.locate(&media.url) else {
            return Ok(());
        };
        if let Some(upload) = self.uploads.find(&device, &media_id).await? {
            if media.mime.is_empty() {
                media.mime = upload.mime;
            }
            media.name = media.name.take().or(upload.name);
            media.size = media.size.or(Some(upload.size));
        }
        Ok(())
    }

    /// Reads the file at `url` whole, if `url` is one of this daemon's media URLs.
    pub async fn read(&self, url: &str) -> Option<Result<File, ConnectorError>> {
        let (device, media_id) = self.locate(url)?;
        Some(match self.open(&device, &media_id).await {
            Ok(download) => read_whole(download, url, MAX_FORWARD_BYTES).await,
            Err(DeviceError::Connector(error)) => Err(error),
            // As an upstream that is down: the send is tried again.
            Err(error @ DeviceError::MediaUnavailable) => {
                Err(ConnectorError::Unreachable(error.to_string()))
            }
            Err(error) => Err(ConnectorError::Rejected(format!(
                "cannot forward {url}: {error}"
            ))),
        })
    }
}

/// The device and media id of `url`, if it is under the device's [`media_base`].
fn locate(public_url: &str, url: &str) -> Option<(DeviceId, String)> {
    let device = url
        .strip_prefix(public_url.trim_end_matches('/'))?
        .strip_prefix("/api/v1/devices/")?
        .split('/')
        .next()?;
    let device = DeviceId::parse(device).ok()?;
    let media_id = url.strip_prefix(&media_base(public_url, &device))?;
    let media_id = percent_decode_str(media_id).decode_utf8().ok()?;
    (!media_id.is_empty()).then(|| (device, media_id.into_owned()))
}

/// Reads a download into memory, refusing one over `limit` bytes as it arrives: an upstream
/// that says nothing of a file's size, or says wrong, cannot make the daemon hold more.
pub async fn read_whole(
    download: Download,
    name: &str,
    limit: usize,
) -> Result<File, ConnectorError> {
    let mut body = download.body;
    let mut bytes = Vec::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|error| ConnectorError::Unreachable(error.to_string()))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(ConnectorError::Rejected(format!(
                "{name} is over {} MiB, too large to take",
                limit >> 20
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(File {
        bytes,
        mime: download.mime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_daemons_media_urls_are_located() {
        let at = |device: &str, media: &str| Some((DeviceId::parse(device).unwrap(), media.into()));
        assert_eq!(
            locate(
                "http://bridge:8080/",
                "http://bridge:8080/api/v1/devices/wa/media/default%2Fx%40c.us.jpeg"
            ),
            at("wa", "default/x@c.us.jpeg")
        );
        assert_eq!(
            locate(
                "http://bridge:8080",
                "http://bridge:8080/api/v1/devices/cl/media/1037543291543636"
            ),
            at("cl", "1037543291543636")
        );
        for elsewhere in [
            "https://cdn.example/api/v1/devices/wa/media/x.jpeg",
            "http://bridge:8080/api/v1/devices/wa/chats",
            "http://bridge:8080/api/v1/devices/wa/media/",
            "http://bridge:8080/api/v1/devices/Not%20an%20id/media/x",
        ] {
            assert_eq!(locate("http://bridge:8080", elsewhere), None, "{elsewhere}");
        }
    }
}
