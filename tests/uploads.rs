//! Files uploaded to send (`POST /api/v1/devices/{id}/media`), against the real daemon: what
//! an upload answers, how its URL serves the file and carries it in a message, what bad
//! uploads get, and that no file outlives what the store knows of it; the same with the files
//! kept in an S3-compatible bucket (`storage.media_url`, on a moto server), and what an upload
//! gets while the bucket is down.

mod common;

use std::path::PathBuf;

use common::moto::Moto;
use common::{wait_relayed, TestDaemon};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALICE: &str = "15550000002@c.us";
/// A PNG's signature and the start of its header: bytes no text codec would leave alone.
const PICTURE: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

fn contacts() -> Value {
    json!({ "contacts": [{ "id": ALICE, "name": "Alice", "behaviour": "silent" }] })
}

/// The files under the data directory for `device`'s uploads.
fn files_on_disk(daemon: &TestDaemon, device: &str) -> Vec<String> {
    let dir: PathBuf = daemon.dir().join("data").join("uploads").join(device);
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

/// The upload id at the end of a media URL.
fn upload_id(media: &Value) -> String {
    media["url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .unwrap()
        .to_owned()
}

/// Uploads `bytes` to the ready device `phone` as picture `dot.png`, checks what that answers,
/// that its URL serves the same bytes, and that a message sent with it, or with its URL alone,
/// carries it as it is; returns the upload's `media`.
async fn upload_serve_and_send(daemon: &TestDaemon, bytes: &[u8]) -> Value {
    let (status, headers, media) = daemon
        .upload_as(
            &daemon.key,
            "phone",
            bytes.to_vec(),
            Some("image/png"),
            Some("dot.png"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{media}");
    let url = media["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/api/v1/devices/phone/media/up_", daemon.base)),
        "{media}"
    );
    assert_eq!(headers["location"], url);
    assert_eq!(
        (&media["mime"], &media["name"], &media["size"]),
        (&json!("image/png"), &json!("dot.png"), &json!(bytes.len()))
    );

    let served = daemon.download(url).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["content-length"], bytes.len().to_string());
    assert!(served.bytes().await.unwrap() == bytes, "served as uploaded");

    // The answer is the `media` of a message, as it is.
    let mut client = daemon.socket("phone", json!({})).await;
    let sent = daemon
        .send_message(
            "phone",
            ALICE,
            json!({ "text": "a dot", "media": media.clone() }),
        )
        .await;
    assert_eq!((&sent["type"], &sent["media"]), (&json!("image"), &media));
    wait_relayed(&mut client, &sent["id"]).await;

    // Its URL alone is enough: the upload says what the file is, which the URL cannot.
    let by_url = daemon
        .send_message(
            "phone",
            ALICE,
            json!({ "text": "the dot again", "media": { "url": url, "type": "image" } }),
        )
        .await;
    assert_eq!(
        (&by_url["type"], &by_url["media"]),
        (&json!("image"), &media)
    );
    wait_relayed(&mut client, &by_url["id"]).await;
    media
}

#[tokio::test]
async fn an_uploaded_file_is_served_at_its_url_and_sent_with_it() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("phone", contacts()).await;
    let media = upload_serve_and_send(&daemon, PICTURE).await;
    assert_eq!(files_on_disk(&daemon, "phone"), [upload_id(&media)]);

    // Reading it needs a credential for the device, as every media URL does.
    let url = media["url"].as_str().unwrap();
    let stranger = daemon.key_for(&["other"], &["read"]).await;
    let refused = reqwest::Client::new()
        .get(url)
        .header("x-api-key", stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    daemon.stop().await;
}

/// A page shows a picture with `<img src>`, which sends no header: the URL may carry an access
/// token for the device, never an API key, and a token for another device is refused.
#[tokio::test]
async fn a_media_url_takes_an_access_token_in_its_query_for_links_that_send_no_header() {
    let daemon = TestDaemon::start().await;
    daemon.ready_device("phone", contacts()).await;
    let (_, _, media) = daemon
        .upload_as(
            &daemon.key,
            "phone",
            PICTURE.to_vec(),
            Some("image/png"),
            Some("dot.png"),
        )
        .await;
    let url = media["url"].as_str().unwrap();
    let token_for = |device: &'static str| {
        let daemon = &daemon;
        async move {
            let (status, body) = daemon
                .post(
                    "/api/v1/tokens",
                    json!({ "sub": "page", "devices": [device], "scopes": ["read"], "ttlSecs": 600 }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let plain = reqwest::Client::new();
    let fetch = |query: String| plain.get(format!("{url}?{query}")).send();

    let token = token_for("phone").await;
    let served = fetch(format!("access_token={token}")).await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap(), PICTURE);

    let elsewhere = token_for("other").await;
    let refused = fetch(format!("access_token={elsewhere}")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let key = fetch(format!("access_token={}", daemon.key)).await.unwrap();
    assert_eq!(
        key.status(),
        StatusCode::UNAUTHORIZED,
        "an API key is no token"
    );
    let bare = plain.get(url).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    daemon.stop().await;
}

#[tokio::test]
async fn bad_uploads_are_refused_and_leave_no_file() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("phone").await;
    let refused = |(status, _, body): (StatusCode, _, Value), expected: StatusCode, code: &str| {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (expected, Some(code)),
            "{body}"
        );
    };
    let key = daemon.key.clone();
    let picture = || PICTURE.to_vec();
    refused(
        daemon
            .upload_as(&key, "phone", Vec::new(), Some("image/png"), None)
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    for not_a_type in ["png", "image/", "image png/x", "text/plain/extra"] {
        refused(
            daemon
                .upload_as(&key, "phone", picture(), Some(not_a_type), None)
                .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    let too_large = vec![7u8; (16 << 20) + 1];
    refused(
        daemon
            .upload_as(&key, "phone", too_large, Some("video/mp4"), None)
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    refused(
        daemon
            .upload_as(&key, "nobody", picture(), Some("image/png"), None)
            .await,
        StatusCode::NOT_FOUND,
        "device_not_found",
    );
    let reader = daemon.key_for(&["phone"], &["read"]).await;
    refused(
        daemon
            .upload_as(&reader, "phone", picture(), Some("image/png"), None)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(files_on_disk(&daemon, "phone"), Vec::<String>::new());

    let (status, body) = daemon
        .get("/api/v1/devices/phone/media/up_01J0000000000000000000000")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("media_not_found")),
        "{body}"
    );

    // Without a type the file is one of bytes.
    let (status, _, media) = daemon
        .upload_as(&key, "phone", b"%PDF-1.7".to_vec(), None, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{media}");
    assert_eq!(
        (&media["mime"], &media["name"]),
        (&json!("application/octet-stream"), &Value::Null)
    );
    daemon.stop().await;
}

#[tokio::test]
async fn a_restart_removes_files_no_upload_names_and_deleting_a_device_removes_its_own() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("phone").await;
    let kept = daemon.upload("phone", PICTURE, "image/png").await;
    // What a crash can leave: a file cut off while written, one written but never recorded.
    let dir = daemon.dir().join("data").join("uploads").join("phone");
    std::fs::write(dir.join("up_01J0000000000000000000001.part"), b"half").unwrap();
    std::fs::write(dir.join("up_01J0000000000000000000002"), b"whole").unwrap();
    let daemon = daemon.restart().await;
    assert_eq!(files_on_disk(&daemon, "phone"), [upload_id(&kept)]);
    // The daemon listens on a new port now.
    let url = format!(
        "{}/api/v1/devices/phone/media/{}",
        daemon.base,
        upload_id(&kept)
    );
    let served = daemon.download(&url).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.unwrap(), PICTURE);

    let (status, body) = daemon
        .call(Method::DELETE, "/api/v1/devices/phone", None)
        .await;
    assert!(status.is_success(), "{body}");
    assert!(!dir.exists(), "the device's uploads went with it");
    daemon.stop().await;
}

#[tokio::test]
async fn a_browser_form_uploads_its_file_field_with_the_name_and_type_it_gives() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("phone").await;
    // Larger than a JSON body may be: the upload's own limit applies.
    let notes: Vec<u8> = (0..100_000u32).flat_map(|n| n.to_le_bytes()).collect();
    let form = |with_file: bool| {
        let form = reqwest::multipart::Form::new().text("caption", "ignored");
        if !with_file {
            return form;
        }
        let file = reqwest::multipart::Part::bytes(notes.clone())
            .file_name("notes.bin")
            .mime_str("application/x-notes")
            .unwrap();
        form.part("file", file)
    };
    let post = |form: reqwest::multipart::Form| {
        daemon
            .http
            .post(format!("{}/api/v1/devices/phone/media", daemon.base))
            .header("x-api-key", &daemon.key)
            .multipart(form)
            .send()
    };
    let answer = post(form(true)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let media: Value = answer.json().await.unwrap();
    assert_eq!(
        (&media["name"], &media["mime"], &media["size"]),
        (
            &json!("notes.bin"),
            &json!("application/x-notes"),
            &json!(notes.len())
        ),
        "{media}"
    );
    let served = daemon.download(media["url"].as_str().unwrap()).await;
    assert_eq!(served.bytes().await.unwrap(), notes);

    let no_file = post(form(false)).await.unwrap();
    assert_eq!(no_file.status(), StatusCode::BAD_REQUEST);
    let body: Value = no_file.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no file field"),
        "{body}"
    );
    assert_eq!(files_on_disk(&daemon, "phone"), [upload_id(&media)]);
    daemon.stop().await;
}

/// An upload is served from the daemon's own origin: a page or a picture with script in it
/// must not run there with the rights of whoever opened it.
#[tokio::test]
async fn uploaded_files_are_served_so_that_no_browser_runs_them() {
    let daemon = TestDaemon::start().await;
    daemon.create_device("phone").await;
    let page = b"<html><script>fetch('/api/v1/keys')</script></html>";
    let drawing =
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.domain)</script></svg>";
    for (bytes, mime, disposition) in [
        (&page[..], "text/html", "attachment"),
        (&drawing[..], "image/svg+xml", "attachment"),
        (PICTURE, "image/png", "inline"),
    ] {
        let media = daemon.upload("phone", bytes, mime).await;
        let served = daemon.download(media["url"].as_str().unwrap()).await;
        assert_eq!(served.status(), StatusCode::OK);
        let header = |name: &str| served.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(
            (
                header("content-type"),
                header("content-disposition"),
                header("x-content-type-options")
            ),
            (
                mime.to_owned(),
                disposition.to_owned(),
                "nosniff".to_owned()
            ),
            "{mime}"
        );
        let policy = header("content-security-policy");
        assert!(
            policy.contains("sandbox") && policy.contains("default-src 'none'"),
            "{mime}: {policy}"
        );
        assert_eq!(served.bytes().await.unwrap(), bytes);
    }
    daemon.stop().await;
}

/// A daemon whose uploads go to `moto`'s bucket under `prefix`, sweeping it every second.
async fn with_bucket(moto: &Moto, prefix: &str) -> TestDaemon {
    let media_url = moto.media_url(prefix);
    TestDaemon::start_with(|settings, _| {
        settings.storage.media_url = Some(media_url);
        settings.journal.prune_interval_secs = 1;
    })
    .await
}

#[tokio::test]
async fn with_a_media_url_an_upload_is_an_object_of_the_bucket_and_never_a_file() {
    let moto = Moto::start().await;
    let daemon = with_bucket(&moto, "devicebridge/media").await;
    daemon.ready_device("phone", contacts()).await;
    // The largest file a device sends, which goes to the bucket in parts.
    let video: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    let media = upload_serve_and_send(&daemon, &video).await;
    let object = format!("devicebridge/media/phone/{}", upload_id(&media));
    assert_eq!(moto.objects().await, std::slice::from_ref(&object));
    assert!(
        moto.object(&object).await.unwrap() == video,
        "the object is the file"
    );
    let uploads = daemon.dir().join("data").join("uploads");
    assert!(!uploads.exists(), "nothing is written under {uploads:?}");
    daemon.stop().await;
}

#[tokio::test]
async fn objects_no_upload_names_are_swept_and_deleting_a_device_removes_its_own() {
    let moto = Moto::start().await;
    let daemon = with_bucket(&moto, "").await;
    daemon.create_device("phone").await;
    let media = daemon.upload("phone", PICTURE, "image/png").await;
    let kept = format!("phone/{}", upload_id(&media));
    // What a node's crash can leave: an object stored but never recorded; and an object that
    // is not an upload's, which is not the daemon's to remove.
    moto.put("phone/up_01J0000000000000000000002", b"whole")
        .await;
    moto.put("notes.txt", b"someone else's").await;
    let swept = ["notes.txt".to_owned(), kept.clone()];
    moto.wait_objects(&swept, "the object no upload names is swept")
        .await;
    let served = daemon.download(media["url"].as_str().unwrap()).await;
    assert_eq!(served.bytes().await.unwrap(), PICTURE);

    let (status, body) = daemon
        .call(Method::DELETE, "/api/v1/devices/phone", None)
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(
        moto.objects().await,
        ["notes.txt"],
        "the device's uploads went with it"
    );
    daemon.stop().await;
}

#[tokio::test]
async fn an_upload_while_the_bucket_is_down_is_refused_and_taken_once_it_is_back() {
    let mut moto = Moto::start().await;
    let daemon = with_bucket(&moto, "").await;
    daemon.create_device("phone").await;
    moto.stop().await;
    let (status, _, body) = daemon
        .upload_as(
            &daemon.key,
            "phone",
            PICTURE.to_vec(),
            Some("image/png"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("storage_unavailable")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("bucket") && message.contains("try again"),
        "{body}"
    );
    let (status, _) = daemon.get("/api/v1/devices/phone").await;
    assert_eq!(status, StatusCode::OK, "the daemon goes on");

    moto.resume().await;
    let media = daemon.upload("phone", PICTURE, "image/png").await;
    let served = daemon.download(media["url"].as_str().unwrap()).await;
    assert_eq!(served.bytes().await.unwrap(), PICTURE);
    assert_eq!(
        moto.objects().await,
        [format!("phone/{}", upload_id(&media))]
    );
    daemon.stop().await;
}
