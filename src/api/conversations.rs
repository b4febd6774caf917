//! Chats and messages (and a pairing code for a phone number) as both REST and Socket.IO offer
//! them: one implementation per operation, so the two faces cannot drift apart. Each operation
//! on chats and messages commits through [`crate::messaging`], which keeps the upstream's part
//! in the store, and then wakes the device's relay to pass it on: the answer never waits for
//! the upstream.

use std::collections::HashSet;

use super::auth::{Caller, Scope};
use super::error::{ApiError, ErrorCode};
use super::extract::page_limit;
use crate::device::{DeviceHandle, DeviceManager};
use crate::messaging::{self, Dedup, NotificationsRead, SendRequest};
use crate::model::group::{GroupOp, GroupOutcome};
use crate::model::pairing::{IssuedCode, LinkingPhone};
use crate::model::ChatFlags;
use crate::model::{fitting, upstream::Outbound, Chat, Contact, DeviceId, Message, Page, TempId};
use crate::store::chats::ChatCursor;
use crate::store::messages::InboxEntry;
use crate::store::turn::Turn;
use crate::store::{self, Store};

/// Page size when a list request names none, and the most it may ask for.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

mod requests;

pub use requests::{
    ChatsQuery, MessagesQuery, OpenChat, PairingCodeRequest, Presence, PresenceQuery, ReadReceipt,
    SearchQuery,
};

impl From<Contact> for Presence {
    fn from(contact: Contact) -> Self {
        Presence {
            id: contact.id,
            presence: contact.presence,
            last_seen_at: contact.last_seen_at,
        }
    }
}

fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    page_limit(limit, DEFAULT_PAGE, MAX_PAGE)
}

#[derive(Clone)]
pub struct Conversations {
    store: Store,
    devices: DeviceManager,
    /// `limits.max_reply_bytes`: the most JSON one page of chats or messages may take.
    max_reply_bytes: usize,
}

impl Conversations {
    pub fn new(store: Store, devices: DeviceManager, max_reply_bytes: usize) -> Self {
        Self {
            store,
            devices,
            max_reply_bytes,
        }
    }

    fn handle(&self, device: &DeviceId) -> Result<DeviceHandle, ApiError> {
        self.devices
            .handle(device)
            .ok_or_else(|| ApiError::new(ErrorCode::DeviceNotFound, "no device with this id"))
    }

    /// Asks device `device` to make, read or change a group (see [`super::groups`]).
    pub async fn group(&self, device: &DeviceId, op: GroupOp) -> Result<GroupOutcome, ApiError> {
        Ok(self.handle(device)?.group(op).await?)
    }

    /// The id of the account `device` is linked to, if it exists and is linked.
    pub fn me(&self, device: &DeviceId) -> Option<String> {
        self.devices.handle(device)?.me()
    }

    /// Passes a hint that matters only now (which chat's presence to watch) to the upstream
    /// in the background; an upstream that is not ready misses it. What must reach the
    /// upstream is kept in the store instead (see [`crate::store::actions`]).
    fn tell(&self, handle: DeviceHandle, action: Outbound) {
        tokio::spawn(async move {
            if let Err(error) = handle.tell(action).await {
                tracing::debug!(device_id = %handle.id, %error, "the upstream was not told");
            }
        });
    }

    /// Accepts a message; returns it (at ack `pending`) and whether it is new. With a `turn`,
    /// it is stored after the requests that came before it on the same connection.
    ///
    /// A file the daemon serves for another device is sent on from there, with that device's
    /// credentials: only for a caller who may read that device's media anyway.
    pub async fn send(
        &self,
        caller: &Caller,
        device: &DeviceId,
        request: SendRequest,
        dedup: Dedup,
        turn: Option<Turn>,
    ) -> Result<(Message, bool), ApiError> {
        let handle = self.handle(device)?;
        let mut request = request;
        request.chat_id = self.current_chat_id(device, request.chat_id).await?;
        let owner = request
            .media
            .as_ref()
            .and_then(|media| self.devices.library().locate(&media.url));
        if let Some((owner, _)) = owner.filter(|(owner, _)| owner != device) {
            caller.authorize(Scope::Read, Some(&owner))?;
        }
        if let Some(media) = request.media.as_mut() {
            self.devices.library().complete(media).await?;
        }
        let waits = !handle.is_sending();
        let (message, created) =
            messaging::send(&self.store, device, request, dedup, turn, waits).await?;
        if created {
            handle.wake_relay();
        }
        Ok((message, created))
    }

    /// Marks a chat read up to `up_to`; returns the ids newly read.
    pub async fn read(
        &self,
        device: &DeviceId,
        chat_id: String,
        up_to: Option<String>,
    ) -> Result<ReadReceipt, ApiError> {
        let handle = self.handle(device)?;
        let chat_id = self.current_chat_id(device, chat_id).await?;
        let message_ids = messaging::mark_read(&self.store, device, chat_id, up_to).await?;
        if !message_ids.is_empty() {
            handle.wake_for_actions();
        }
        Ok(ReadReceipt { message_ids })
    }

    /// Marks a chat read because its messages were listed, for clients whose own server did
    /// so (a profile's `mark_read_on_list`). The listing stands whatever happens here: a chat
    /// that cannot be marked now is logged, not refused.
    pub async fn mark_read_on_list(&self, device: &DeviceId, chat_id: String) {
        if let Err(error) = self.read(device, chat_id, None).await {
            tracing::debug!(device_id = %device, %error.message, "could not mark a listed chat read");
        }
    }

    pub async fn react(
        &self,
        device: &DeviceId,
        message_id: String,
        emoji: String,
    ) -> Result<(), ApiError> {
        let handle = self.handle(device)?;
        messaging::react(&self.store, device, message_id, emoji).await?;
        handle.wake_for_actions();
        Ok(())
    }

    /// Edits the text of one of our messages; answers it as edited.
    pub async fn edit(
        &self,
        device: &DeviceId,
        message_id: String,
        text: String,
    ) -> Result<Message, ApiError> {
        let handle = self.handle(device)?;
        let message = messaging::edit(&self.store, device, message_id, text).await?;
        handle.wake_for_actions();
        Ok(message)
    }

    /// Votes on a poll as this account.
    pub async fn vote(
        &self,
        device: &DeviceId,
        message_id: String,
        options: Vec<String>,
    ) -> Result<(), ApiError> {
        let handle = self.handle(device)?;
        messaging::vote(&self.store, device, message_id, options).await?;
        handle.wake_for_actions();
        Ok(())
    }

    /// Sends a copy of a message to `chat_id`, marked forwarded: a new message of its own,
    /// with its own id and acks. The `dedup` key (a `tempId` or an `Idempotency-Key`) makes a
    /// repeated forward the same message.
    pub async fn forward(
        &self,
        caller: &Caller,
        device: &DeviceId,
        message_id: String,
        chat_id: String,
        temp_id: Option<TempId>,
        dedup: Dedup,
    ) -> Result<(Message, bool), ApiError> {
        messaging::check_id("chatId", &chat_id)?;
        let original = self.message(device, message_id).await?;
        let mut copy = messaging::forwarded_copy(&original, chat_id)?;
        copy.temp_id = temp_id;
        self.send(caller, device, copy, dedup, None).await
    }

    pub async fn revoke(&self, device: &DeviceId, message_id: String) -> Result<(), ApiError> {
        let handle = self.handle(device)?;
        messaging::revoke(&self.store, device, message_id).await?;
        handle.wake_for_actions();
        Ok(())
    }

    pub async fn typing(
        &self,
        device: &DeviceId,
        chat_id: String,
        typing: bool,
    ) -> Result<(), ApiError> {
        let handle = self.handle(device)?;
        let chat_id = self.current_chat_id(device, chat_id).await?;
        messaging::require_chat(&self.store, device, &chat_id).await?;
        handle
            .typing(chat_id, typing)
            .await
            .map_err(|error| match error {
                crate::device::DeviceError::InvalidState(_) => ApiError::new(
                    ErrorCode::DeviceNotReady,
                    "the device is not linked yet; scan its QR code first",
                ),
                other => other.into(),
            })
    }

    pub async fn read_notifications(
        &self,
        device: &DeviceId,
        which: NotificationsRead,
    ) -> Result<Vec<String>, ApiError> {
        self.handle(device)?;
        Ok(messaging::read_notifications(&self.store, device, which).await?)
    }

    pub async fn chats(
        &self,
        device: &DeviceId,
        query: ChatsQuery,
    ) -> Result<Page<Chat>, ApiError> {
        self.handle(device)?;
        let limit = page_size(query.limit)?;
        let cursor = query
            .cursor
            .map(|text| {
                ChatCursor::parse(&text).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`cursor` {text:?} is not a `nextCursor` this server gave"
                    ))
                })
            })
            .transpose()?;
        let (device, max_bytes) = (device.clone(), self.max_reply_bytes);
        Ok(self
            .store
            .read(move |conn| {
                store::chats::list_chats(conn, &device, cursor.as_ref(), limit, max_bytes)
            })
            .await?)
    }

    pub async fn set_chat_flags(
        &self,
        device: &DeviceId,
        chat_id: String,
        flags: ChatFlags,
    ) -> Result<Chat, ApiError> {
        let handle = self.handle(device)?;
        let chat_id = self.current_chat_id(device, chat_id).await?;
        let chat = messaging::set_chat_flags(&self.store, device, chat_id, flags).await?;
        // Whatever of the change the upstream follows was queued with it.
        handle.wake_for_actions();
        Ok(chat)
    }

    /// A code that links `device` when typed on the phone of the request's number, while the
    /// device shows its QR codes. Not about chats, but offered by REST and Socket.IO alike.
    pub async fn pairing_code(
        &self,
        device: &DeviceId,
        request: PairingCodeRequest,
    ) -> Result<IssuedCode, ApiError> {
        let phone = LinkingPhone::parse(&request.phone)
            .map_err(|invalid| ApiError::bad_request(invalid.to_string()))?;
        Ok(self.handle(device)?.pairing_code(phone).await?)
    }

    /// Opens a chat with a phone number once the upstream has found it on WhatsApp; returns
    /// the chat and whether it is new.
    pub async fn open_chat(
        &self,
        device: &DeviceId,
        phone: &str,
    ) -> Result<(Chat, bool), ApiError> {
        let handle = self.handle(device)?;
        let digits = messaging::phone_digits(phone)?;
        let Some(chat_id) = handle.find_number(digits.clone()).await? else {
            return Err(ApiError::new(
                ErrorCode::ChatNotFound,
                format!("+{digits} has no WhatsApp account"),
            ));
        };
        Ok(messaging::open_chat(&self.store, device, chat_id, digits).await?)
    }

    pub async fn chat(&self, device: &DeviceId, chat_id: String) -> Result<Chat, ApiError> {
        self.handle(device)?;
        let chat_id = self.current_chat_id(device, chat_id).await?;
        Ok(messaging::require_chat(&self.store, device, &chat_id).await?)
    }

    /// The chat `chat_id` names now: a linked id (`…@lid`) whose number became known names
    /// the number's chat, into which its own was merged (`chat:merged`), so an id a client
    /// kept from before still answers.
    async fn current_chat_id(
        &self,
        device: &DeviceId,
        chat_id: String,
    ) -> Result<String, ApiError> {
        if !chat_id.ends_with("@lid") {
            return Ok(chat_id);
        }
        let (lookup, lid) = (device.clone(), [chat_id.clone()]);
        let numbers = self
            .store
            .read(move |conn| store::linked_ids::numbers_behind(conn, &lookup, &lid))
            .await?;
        Ok(numbers.into_values().next().unwrap_or(chat_id))
    }

    pub async fn messages(
        &self,
        device: &DeviceId,
        chat_id: String,
        query: MessagesQuery,
    ) -> Result<Page<Message>, ApiError> {
        let limit = page_size(query.limit)?;
        let chat_id = self.chat(device, chat_id).await?.id;
        if query.before.is_none() {
            // The chat's newest messages: a client is opening it.
            if let Ok(handle) = self.handle(device) {
                let chat_id = chat_id.clone();
                self.tell(handle, Outbound::WatchPresence { chat_id });
            }
        }
        let (device, max_bytes) = (device.clone(), self.max_reply_bytes);
        let before = query.before.clone();
        let page = self
            .store
            .read(move |conn| {
                if let Some(before) = &before {
                    if !store::messages::in_chat(conn, &device, &chat_id, before)? {
                        return Ok(None);
                    }
                }
                store::messages::list_messages(
                    conn,
                    &device,
                    &chat_id,
                    before.as_deref(),
                    limit,
                    max_bytes,
                )
                .map(Some)
            })
            .await?;
        // A `before` that is no message of the chat would compare as a string with the ids
        // and give an arbitrary page.
        page.ok_or_else(|| {
            ApiError::new(
                ErrorCode::MessageNotFound,
                format!(
                    "`before` {:?} is not a message of this chat",
                    query.before.unwrap_or_default()
                ),
            )
        })
    }

    /// The device's messages whose text has the words searched for, newest first.
    pub async fn search(
        &self,
        device: &DeviceId,
        query: SearchQuery,
    ) -> Result<Page<Message>, ApiError> {
        self.handle(device)?;
        let limit = page_size(query.limit)?;
        if query.q.is_empty() || query.q.chars().count() > 256 {
            return Err(ApiError::bad_request("`q` is 1 to 256 characters"));
        }
        let chat = match query.chat_id {
            Some(chat) => Some(self.chat(device, chat).await?.id),
            None => None,
        };
        let (device, max_bytes) = (device.clone(), self.max_reply_bytes);
        Ok(self
            .store
            .read(move |conn| {
                let (q, before) = (&query.q, query.before.as_deref());
                store::messages::search(
                    conn,
                    &device,
                    q,
                    chat.as_deref(),
                    before,
                    (limit, max_bytes),
                )
            })
            .await?)
    }

    /// The message `name` names: its id, or the id the upstream gave it.
    pub async fn message_named(&self, device: &DeviceId, name: &str) -> Result<Message, ApiError> {
        self.handle(device)?;
        let (lookup, name) = (device.clone(), name.to_owned());
        self.store
            .read(move |conn| {
                Ok(match store::messages::get_message(conn, &lookup, &name)? {
                    Some(message) => Some(message),
                    None => store::messages::by_upstream_id(conn, &lookup, &name)?,
                })
            })
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::MessageNotFound, "no such message"))
    }

    pub async fn message(
        &self,
        device: &DeviceId,
        message_id: String,
    ) -> Result<Message, ApiError> {
        self.handle(device)?;
        let lookup = device.clone();
        let id = message_id.clone();
        self.store
            .read(move |conn| store::messages::get_message(conn, &lookup, &id))
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::MessageNotFound,
                    format!("no message {message_id} on this device"),
                )
            })
    }

    pub async fn contacts(&self, device: &DeviceId) -> Result<Vec<Contact>, ApiError> {
        self.handle(device)?;
        let device = device.clone();
        Ok(self
            .store
            .read(move |conn| store::contacts::list_contacts(conn, &device))
            .await?)
    }

    /// The presence of the contacts `query` names, from what the store knows of them: the
    /// given `ids` in their order, then the participants of `chatId` not among them.
    ///
    /// A chat's participants are [`store::chats::participants`]. With neither, every
    /// contact of the device, by name.
    ///
    /// The answer is held to `limits.max_reply_bytes` like a page of a list: a device with
    /// more contacts than fit is answered the first that fit, and the rest are asked for by
    /// `ids`.
    pub async fn presence(
        &self,
        device: &DeviceId,
        query: PresenceQuery,
    ) -> Result<Vec<Presence>, ApiError> {
        self.handle(device)?;
        let PresenceQuery { ids, chat_id } = query;
        if let Some(chat_id) = &chat_id {
            messaging::check_id("chatId", chat_id)?;
        }
        let (lookup, chat) = (device.clone(), chat_id.clone());
        let mut answer: Vec<Presence> = self
            .store
            .read(move |conn| {
                if ids.is_none() && chat.is_none() {
                    let contacts = store::contacts::list_contacts(conn, &lookup)?;
                    return Ok(Some(contacts.into_iter().map(Presence::from).collect()));
                }
                let mut wanted = ids.clone().unwrap_or_default();
                if let Some(chat) = &chat {
                    match store::chats::participants(conn, &lookup, chat)? {
                        Some(participants) => wanted.extend(participants),
                        None => return Ok(None),
                    }
                }
                let mut asked = HashSet::new();
                wanted.retain(|id| asked.insert(id.clone()));
                let answer = wanted.into_iter().map(|id| {
                    let contact = store::contacts::get_contact(conn, &lookup, &id)?;
                    Ok(contact.map_or_else(|| Presence::unknown(id), Presence::from))
                });
                answer.collect::<store::StoreResult<_>>().map(Some)
            })
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ChatNotFound,
                    format!("no chat {} on this device", chat_id.unwrap_or_default()),
                )
            })?;
        answer.truncate(fitting(&answer, self.max_reply_bytes));
        Ok(answer)
    }

    /// What the simulated phone received, in order (simulator devices only).
    pub async fn simulator_inbox(&self, device: &DeviceId) -> Result<Vec<InboxEntry>, ApiError> {
        self.handle(device)?;
        let device = device.clone();
        Ok(self
            .store
            .read(move |conn| store::messages::simulator_inbox(conn, &device))
            .await?)
    }
}
