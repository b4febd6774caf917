//! WAHA's answers read alike whichever engine (WEBJS, NOWEB, GOWS) gave them: the id of a sent
//! message or any id, a group's subject, a number's chat id. Separate because each engine shapes its
//! answers its own way, and these readers are where that knowledge lives, with its tests.

use serde_json::Value;

/// An id (of a message, a chat, a group, a member): a string, or (WEBJS engine) an object
/// with `_serialized`.
pub(super) fn id_of(value: &Value) -> Option<String> {
    value
        .as_str()
        .or_else(|| value["_serialized"].as_str())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// A number's chat id as WAHA's own ids write it (`15550001111@c.us`), from the forms engines
/// give: `@c.us`, or the protocol's `@s.whatsapp.net`, either possibly with a device suffix
/// (`15550001111:3@s.whatsapp.net`). Anything else is no number.
pub(super) fn number_chat_id(jid: &str) -> Option<String> {
    let (user, server) = jid.split_once('@')?;
    let number = user.split(':').next().unwrap_or_default();
    let is_number = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    (is_number && matches!(server, "c.us" | "s.whatsapp.net")).then(|| format!("{number}@c.us"))
}

/// The id of the message a send answer describes, in the serialized form WAHA's webhooks
/// name it by (`true_{chatId}_{id}`), so its acks and its echo find it. Engines answer
/// differently: a string `id` or WEBJS's object with `_serialized`, or NOWEB's raw message
/// whose `key` holds the parts. `None` when the answer names no id (some versions answer
/// with an empty body).
pub(super) fn sent_id(answer: &Value) -> Option<String> {
    if let Some(id) = id_of(&answer["id"]) {
        return Some(id);
    }
    let key = &answer["key"];
    let id = key["id"].as_str().filter(|id| !id.is_empty())?;
    let chat = key["remoteJid"].as_str().filter(|chat| !chat.is_empty())?;
    let from_me = key["fromMe"].as_bool().unwrap_or(true);
    let mut serialized = format!("{from_me}_{}_{id}", waha_jid(chat));
    if let Some(participant) = key["participant"].as_str().filter(|p| !p.is_empty()) {
        serialized = format!("{serialized}_{}", waha_jid(participant));
    }
    Some(serialized)
}

/// A protocol jid as WAHA writes ids: a number's `@s.whatsapp.net` is `@c.us`; groups and
/// linked ids stay as they are.
fn waha_jid(jid: &str) -> String {
    number_chat_id(jid).unwrap_or_else(|| jid.to_owned())
}

/// A group's subject in whichever engine's shape WAHA gives it.
pub(super) fn subject_of(group: &Value) -> Option<String> {
    [
        &group["subject"],
        &group["name"],
        &group["groupMetadata"]["subject"],
        &group["Name"],
    ]
    .into_iter()
    .find_map(|name| name.as_str().filter(|name| !name.is_empty()))
    .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::{number_chat_id, sent_id, subject_of};
    use serde_json::json;

    #[test]
    fn a_sent_messages_id_is_read_from_every_engines_answer() {
        let serialized = "true_15550002222@c.us_3EB0AAAA";
        let plain = json!({ "id": serialized, "body": "hi" });
        let webjs = json!({ "id": { "fromMe": true, "remote": "15550002222@c.us",
            "id": "3EB0AAAA", "_serialized": serialized } });
        let noweb = json!({ "key": { "remoteJid": "15550002222@s.whatsapp.net",
            "fromMe": true, "id": "3EB0AAAA" }, "message": {}, "status": "PENDING" });
        for answer in [plain, webjs, noweb] {
            assert_eq!(sent_id(&answer).as_deref(), Some(serialized), "{answer}");
        }
        let group =
            json!({ "key": { "remoteJid": "120363@g.us", "fromMe": true, "id": "3EB0BBBB" } });
        assert_eq!(
            sent_id(&group).as_deref(),
            Some("true_120363@g.us_3EB0BBBB")
        );
        for nameless in [
            json!(null),
            json!({}),
            json!({ "key": { "remoteJid": "1@c.us" } }),
        ] {
            assert_eq!(sent_id(&nameless), None, "{nameless}");
        }
    }

    #[test]
    fn a_groups_subject_is_read_from_every_engines_shape() {
        let noweb = json!({ "id": "120363@g.us", "subject": "Family" });
        let webjs = json!({ "id": { "_serialized": "120363@g.us" }, "name": "Family",
            "groupMetadata": { "subject": "Family" } });
        let webjs_unnamed = json!({ "name": "", "groupMetadata": { "subject": "Family" } });
        let gows = json!({ "JID": "120363@g.us", "Name": "Family" });
        for group in [noweb, webjs, webjs_unnamed, gows] {
            assert_eq!(subject_of(&group).as_deref(), Some("Family"), "{group}");
        }
        assert_eq!(subject_of(&json!({ "id": "120363@g.us" })), None);
    }

    #[test]
    fn numbers_behind_linked_ids_read_as_chat_ids_in_every_form_engines_give() {
        let read = |jid| number_chat_id(jid);
        assert_eq!(
            read("15550002222@c.us").as_deref(),
            Some("15550002222@c.us")
        );
        assert_eq!(
            read("15550002222@s.whatsapp.net").as_deref(),
            Some("15550002222@c.us")
        );
        assert_eq!(
            read("15550002222:3@s.whatsapp.net").as_deref(),
            Some("15550002222@c.us")
        );
        for not_a_number in ["123@lid", "120363@g.us", "@c.us", "abc@c.us", "15550002222"] {
            assert_eq!(read(not_a_number), None, "{not_a_number}");
        }
    }
}
