//! Media that Meta's webhooks announce by id: images, stickers, videos, voice notes and
//! documents. Meta keeps the file behind the access token, so a message carries a URL of the
//! daemon's instead (`/api/v1/devices/{id}/media/{mediaId}`), and a download there is fetched
//! from the Graph API when it is asked for: `GET {graph_url}/{mediaId}` gives a short-lived
//! URL, whose content is streamed through with the token. Nothing is kept on disk: Meta keeps
//! media for 30 days, and a file nobody opens costs nothing.

use crate::connector::http::{self, Http};
use crate::model::{spec::CloudApiSpec, upstream::ConnectorError, upstream::Download};

/// Whether `id` can be a Graph API media id (Meta issues digits): anything else is refused
/// before it reaches a URL.
pub fn is_media_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// Asks Meta where media `id` is and opens it. An id Meta does not know (or will not show
/// this token) is [`ConnectorError::Rejected`].
pub async fn download(
    spec: &CloudApiSpec,
    http: &Http,
    id: &str,
) -> Result<Download, ConnectorError> {
    if !is_media_id(id) {
        return Err(ConnectorError::Rejected(format!(
            "{id:?} is not a Cloud API media id"
        )));
    }
    let token = spec.access_token.expose();
    let graph = spec.graph_url.trim_end_matches('/');
    let found = http
        .call(http.get(format!("{graph}/{id}")).bearer_auth(token))
        .await?;
    let url = found["url"].as_str().ok_or_else(|| {
        ConnectorError::Failing("Meta's answer about the media has no download URL".into())
    })?;
    let body = http.open(http.get(url).bearer_auth(token)).await?;
    Ok(http::download(body, found["mime_type"].as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digits_make_a_media_id() {
        assert!(is_media_id("1037543291543636"));
        for bad in [
            "",
            "../me",
            "12/34",
            "12?fields=x",
            "wamid.1",
            &"1".repeat(65),
        ] {
            assert!(!is_media_id(bad), "{bad:?}");
        }
    }
}
