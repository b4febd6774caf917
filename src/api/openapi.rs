//! The OpenAPI 3.1 document, built from the route list so that it always matches the router.

use serde_json::{json, Map, Value};

use super::error::ErrorCode;
use super::rest::{endpoints, In, FILE_BODY};

/// Reusable schemas referenced by the routes' `body` and `ok` names.
fn schemas() -> Value {
    let device = json!({
        "type": "object",
        "required": ["id", "name", "connector", "state", "createdAt", "updatedAt"],
        "properties": {
            "id": { "type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$" },
            "name": { "type": "string" },
            "connector": { "type": "string", "enum": ["simulator", "waha", "cloud_api"] },
            "state": { "type": "string", "enum": ["stopped", "starting", "qr", "authenticated", "ready", "disconnected", "logged_out", "failed"] },
            "stateReason": { "type": ["string", "null"] },
            "me": { "type": ["object", "null"], "properties": { "id": { "type": "string" }, "name": { "type": "string" } } },
            "autostart": { "type": "boolean" },
            "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" }
        }
    });
    let simulator = json!({
        "type": "object",
        "properties": {
            "phone": { "type": "string" },
            "server_ack_ms": { "type": "integer" },
            "delivered_ms": { "type": "integer" },
            "read_ms": { "type": "integer" },
            "typing_ms": { "type": "integer" },
            "contacts": { "type": "array", "items": { "type": "object", "required": ["id", "name"], "properties": {
                "id": { "type": "string" }, "name": { "type": "string" },
                "behaviour": { "type": "string", "enum": ["echo", "silent", "slow_reader"] } } } }
        }
    });
    let secret = |what: &str| json!({ "type": "string", "writeOnly": true, "description": format!("{what}; never returned") });
    let waha = json!({
        "type": "object",
        "description": "WAHA connector settings; giving them needs the `admin` scope",
        "required": ["base_url", "webhook_secret"],
        "properties": {
            "base_url": { "type": "string", "format": "uri", "description": "WAHA's REST API" },
            "api_key": secret("sent as X-Api-Key"),
            "session": { "type": "string", "default": "default" },
            "webhook_secret": secret("the HMAC key WAHA signs webhooks with")
        }
    });
    let cloud_api = json!({
        "type": "object",
        "description": "Cloud API connector settings; giving them needs the `admin` scope",
        "required": ["phone_number_id", "access_token", "app_secret", "verify_token"],
        "properties": {
            "phone_number_id": { "type": "string" },
            "access_token": secret("Graph API bearer token"),
            "app_secret": secret("signs Meta's webhooks"),
            "verify_token": secret("what Meta echoes when it checks the callback URL"),
            "graph_url": { "type": "string", "format": "uri", "default": "https://graph.facebook.com/v21.0" }
        }
    });
    let key = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" }, "name": { "type": "string" },
            "devices": { "type": "array", "items": { "type": "string" } },
            "scopes": { "type": "array", "items": { "$ref": "#/components/schemas/Scope" } },
            "createdAt": { "type": "string", "format": "date-time" }
        }
    });
    let media = json!({ "type": ["object", "null"], "required": ["url", "mime"], "properties": {
        "url": { "type": "string", "format": "uri" }, "mime": { "type": "string" },
        "name": { "type": ["string", "null"] }, "size": { "type": ["integer", "null"] } } });
    let uploaded = json!({ "type": "object", "required": ["url", "mime", "size"], "properties": {
        "url": { "type": "string", "format": "uri" }, "mime": { "type": "string" },
        "name": { "type": ["string", "null"] }, "size": { "type": "integer" } } });
    let message = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string", "description": "msg_ + ULID, in arrival order" },
            "upstreamId": { "type": ["string", "null"] },
            "deviceId": { "type": "string" }, "chatId": { "type": "string" },
            "from": { "type": "string" }, "fromMe": { "type": "boolean" },
            "type": { "type": "string", "enum": ["text", "image", "audio", "video", "document", "location", "system"] },
            "body": { "type": "string" }, "media": media.clone(),
            "replyTo": { "type": ["string", "null"] },
            "timestamp": { "type": "string", "format": "date-time" },
            "ack": { "type": "integer", "minimum": -1, "maximum": 4 },
            "ackName": { "type": "string", "enum": ["error", "pending", "server", "device", "read", "played"] },
            "tempId": { "type": ["string", "null"] },
            "revoked": { "type": "boolean" },
            "template": schema_ref("Template")
        }
    });
    let chat = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" }, "deviceId": { "type": "string" }, "name": { "type": "string" },
            "kind": { "type": "string", "enum": ["direct", "group"] },
            "unreadCount": { "type": "integer" },
            "lastMessage": { "oneOf": [ { "$ref": "#/components/schemas/Message" }, { "type": "null" } ] },
            "updatedAt": { "type": "string", "format": "date-time" },
            "archived": { "type": "boolean" }, "muted": { "type": "boolean" }
        }
    });
    let contact = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" }, "deviceId": { "type": "string" }, "name": { "type": "string" },
            "pushName": { "type": ["string", "null"] },
            "presence": { "type": "string", "enum": ["online", "offline", "typing"] },
            "lastSeenAt": { "type": ["string", "null"], "format": "date-time" }
        }
    });
    let events = json!({ "type": "array", "items": { "type": "string" }, "default": ["*"],
        "description": "event names (as on Socket.IO), or \"*\"" });
    let devices = json!({ "type": "array", "items": { "type": "string" }, "default": ["*"] });
    let webhook = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string" }, "url": { "type": "string", "format": "uri" },
            "events": events.clone(), "devices": devices.clone(),
            "enabled": { "type": "boolean" },
            "source": { "type": "string", "enum": ["api", "config"] },
            "disabledReason": { "type": ["string", "null"] },
            "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" }
        }
    });
    let delivery = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string", "description": "the webhook-id header of every attempt" },
            "webhookId": { "type": "string" }, "deviceId": { "type": "string" },
            "seq": { "type": "integer" }, "type": { "type": "string" },
            "status": { "type": "string", "enum": ["pending", "retrying", "delivered", "failed"] },
            "attempts": { "type": "integer" },
            "lastStatusCode": { "type": ["integer", "null"] },
            "lastError": { "type": ["string", "null"] },
            "nextAttemptAt": { "type": "string", "format": "date-time" },
            "deliveredAt": { "type": ["string", "null"], "format": "date-time" },
            "createdAt": { "type": "string", "format": "date-time" }
        }
    });
    let page = |item: &str| {
        json!({ "type": "object", "properties": {
        "items": { "type": "array", "items": schema_ref(item) },
        "nextCursor": { "type": ["string", "null"], "description": "pass as `cursor` (chats) or `before` (messages) for the next page" } } })
    };
    let readiness = json!({ "type": "object", "properties": { "status": { "const": "ready" }, "checks": {
        "type": "object",
        "description": "each check's verdict, \"ok\" or why not (a 503 carries them beside `error`)",
        "properties": { "storage": { "type": "string" }, "devices": { "type": "string" }, "running": { "type": "string" } } } } });
    let mut schemas = json!({
        "Message": message,
        "MessagePage": page("Message"),
        "NewMessage": { "type": "object", "properties": {
            "text": { "type": "string" }, "media": media, "replyTo": { "type": "string" },
            "template": schema_ref("Template") } },
        "Template": { "type": "object", "required": ["name", "language"], "additionalProperties": false,
            "description": "a template approved by Meta (Cloud API devices only); it may open a chat with a new number",
            "properties": {
                "name": { "type": "string", "pattern": "^[a-z0-9_]+$" },
                "language": { "type": "string", "examples": ["en_US"] },
                "components": { "type": "array", "items": { "type": "object" }, "description": "header, body and button parameters, as Meta takes them" } } },
        "Chat": chat,
        "ChatPage": page("Chat"),
        "OpenChat": { "type": "object", "additionalProperties": false, "required": ["phone"], "properties": {
            "phone": { "type": "string", "description": "country code first, with or without `+`; spaces, dashes, dots and parentheses are ignored", "example": "+1 555 000 0003" } } },
        "ChatFlags": { "type": "object", "additionalProperties": false, "properties": {
            "archived": { "type": "boolean" }, "muted": { "type": "boolean", "description": "no notification and no host sound or desktop notification for its messages" } } },
        "Contact": contact,
        "ContactList": { "type": "object", "properties": { "items": { "type": "array", "items": schema_ref("Contact") } } },
        "ReadUpTo": { "type": "object", "properties": { "messageId": { "type": "string", "description": "read up to and including; all if absent" } } },
        "ReadResult": { "type": "object", "properties": { "messageIds": { "type": "array", "items": { "type": "string" } } } },
        "SimulatorInbox": { "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object", "properties": {
            "messageId": { "type": "string" }, "upstreamId": { "type": "string" }, "chatId": { "type": "string" },
            "body": { "type": "string" }, "receivedAt": { "type": "string", "format": "date-time" } } } } } },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string", "enum": ErrorCode::ALL.map(ErrorCode::as_str) },
                "message": { "type": "string" } } } }
        },
        "Scope": { "type": "string", "enum": ["read", "send", "control", "admin"] },
        "Health": { "type": "object", "properties": { "status": { "const": "ok" }, "version": { "type": "string" } } },
        "Stats": { "type": "object", "properties": {
            "devices": { "type": "integer" }, "activeDevices": { "type": "integer" },
            "messages": { "type": "integer" }, "connections": { "type": "integer" } } },
        "Device": device,
        "DeviceList": { "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Device" } } } },
        "NewDevice": { "type": "object", "required": ["id", "name"], "properties": {
            "id": { "type": "string" }, "name": { "type": "string" },
            "connector": { "type": "string", "enum": ["simulator", "waha", "cloud_api"], "default": "simulator" },
            "autostart": { "type": "boolean", "default": true },
            "simulator": simulator.clone(), "waha": waha.clone(), "cloud_api": cloud_api.clone(),
            "hooks": { "type": "object", "description": "the host's sound and desktop hooks for this device",
                "properties": { "sound": { "type": "boolean", "default": true }, "desktop": { "type": "boolean", "default": true } } } } },
        "DevicePatch": { "type": "object", "properties": {
            "name": { "type": "string" }, "autostart": { "type": "boolean" }, "simulator": simulator,
            "waha": waha, "cloud_api": cloud_api } },
        "Qr": { "type": "object", "properties": {
            "qr": { "type": "string" }, "image": { "type": "string", "description": "data:image/png;base64 URL" },
            "expiresAt": { "type": "string", "format": "date-time" }, "attempt": { "type": "integer" }, "maxAttempts": { "type": "integer" } } },
        "SimulatorDrop": { "type": "object", "properties": { "failReconnects": { "type": "integer", "minimum": 0, "default": 0 } } },
        "Pairing": { "type": "object", "required": ["qr"], "properties": { "qr": { "type": "string", "description": "the QR text or the bare code" } } },
        "Paired": { "type": "object", "properties": { "deviceId": { "type": "string" }, "linked": { "type": "boolean" } } },
        "EventPage": { "type": "object", "properties": {
            "items": { "type": "array", "items": { "type": "object", "properties": {
                "type": { "type": "string" }, "deviceId": { "type": "string" }, "seq": { "type": "integer" },
                "at": { "type": "string", "format": "date-time" }, "data": { "type": "object" } } } },
            "head": { "type": "integer" },
            "recovered": { "type": "boolean", "description": "false when entries after `after` were already pruned" },
            "nextAfter": { "type": ["integer", "null"], "description": "the `after` of the next page: the page may end early to stay within `limits.max_reply_bytes`, and `qr` entries are left out for credentials without the control scope" } } },
        "Key": key,
        "KeyList": { "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Key" } } } },
        "NewKey": { "type": "object", "required": ["name", "scopes"], "properties": {
            "name": { "type": "string" },
            "devices": { "type": "array", "items": { "type": "string" }, "default": ["*"] },
            "scopes": { "type": "array", "items": { "$ref": "#/components/schemas/Scope" } } } },
        "CreatedKey": { "allOf": [ { "$ref": "#/components/schemas/Key" },
            { "type": "object", "properties": { "key": { "type": "string", "description": "shown only in this response" } } } ] }
    });
    // In a second part: one `json!` of every schema exceeds the macro's recursion limit.
    let more = json!({
        "Readiness": readiness,
        "Webhook": webhook,
        "WebhookList": { "type": "object", "properties": { "items": { "type": "array", "items": schema_ref("Webhook") } } },
        "NewWebhook": { "type": "object", "required": ["url"], "properties": {
            "url": { "type": "string", "format": "uri", "description": "http(s); private and loopback addresses are refused unless webhooks.allow_private" },
            "events": events.clone(), "devices": devices.clone(),
            "secret": { "type": "string", "description": "whsec_ + base64 of 24-64 bytes; generated when absent" },
            "enabled": { "type": "boolean", "default": true } } },
        "CreatedWebhook": { "allOf": [ schema_ref("Webhook"),
            { "type": "object", "properties": { "secret": { "type": "string", "description": "shown only in this response" } } } ] },
        "WebhookPatch": { "type": "object", "properties": {
            "url": { "type": "string", "format": "uri" }, "events": events, "devices": devices,
            "secret": { "type": "string" }, "enabled": { "type": "boolean" } } },
        "Delivery": delivery,
        "DeliveryPage": page("Delivery"),
        "NewToken": { "type": "object", "required": ["sub", "devices", "scopes"], "properties": {
            "sub": { "type": "string" }, "devices": { "type": "array", "items": { "type": "string" } },
            "scopes": { "type": "array", "items": { "$ref": "#/components/schemas/Scope" } },
            "ttlSecs": { "type": "integer", "default": 3600, "minimum": 1, "maximum": 2592000 } } },
        "Token": { "type": "object", "properties": { "token": { "type": "string" },
            "expiresAt": { "type": "string", "format": "date-time",
                "description": "refused from this instant; no later than the end of a token that asked for it" } } }
    });
    schemas["Media"] = uploaded;
    if let (Some(all), Value::Object(more)) = (schemas.as_object_mut(), more) {
        all.extend(more);
    }
    schemas
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A body of bytes.
fn binary() -> Value {
    json!({ "type": "string", "format": "binary" })
}

/// A response described by `description`, with a JSON body of the schema named, if any.
fn response(description: &str, schema: Option<&str>) -> Value {
    match schema {
        Some(name) => json!({ "description": description,
            "content": { "application/json": { "schema": schema_ref(name) } } }),
        None => json!({ "description": description }),
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = schemas();
    for endpoint in endpoints() {
        let doc = endpoint.doc;
        let mut operation = Map::new();
        operation.insert("summary".into(), doc.summary.into());
        let in_path = doc
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }));
        let read = doc.params.iter().map(|param| {
            let location = match param.location {
                In::Query => "query",
                In::Header => "header",
            };
            json!({ "name": param.name, "in": location, "required": false,
                "schema": { "type": param.kind }, "description": param.description })
        });
        let parameters: Vec<Value> = in_path.chain(read).collect();
        if !parameters.is_empty() {
            operation.insert("parameters".into(), parameters.into());
        }
        if let Some(body) = doc.body {
            let content = if body == FILE_BODY {
                json!({ "*/*": { "schema": binary() } })
            } else {
                // Request bodies refuse the fields they do not know.
                schemas[body]["additionalProperties"] = false.into();
                json!({ "application/json": { "schema": schema_ref(body) } })
            };
            operation.insert(
                "requestBody".into(),
                json!({ "required": !doc.body_optional, "content": content }),
            );
        }
        let security = doc.scope.is_some() || doc.any_credential;
        operation.insert(
            "security".into(),
            match security {
                true => json!([{ "apiKey": [] }, { "bearer": [] }]),
                false => json!([]),
            },
        );
        if let Some(scope) = doc.scope {
            operation.insert(
                "x-scope".into(),
                serde_json::to_value(scope).expect("scopes serialize"),
            );
        }
        let (status, schema) = doc.ok;
        let mut success = response("success", schema);
        for media in &doc.media {
            success["content"][*media] = json!({ "schema": binary() });
        }
        for (name, meaning) in &doc.headers {
            success["headers"][*name] =
                json!({ "description": meaning, "schema": { "type": "string" } });
        }
        let mut responses = json!({
            status.to_string(): success,
            "default": response("error", Some("Error")),
        });
        for (status, schema, when) in &doc.also {
            responses[status.to_string()] = response(when, *schema);
        }
        for (status, when) in &doc.errors {
            responses[status.to_string()] = response(when, Some("Error"));
        }
        operation.insert("responses".into(), responses);
        let item = paths
            .entry(doc.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[doc.method.as_str().to_lowercase()] = Value::Object(operation);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "devicebridge", "version": env!("CARGO_PKG_VERSION"),
            "description": "Multi-device messaging bridge. Real-time events are on Socket.IO at `/ws`, namespace `/device/{id}`." },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": { "type": "apiKey", "in": "header", "name": "X-Api-Key" },
                "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_schema_exists() {
        let document = document();
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for reference in text.split("#/components/schemas/").skip(1) {
            let name: String = reference
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
    }

    #[test]
    fn the_query_parameters_and_headers_routes_read_are_documented() {
        let document = document();
        let names = |path: &str, method: &str, location: &str| -> Vec<String> {
            document["paths"][path][method]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == location)
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let messages = "/api/v1/devices/{id}/chats/{chatId}/messages";
        assert_eq!(names(messages, "get", "query"), ["before", "limit"]);
        assert_eq!(names(messages, "get", "path"), ["id", "chatId"]);
        assert_eq!(names(messages, "post", "header"), ["Idempotency-Key"]);
        let chats = "/api/v1/devices/{id}/chats";
        assert_eq!(names(chats, "get", "query"), ["limit", "cursor"]);
        let events = "/api/v1/devices/{id}/events";
        assert_eq!(names(events, "get", "query"), ["after", "limit"]);
    }

    #[test]
    fn every_route_is_documented_once_per_method() {
        let document = document();
        let count: usize = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(count, endpoints().len());
    }
}
