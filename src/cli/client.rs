//! The client subcommands: each is one or two REST calls to a running daemon.

use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};

use super::{ClientArgs, Command, DevicesCommand, KeysCommand};
use crate::model::{ids::PATH_SEGMENT, Media};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the daemon at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("{code}: {message}")]
    Api { code: String, message: String },
    #[error("no API key: run this from the daemon's directory (it reads data/admin-api-key), or pass one: --api-key KEY (or export DEVICEBRIDGE_API_KEY=KEY)")]
    NoKey,
    #[error(transparent)]
    Qr(#[from] crate::qr::QrError),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("nothing to send: give a text, a --file, or both")]
    Nothing,
    /// Named by the code the daemon would answer, as the API's errors are.
    #[error("invalid_device_id: {0}")]
    Device(#[from] crate::model::InvalidDeviceId),
    #[error("{0:?} is not an id: empty, `.` and `..` would change the request's path")]
    DotSegment(String),
    #[error("the daemon at {url} did not answer in time ({source})")]
    TimedOut { url: String, source: reqwest::Error },
}

/// How long the client waits to connect to the daemon.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one request may take in all, an upload included.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) struct Client {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Client {
    /// The daemon's base URL.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.answer(request).await
    }

    /// Uploads the file at `path` to device `id`; returns the `media` to send it with.
    async fn upload(
        &self,
        id: &str,
        path: &Path,
        mime: Option<String>,
    ) -> Result<Value, ClientError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| ClientError::File {
                path: path.display().to_string(),
                source,
            })?;
        let mime = mime.unwrap_or_else(|| Media::mime_for(&path.to_string_lossy()).to_owned());
        let mut request = self
            .request(Method::POST, &device_path(id, "/media")?)
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(bytes);
        if let Some(name) = path.file_name() {
            request = request.query(&[("name", name.to_string_lossy())]);
        }
        self.answer(request).await
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        self.http
            .request(method, &url)
            .header("x-api-key", &self.key)
    }

    /// Sends a request; a success's JSON body, or the API's error.
    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let unreachable = |source: reqwest::Error| match source.is_timeout() {
            true => ClientError::TimedOut {
                url: self.url.clone(),
                source,
            },
            false => ClientError::Unreachable {
                url: self.url.clone(),
                source,
            },
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        Err(ClientError::Api {
            code: value["error"]["code"]
                .as_str()
                .unwrap_or("http_error")
                .to_owned(),
            message: value["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}")),
        })
    }
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// An id (a chat's, a key's, a device's), made safe to put in a URL path: encoded so that a
/// `/` or `?` in it cannot reach another route. `.` and `..` are refused, since URL parsers
/// resolve them (encoded or not) against the path before it is sent.
fn path_segment(id: &str) -> Result<String, ClientError> {
    if matches!(id, "" | "." | "..") {
        return Err(ClientError::DotSegment(id.to_owned()));
    }
    Ok(percent_encoding::utf8_percent_encode(id, PATH_SEGMENT).to_string())
}

/// The path of device `id`'s resource `action` (`""` for the device itself); the id is
/// checked as the daemon checks it, so a mistyped id is refused before any request.
pub(super) fn device_path(id: &str, action: &str) -> Result<String, ClientError> {
    let id = crate::model::DeviceId::parse(id)?;
    Ok(format!(
        "/api/v1/devices/{}{action}",
        path_segment(id.as_str())?
    ))
}

/// A client of the daemon that `args` name, with the key they give or the first-run admin key.
pub(super) fn connect(args: &ClientArgs) -> Result<Client, ClientError> {
    let key = match &args.api_key {
        Some(key) => key.clone(),
        None => std::fs::read_to_string("data/admin-api-key")
            .map(|key| key.trim().to_owned())
            .map_err(|_| ClientError::NoKey)?,
    };
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|source| ClientError::Unreachable {
            url: args.url.clone(),
            source,
        })?;
    Ok(Client {
        http,
        url: args.url.clone(),
        key,
    })
}

/// Runs a client subcommand against the daemon.
pub(super) async fn execute(client: &Client, command: &Command) -> Result<(), ClientError> {
    match command {
        Command::Serve(_) | Command::Migrate(_) => unreachable!("handled by main"),
        Command::Devices(DevicesCommand::List) => {
            let list = client.call(Method::GET, "/api/v1/devices", None).await?;
            println!("{:<24} {:<14} {:<12} NAME", "ID", "STATE", "CONNECTOR");
            for d in list["items"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {:<14} {:<12} {}",
                    d["id"].as_str().unwrap_or_default(),
                    d["state"].as_str().unwrap_or_default(),
                    d["connector"].as_str().unwrap_or_default(),
                    d["name"].as_str().unwrap_or_default()
                );
            }
        }
        Command::Devices(DevicesCommand::Show { id }) => print(
            &client
                .call(Method::GET, &device_path(id, "")?, None)
                .await?,
        ),
        Command::Devices(DevicesCommand::Add {
            id,
            name,
            no_autostart,
        }) => {
            let body = json!({ "id": id, "name": name, "connector": "simulator", "autostart": !no_autostart });
            print(
                &client
                    .call(Method::POST, "/api/v1/devices", Some(body))
                    .await?,
            );
        }
        Command::Devices(DevicesCommand::Remove { id }) => {
            client
                .call(Method::DELETE, &device_path(id, "")?, None)
                .await?;
            println!("removed {id}");
        }
        Command::Devices(DevicesCommand::Start { id }) => print(
            &client
                .call(Method::POST, &device_path(id, "/start")?, None)
                .await?,
        ),
        Command::Devices(DevicesCommand::Stop { id }) => print(
            &client
                .call(Method::POST, &device_path(id, "/stop")?, None)
                .await?,
        ),
        Command::Devices(DevicesCommand::Logout { id }) => print(
            &client
                .call(Method::POST, &device_path(id, "/logout")?, None)
                .await?,
        ),
        Command::Qr { device: id, raw } => {
            let qr = client
                .call(Method::GET, &device_path(id, "/qr")?, None)
                .await?;
            let text = qr["qr"].as_str().unwrap_or_default();
            if *raw {
                println!("{text}");
                return Ok(());
            }
            println!("{}", crate::qr::terminal(text)?);
            println!(
                "{text}\ncode {}/{}, expires at {}",
                qr["attempt"],
                qr["maxAttempts"],
                qr["expiresAt"].as_str().unwrap_or_default()
            );
        }
        Command::Pair { qr, phone } => {
            let body = match phone {
                Some(phone) => json!({ "code": qr, "phone": phone }),
                None => json!({ "qr": qr }),
            };
            let paired = client
                .call(Method::POST, "/api/v1/pairings", Some(body))
                .await?;
            println!(
                "linked device {}",
                paired["deviceId"].as_str().unwrap_or_default()
            );
        }
        Command::Send {
            device: id,
            chat,
            text,
            file,
            mime,
        } => {
            let mut body = json!({ "text": text });
            match file {
                Some(file) => body["media"] = client.upload(id, file, mime.clone()).await?,
                None if text.is_empty() => return Err(ClientError::Nothing),
                None => {}
            }
            let path = device_path(id, &format!("/chats/{}/messages", path_segment(chat)?))?;
            print(&client.call(Method::POST, &path, Some(body)).await?);
        }
        Command::Keys(KeysCommand::Create {
            name,
            devices,
            scopes,
        }) => {
            let created = client
                .call(
                    Method::POST,
                    "/api/v1/keys",
                    Some(json!({ "name": name, "devices": devices, "scopes": scopes })),
                )
                .await?;
            print(&created);
            eprintln!("The key is shown only this once: store it now.");
        }
        Command::Keys(KeysCommand::List) => {
            print(&client.call(Method::GET, "/api/v1/keys", None).await?)
        }
        Command::Keys(KeysCommand::Revoke { id }) => {
            client
                .call(
                    Method::DELETE,
                    &format!("/api/v1/keys/{}", path_segment(id)?),
                    None,
                )
                .await?;
            println!("revoked {id}");
        }
        Command::Token {
            subject,
            devices,
            scopes,
            ttl,
            profile,
            raw,
        } => {
            let body = json!({
                "sub": subject, "devices": devices, "scopes": scopes, "ttlSecs": ttl,
                "profile": profile,
            });
            let issued = client
                .call(Method::POST, "/api/v1/tokens", Some(body))
                .await?;
            match raw {
                true => println!("{}", issued["token"].as_str().unwrap_or_default()),
                false => print(&issued),
            }
        }
    }
    Ok(())
}
