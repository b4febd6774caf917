//! Contacts through WAHA: a contact's profile (`GET /api/contacts` and `GET
//! /api/contacts/about`, by `contactId` and `session`), their profile picture (`GET
//! /api/contacts/profile-picture`), and blocking (`POST /api/contacts/block`, `/unblock`).
//!
//! WAHA answers a picture with WhatsApp's own address for it (`profilePictureURL`), which
//! expires within days and carries the signature that lets it be fetched: the picture is
//! fetched from there at once, without any of WAHA's credentials, for the daemon to serve it
//! itself.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use super::Waha;
use crate::connector::http::{self, download};
use crate::device::media::read_whole;
use crate::model::upstream::{ConnectorError, Picture, Profile, MAX_PICTURE_BYTES};

/// A text of WAHA's answer, if it is a text with something in it.
fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
}

impl Waha {
    /// `GET /api/contacts[/{what}]?contactId=&session=`: WAHA's answer, or `None` when it
    /// knows no such contact (404).
    async fn about_contact(
        &self,
        what: Option<&str>,
        contact_id: &str,
    ) -> Result<Option<Value>, ConnectorError> {
        let mut segments = vec!["api", "contacts"];
        segments.extend(what);
        let request = self
            .request(Method::GET, &segments)
            .query(&[("contactId", contact_id), ("session", &self.spec.session)]);
        let (status, answer) = self.http.exchange(request).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(http::success(status, answer)?).filter(|answer| !answer.is_null()))
    }

    /// The contact's names (the one this account saved, `name`, and their own, `pushname`,
    /// NOWEB's `notify`) and their "about". An engine that cannot tell the "about" (it
    /// answers 4xx) leaves it unknown rather than failing the lookup.
    pub(super) async fn profile_of(
        &self,
        contact_id: &str,
    ) -> Result<Option<Profile>, ConnectorError> {
        let Some(contact) = self.about_contact(None, contact_id).await? else {
            return Ok(None);
        };
        let about = match self.about_contact(Some("about"), contact_id).await {
            Ok(answer) => answer.and_then(|answer| text(&answer["about"])),
            Err(ConnectorError::Rejected(reason)) => {
                tracing::debug!(contact_id, %reason, "WAHA did not tell a contact's about");
                None
            }
            Err(error) => return Err(error),
        };
        Ok(Some(Profile {
            name: text(&contact["name"]),
            push_name: text(&contact["pushname"]).or_else(|| text(&contact["notify"])),
            about,
        }))
    }

    /// The contact's picture, fetched from the address WAHA gives; `None` when WAHA gives
    /// none (the contact has no picture, or shows it to nobody).
    pub(super) async fn picture_of(
        &self,
        contact_id: &str,
    ) -> Result<Option<Picture>, ConnectorError> {
        let answer = self
            .about_contact(Some("profile-picture"), contact_id)
            .await?;
        let Some(url) = answer.and_then(|answer| text(&answer["profilePictureURL"])) else {
            return Ok(None);
        };
        let response = self.http.open(self.http.get(&url)).await?;
        let file = read_whole(
            download(response, None),
            "the profile picture",
            MAX_PICTURE_BYTES,
        )
        .await?;
        // WhatsApp's pictures are JPEGs; an answer that names no picture type says nothing.
        let mime = match file.mime.starts_with("image/") {
            true => file.mime,
            false => "image/jpeg".to_owned(),
        };
        Ok(Some(Picture {
            mime,
            bytes: file.bytes,
        }))
    }

    /// `POST /api/contacts/block` (or `/unblock`) `{ contactId, session }`.
    pub(super) fn block(&self, contact_id: &str, blocked: bool) -> RequestBuilder {
        let action = if blocked { "block" } else { "unblock" };
        self.request(Method::POST, &["api", "contacts", action])
            .json(&json!({ "contactId": contact_id, "session": self.spec.session }))
    }
}
