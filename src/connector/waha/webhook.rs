//! WAHA's webhooks: checked against `X-Webhook-Hmac` (HMAC-SHA512 of the raw body under the
//! device's `webhook_secret`), then read into devicebridge's vocabulary. Also the mapping of
//! WAHA's message shape, which the chat backfill shares.

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::engines::id_of;
use super::media::Files;
use super::message_kinds::{content_of, text};
use crate::connector::http::{verify_hmac, HmacSha512};
use crate::model::{
    inbound::{Inbound, Incoming},
    spec::{WahaSpec, STATUS_CHAT},
    upstream::{Reported, WebhookError},
    Ack, Media,
};

/// Verifies a delivery and reads what it reports. Events for another session, and events
/// devicebridge does not follow, report nothing. `media_base` is where the daemon serves the
/// device's media (see [`super::media`]).
pub fn read(
    spec: &WahaSpec,
    media_base: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<Reported>, WebhookError> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("x-webhook-hmac-algorithm")
        .is_some_and(|algorithm| !algorithm.eq_ignore_ascii_case("sha512"))
    {
        return Err(WebhookError::BadSignature);
    }
    verify_hmac::<HmacSha512>(spec.webhook_secret.expose(), body, header("x-webhook-hmac"))?;
    let event: Value =
        serde_json::from_slice(body).map_err(|error| WebhookError::Malformed(error.to_string()))?;
    if event["session"].as_str() != Some(spec.session.as_str()) {
        tracing::debug!(session = ?event["session"], "WAHA webhook for another session ignored");
        return Ok(Vec::new());
    }
    let me = event["me"]["id"].as_str();
    let payload = &event["payload"];
    let inbound: Vec<Inbound> = match event["event"].as_str().unwrap_or_default() {
        "session.status" => {
            let restrictions = super::restrictions::read(payload).map(Reported::Restrictions);
            return Ok(restrictions
                .into_iter()
                .chain([Reported::SessionChanged])
                .collect());
        }
        "message" | "message.any" => linked_in(payload)
            .chain(
                incoming(payload, me, None, &Files::new(spec, media_base))
                    .map(|message| Inbound::Message(Box::new(message))),
            )
            .collect(),
        "message.ack" | "message.ack.group" => ack(payload).into_iter().collect(),
        "message.revoked" => revoked(payload).into_iter().collect(),
        "message.edited" => edited(payload).into_iter().collect(),
        "poll.vote" => voted(payload).into_iter().collect(),
        "message.reaction" => reaction(payload, me).into_iter().collect(),
        "presence.update" => presence(payload),
        "chat.archive" => archive(payload).into_iter().collect(),
        event @ ("group.v2.join"
        | "group.v2.leave"
        | "group.v2.participants"
        | "group.v2.update") => super::group_events::read(event, payload, me),
        "call.received" => call(payload).into_iter().collect(),
        other => {
            tracing::debug!(event = other, "WAHA webhook event not followed");
            Vec::new()
        }
    };
    Ok(inbound.into_iter().map(Reported::Inbound).collect())
}

/// `message.edited`: the message as it is now, naming the edited one by
/// `editedMessageId` (its id, or the whole WAHA id).
fn edited(payload: &Value) -> Option<Inbound> {
    let edited = id_of(&payload["editedMessageId"])?;
    let upstream_id = match edited.contains('_') {
        true => edited,
        // A bare id: the edited message is in the same chat, from the same side.
        false => {
            let from_me = payload["fromMe"].as_bool().unwrap_or(false);
            let chat = text(&payload[if from_me { "to" } else { "from" }])?;
            format!("{from_me}_{chat}_{edited}")
        }
    };
    Some(Inbound::Edited {
        upstream_id,
        body: payload["body"].as_str().unwrap_or_default().to_owned(),
        at: payload["timestamp"]
            .as_i64()
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            .unwrap_or_else(Utc::now),
    })
}

/// `poll.vote`: a vote (`vote.selectedOptions`, by `vote.participant` in a group, else
/// `vote.from`) on the poll `poll.id`.
fn voted(payload: &Value) -> Option<Inbound> {
    let vote = &payload["vote"];
    let options = vote["selectedOptions"]
        .as_array()?
        .iter()
        .filter_map(|option| option.as_str().or_else(|| option["name"].as_str()))
        .map(str::to_owned)
        .collect();
    Some(Inbound::Voted {
        upstream_id: id_of(&payload["poll"]["id"])?,
        voter: text(&vote["participant"])
            .or_else(|| text(&vote["from"]))?
            .to_owned(),
        options,
    })
}

/// A WAHA message (`WAMessage`) as one that arrived: sent to us, or from our phone. `me` is
/// our own id, `chat_name` the chat's name when known (backfill); `files` gives its media's
/// URL.
pub(super) fn incoming(
    message: &Value,
    me: Option<&str>,
    chat_name: Option<&str>,
    files: &Files,
) -> Option<Incoming> {
    let upstream_id = id_of(&message["id"])?;
    let from_me = message["fromMe"].as_bool().unwrap_or(false);
    let chat_id = text(&message[if from_me { "to" } else { "from" }])?.to_owned();
    let group = chat_id.ends_with("@g.us");
    // In a group and among stories, the sender is the participant, not the chat.
    let many = group || chat_id == STATUS_CHAT;
    let from = match (from_me, many) {
        (true, _) => me.or_else(|| text(&message["from"])).unwrap_or(&chat_id),
        (false, true) => text(&message["participant"])
            .or_else(|| text(&message["author"]))
            .unwrap_or(&chat_id),
        (false, false) => &chat_id,
    }
    .to_owned();
    let from_name = (!from_me)
        .then(|| {
            text(&message["_data"]["notifyName"]).or_else(|| text(&message["_data"]["pushName"]))
        })
        .flatten()
        .map(str::to_owned);
    let media = match (
        message["hasMedia"].as_bool(),
        text(&message["media"]["url"]),
    ) {
        (Some(true), Some(url)) => Some(Media {
            url: files.url(url),
            mime: text(&message["media"]["mimetype"])
                .unwrap_or("application/octet-stream")
                .to_owned(),
            name: text(&message["media"]["filename"]).map(str::to_owned),
            size: None,
            kind: None,
        }),
        _ => None,
    };
    let (kind, content) = content_of(message, media.as_ref());
    let timestamp = message["timestamp"]
        .as_i64()
        .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
        .unwrap_or_else(Utc::now);
    Some(Incoming {
        upstream_id,
        chat_name: if group {
            chat_name.map(str::to_owned)
        } else {
            None
        },
        chat_id,
        group,
        from,
        from_name,
        from_me,
        kind: kind.to_owned(),
        body: match kind {
            // WAHA repeats a place's description and a card's vCard as the body.
            "location" | "contact" => String::new(),
            _ => message["body"].as_str().unwrap_or_default().to_owned(),
        },
        media,
        content,
        reply_to: id_of(&message["replyTo"]["id"]),
        timestamp,
    })
}

/// The linked ids a message's engine data names together with their numbers, each pair one
/// of the two the linked id and the other the number, either way round: NOWEB's message key
/// (`remoteJid`/`remoteJidAlt`, `participant`/`participantAlt`) and GOWS's message info
/// (`Sender`/`SenderAlt`, and `Chat`/`RecipientAlt` for a chat we wrote to). What WAHA says
/// with the message need not be asked again.
fn linked_in(message: &Value) -> impl Iterator<Item = Inbound> + '_ {
    let (noweb, gows) = (&message["_data"]["key"], &message["_data"]["Info"]);
    [
        (noweb, "remoteJid", "remoteJidAlt"),
        (noweb, "participant", "participantAlt"),
        (gows, "Sender", "SenderAlt"),
        (gows, "Chat", "RecipientAlt"),
    ]
    .into_iter()
    .filter_map(move |(data, id, alt)| {
        let (id, alt) = (text(&data[id])?, text(&data[alt])?);
        let (lid, number) = match (id.ends_with("@lid"), alt.ends_with("@lid")) {
            (true, false) => (id, alt),
            (false, true) => (alt, id),
            _ => return None,
        };
        Some(Inbound::Linked {
            id: without_device(lid),
            number: super::number_chat_id(number)?,
        })
    })
}

/// A linked id without the device suffix engines may give it (`2077…333:11@lid`): chats and
/// contacts are named by the account, not by one of its devices.
fn without_device(lid: &str) -> String {
    match lid.split_once('@') {
        Some((user, server)) => {
            let account = user.split(':').next().unwrap_or(user);
            format!("{account}@{server}")
        }
        None => lid.to_owned(),
    }
}

/// `message.ack` and, for one participant of a group, `message.ack.group`: -1 ERROR … 4
/// PLAYED. An error fails the message.
fn ack(payload: &Value) -> Option<Inbound> {
    let upstream_id = split_participant(&id_of(&payload["id"])?).0.to_owned();
    let level = payload["ack"].as_i64()?;
    if level == Ack::Error.level() {
        return Some(Inbound::Failed {
            upstream_id,
            error: "WhatsApp did not accept the message (WAHA ack -1, ERROR)".into(),
        });
    }
    Some(Inbound::Ack {
        upstream_id,
        ack: Ack::from_level(level)?,
        by: text(&payload["participant"]).map(str::to_owned),
    })
}

/// `message.revoked`: the revoked message is `before` when WAHA has it (seldom), else
/// `revokedMessageId`, its id alone (`{messageId}`, without chat), in the chat of the revoke
/// action `after` (`from`, or `to` when we revoked; else the chat part of `after.id`).
fn revoked(payload: &Value) -> Option<Inbound> {
    if let Some(upstream_id) = id_of(&payload["before"]["id"]) {
        return Some(Inbound::Revoked { upstream_id });
    }
    let message_id = text(&payload["revokedMessageId"])?.to_owned();
    let after = &payload["after"];
    let from_me = after["fromMe"].as_bool().unwrap_or(false);
    let chat_id = text(&after[if from_me { "to" } else { "from" }])
        .map(str::to_owned)
        .or_else(|| id_of(&after["id"])?.split('_').nth(1).map(str::to_owned))?;
    Some(Inbound::RevokedInChat {
        chat_id,
        message_id,
    })
}

/// A message id split from the participant WAHA adds to ids in groups
/// (`{fromMe}_{group}@g.us_{id}_{participant}`: the sender of a message we received, the
/// participant a group ack is from). A participant is a jid (it has an `@`), and follows the
/// three parts every id has.
pub(super) fn split_participant(id: &str) -> (&str, Option<&str>) {
    match id.rsplit_once('_') {
        Some((message, participant))
            if participant.contains('@') && message.matches('_').count() >= 2 =>
        {
            (message, Some(participant))
        }
        _ => (id, None),
    }
}

/// `message.reaction`: an emoji on a message (empty: the reaction was removed).
fn reaction(payload: &Value, me: Option<&str>) -> Option<Inbound> {
    let upstream_id = text(&payload["reaction"]["messageId"])?.to_owned();
    let from_me = payload["fromMe"].as_bool().unwrap_or(false);
    let from = match from_me {
        true => me.or_else(|| text(&payload["from"])),
        false => text(&payload["participant"]).or_else(|| text(&payload["from"])),
    }?;
    Some(Inbound::Reaction {
        upstream_id,
        from: from.to_owned(),
        emoji: payload["reaction"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// `chat.archive`: the phone archived a chat or brought it back (the chat's id is `id`, or
/// `chatId` in some WAHA versions).
fn archive(payload: &Value) -> Option<Inbound> {
    Some(Inbound::Archived {
        chat_id: text(&payload["id"])
            .or_else(|| text(&payload["chatId"]))?
            .to_owned(),
        archived: payload["archived"].as_bool()?,
    })
}

/// `call.received`: someone calls us (`from`; in a group call the group, with the caller as
/// `participant`).
fn call(payload: &Value) -> Option<Inbound> {
    let chat_id = text(&payload["from"])?;
    Some(Inbound::Call {
        chat_id: chat_id.to_owned(),
        from: text(&payload["participant"]).unwrap_or(chat_id).to_owned(),
        video: payload["isVideo"].as_bool().unwrap_or(false),
    })
}

/// `presence.update`: typing (or recording) starts and stops, contacts come and go.
fn presence(payload: &Value) -> Vec<Inbound> {
    let Some(chat_id) = text(&payload["id"]) else {
        return Vec::new();
    };
    payload["presences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|presence| {
            let contact_id = text(&presence["participant"]).unwrap_or(chat_id).to_owned();
            let typing = |typing| Inbound::Typing {
                chat_id: chat_id.to_owned(),
                contact_id: contact_id.clone(),
                typing,
            };
            Some(match presence["lastKnownPresence"].as_str()? {
                "typing" | "recording" => typing(true),
                "paused" => typing(false),
                "online" => Inbound::Presence {
                    contact_id: contact_id.clone(),
                    online: true,
                },
                "offline" => Inbound::Presence {
                    contact_id: contact_id.clone(),
                    online: false,
                },
                _ => return None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_map_direct_group_and_own() {
        let spec = WahaSpec {
            base_url: "http://waha".into(),
            ..WahaSpec::default()
        };
        let files = Files::new(&spec, "http://bridge/api/v1/devices/wa/media/");
        let direct = json!({
            "id": "false_111@c.us_AAA", "timestamp": 1700000000, "from": "111@c.us", "fromMe": false,
            "to": "999@c.us", "body": "hi", "hasMedia": false, "_data": { "notifyName": "Alice" },
            "replyTo": { "id": "true_111@c.us_BBB" }
        });
        let message = incoming(&direct, Some("999@c.us"), None, &files).unwrap();
        assert_eq!(
            (
                message.chat_id.as_str(),
                message.from.as_str(),
                message.from_me
            ),
            ("111@c.us", "111@c.us", false)
        );
        assert_eq!(message.from_name.as_deref(), Some("Alice"));
        assert_eq!(message.reply_to.as_deref(), Some("true_111@c.us_BBB"));
        assert_eq!(message.timestamp.timestamp(), 1_700_000_000);

        let group = json!({
            "id": { "_serialized": "false_120@g.us_CCC" }, "from": "120@g.us", "fromMe": false,
            "participant": "222@c.us", "body": "", "hasMedia": true,
            "media": { "url": "http://waha/api/files/x.jpg", "mimetype": "image/jpeg" }
        });
        let message = incoming(&group, None, Some("Team"), &files).unwrap();
        assert_eq!(message.upstream_id, "false_120@g.us_CCC");
        assert_eq!((message.from.as_str(), message.group), ("222@c.us", true));
        assert_eq!(
            (message.kind.as_str(), message.chat_name.as_deref()),
            ("image", Some("Team"))
        );
        assert_eq!(
            message.media.unwrap().url,
            "http://bridge/api/v1/devices/wa/media/x.jpg"
        );

        let own = json!({ "id": "true_111@c.us_DDD", "from": "999@c.us", "fromMe": true, "to": "111@c.us", "body": "yo" });
        let message = incoming(&own, Some("999@c.us"), None, &files).unwrap();
        assert_eq!(
            (message.chat_id.as_str(), message.from.as_str()),
            ("111@c.us", "999@c.us")
        );
        assert!(
            incoming(&json!({ "from": "111@c.us" }), None, None, &files).is_none(),
            "no id, no message"
        );
    }

    #[test]
    fn noweb_message_keys_tell_linked_ids_with_their_numbers_either_way_round() {
        let message = json!({ "_data": { "key": {
            "remoteJid": "120363@g.us",
            "participant": "207711112222333@lid", "participantAlt": "15550002222:4@s.whatsapp.net"
        } } });
        assert_eq!(
            linked_in(&message).collect::<Vec<_>>(),
            [Inbound::Linked {
                id: "207711112222333@lid".into(),
                number: "15550002222@c.us".into()
            }]
        );
        let reversed = json!({ "_data": { "key": {
            "remoteJid": "15550003333@s.whatsapp.net", "remoteJidAlt": "203300003333444@lid"
        } } });
        assert_eq!(
            linked_in(&reversed).collect::<Vec<_>>(),
            [Inbound::Linked {
                id: "203300003333444@lid".into(),
                number: "15550003333@c.us".into()
            }]
        );
        let webjs = json!({ "_data": { "id": { "remote": "207711112222333@lid" } } });
        assert_eq!(linked_in(&webjs).count(), 0);
    }

    #[test]
    fn gows_message_info_tells_the_sender_and_the_chat_we_wrote_to() {
        let from_a_contact = json!({ "_data": { "Info": {
            "Chat": "120363@g.us", "IsGroup": true, "IsFromMe": false,
            "Sender": "265781216567410@lid", "SenderAlt": "15550004444@s.whatsapp.net",
            "RecipientAlt": ""
        } } });
        assert_eq!(
            linked_in(&from_a_contact).collect::<Vec<_>>(),
            [Inbound::Linked {
                id: "265781216567410@lid".into(),
                number: "15550004444@c.us".into()
            }]
        );
        // Ours to a chat named by its linked id; our own ids carry a device suffix.
        let ours = json!({ "_data": { "Info": {
            "Chat": "203300003333444@lid", "IsFromMe": true,
            "Sender": "15550009999:11@s.whatsapp.net", "SenderAlt": "207700009999000:11@lid",
            "RecipientAlt": "15550003333@s.whatsapp.net"
        } } });
        assert_eq!(
            linked_in(&ours).collect::<Vec<_>>(),
            [
                Inbound::Linked {
                    id: "207700009999000@lid".into(),
                    number: "15550009999@c.us".into()
                },
                Inbound::Linked {
                    id: "203300003333444@lid".into(),
                    number: "15550003333@c.us".into()
                }
            ]
        );
        let unknown = json!({ "_data": { "Info": {
            "Chat": "265781216567410@lid", "Sender": "265781216567410@lid", "SenderAlt": ""
        } } });
        assert_eq!(
            linked_in(&unknown).count(),
            0,
            "nothing told, nothing linked"
        );
    }

    #[test]
    fn acks_and_presences_map_onto_ours() {
        assert_eq!(
            ack(&json!({ "id": "m1", "ack": 3, "participant": "" })),
            Some(Inbound::Ack {
                upstream_id: "m1".into(),
                ack: Ack::Read,
                by: None
            })
        );
        assert!(matches!(
            ack(&json!({ "id": "m1", "ack": -1 })),
            Some(Inbound::Failed { .. })
        ));
        assert_eq!(ack(&json!({ "id": "m1", "ack": 9 })), None);
        for (id, split) in [
            (
                "true_120@g.us_4CC5_9999@lid",
                ("true_120@g.us_4CC5", Some("9999@lid")),
            ),
            (
                "false_120@g.us_4CC5_15550002222@c.us",
                ("false_120@g.us_4CC5", Some("15550002222@c.us")),
            ),
            ("true_120@g.us_4CC5", ("true_120@g.us_4CC5", None)),
            (
                "true_15550002222@c.us_4CC5",
                ("true_15550002222@c.us_4CC5", None),
            ),
        ] {
            assert_eq!(split_participant(id), split);
        }
        let presences = presence(&json!({ "id": "111@c.us", "presences": [
            { "participant": "111@c.us", "lastKnownPresence": "typing" },
            { "participant": "111@c.us", "lastKnownPresence": "paused" },
            { "participant": "111@c.us", "lastKnownPresence": "offline" },
        ] }));
        assert_eq!(presences.len(), 3);
        assert!(matches!(
            &presences[0],
            Inbound::Typing { typing: true, .. }
        ));
        assert!(matches!(
            &presences[1],
            Inbound::Typing { typing: false, .. }
        ));
        assert!(matches!(
            &presences[2],
            Inbound::Presence { online: false, .. }
        ));
    }
}

#[cfg(test)]
mod fuzz;
