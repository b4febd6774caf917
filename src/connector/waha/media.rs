//! Files of received messages. WAHA serves them itself under `{base_url}/api/files/`, behind
//! its API key when it has one, which a dashboard must never hold; so a message carries a URL
//! of the daemon's instead (`/api/v1/devices/{id}/media/{file}`, the file's path under
//! `/api/files/` in one segment), and a download there is fetched from WAHA with the key and
//! streamed through. A URL elsewhere (WAHA can keep files in S3) is left as it is.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::connector::http::{self, Http};
use crate::model::{spec::WahaSpec, upstream::ConnectorError, upstream::Download};

/// What a file's path is encoded with to make one segment of the daemon's URL: all but
/// letters, digits and `-._`, so its `/`s too.
const ONE_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_');

/// Where WAHA serves files, and where the daemon serves them again.
pub struct Files {
    waha: String,
    session: String,
    ours: String,
}

impl Files {
    /// `media_base` is where the daemon serves the device's media (see
    /// [`crate::model::upstream::media_base`]).
    pub fn new(spec: &WahaSpec, media_base: &str) -> Self {
        Self {
            waha: format!("{}/api/files/", spec.base_url.trim_end_matches('/')),
            session: spec.session.clone(),
            ours: media_base.to_owned(),
        }
    }

    /// The URL a message shows for a file WAHA reported at `url`.
    pub fn url(&self, url: &str) -> String {
        match url.strip_prefix(&self.waha) {
            Some(file) if path(&self.session, file).is_some() => {
                format!("{}{}", self.ours, utf8_percent_encode(file, ONE_SEGMENT))
            }
            _ => url.to_owned(),
        }
    }
}

/// The segments of a file's path under `/api/files/`, if it is a file of `session`:
/// `{session}/{file}` (or a bare `{file}`, as older WAHA versions serve them), with no `.` or
/// `..`, query or fragment. A device's credential reaches its own session's files only, not
/// those of other sessions on the same WAHA.
fn path<'f>(session: &str, file: &'f str) -> Option<Vec<&'f str>> {
    let segments: Vec<&str> = file.split('/').collect();
    let name = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains(['?', '#', '\\']);
    let ours = match segments.as_slice() {
        [file] => name(file),
        [of, file] => *of == session && name(file),
        _ => false,
    };
    ours.then_some(segments)
}

/// Opens `file` (its path under `/api/files/`) from WAHA. A path that would leave
/// `/api/files/` is [`ConnectorError::Rejected`] before any request.
pub async fn download(
    spec: &WahaSpec,
    http: &Http,
    file: &str,
) -> Result<Download, ConnectorError> {
    let segments = path(&spec.session, file)
        .ok_or_else(|| ConnectorError::Rejected(format!("{file:?} is not a file WAHA serves")))?;
    let mut url = Url::parse(&spec.base_url)
        .map_err(|error| ConnectorError::Rejected(format!("`waha.base_url`: {error}")))?;
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .extend(["api", "files"])
            .extend(segments);
    }
    let mut request = http.get(url);
    if let Some(key) = &spec.api_key {
        request = request.header("X-Api-Key", key.expose());
    }
    Ok(http::download(http.open(request).await?, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_waha_serves_get_the_daemons_url_and_others_keep_theirs() {
        let spec = WahaSpec {
            base_url: "http://waha:3000/".into(),
            ..WahaSpec::default()
        };
        let files = Files::new(&spec, "http://bridge/api/v1/devices/wa/media/");
        assert_eq!(
            files.url("http://waha:3000/api/files/default/true_111@c.us_AAA.jpeg"),
            "http://bridge/api/v1/devices/wa/media/default%2Ftrue_111%40c.us_AAA.jpeg"
        );
        for elsewhere in [
            "https://bucket.s3.amazonaws.com/default/x.jpeg",
            "http://waha:3000/api/files/../api/sessions",
            "http://waha:3000/api/files/default/x.jpeg?download=1",
            "http://waha:3000/api/files/other/x.jpeg",
        ] {
            assert_eq!(files.url(elsewhere), elsewhere);
        }
    }

    #[test]
    fn only_files_of_the_devices_session_are_fetched() {
        assert_eq!(
            path("default", "default/x.jpeg"),
            Some(vec!["default", "x.jpeg"])
        );
        assert_eq!(path("default", "x.jpeg"), Some(vec!["x.jpeg"]));
        for bad in [
            "",
            "../x",
            "default/../../api",
            "default/..",
            "a//b",
            "/x",
            "x?y",
            "a\\b",
            "other/x.jpeg",
            "default/sub/x.jpeg",
        ] {
            assert_eq!(path("default", bad), None, "{bad:?}");
        }
    }
}
