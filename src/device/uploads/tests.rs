//! Uploads over a real store in a temporary directory, their bytes kept as files or in a
//! bucket of a moto server (see `tests/common/moto.rs`).

use std::time::{Duration, Instant};

use chrono::Duration as Days;
use futures_util::{stream, TryStreamExt};

use super::*;
use crate::bus::EventBus;
use crate::model::spec::DeviceSpec;
use crate::store::{DeviceRecord, DeviceSource};

/// The integration tests' moto harness, and how it waits for its server: these tests stop no
/// server, nor wait on a bucket's objects.
#[path = "../../../tests/common/moto.rs"]
#[allow(dead_code)]
mod moto;
#[path = "../../../tests/common/poll.rs"]
#[allow(dead_code)]
mod poll;

/// Uploads over a real store in a temporary directory, with device `phone` in it; their bytes
/// go to the bucket of `media_url` when there is one.
async fn uploads_of_a_phone(media_url: Option<String>) -> (tempfile::TempDir, Uploads, DeviceId) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.storage.data_dir = dir.path().to_owned();
    settings.storage.media_url = media_url;
    let store = Store::open(&settings.storage, EventBus::new()).unwrap();
    let id = DeviceId::parse("phone").unwrap();
    let spec: DeviceSpec = serde_json::from_value(serde_json::json!({ "name": "Phone" })).unwrap();
    let record = DeviceRecord::new(id.clone(), &spec, DeviceSource::Api);
    store
        .write(move |tx| tx.upsert_device(&record))
        .await
        .unwrap();
    (dir, Uploads::new(store, &settings).unwrap(), id)
}

fn chunks(
    parts: Vec<std::io::Result<&'static [u8]>>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin {
    stream::iter(parts.into_iter().map(|part| part.map(Bytes::from_static)))
}

/// An upload of "hello" goes, with its bytes, once the cutoff is past its time, and not
/// before; `kept` reads its bytes where they are kept, by its upload id.
async fn uploads_older_than_the_cutoff_go(
    uploads: &Uploads,
    id: &DeviceId,
    kept: impl AsyncFn(&str) -> Option<Vec<u8>>,
) {
    let media = uploads
        .save(
            id,
            "text/plain".into(),
            None,
            chunks(vec![Ok(b"he"), Ok(b"llo")]),
        )
        .await
        .unwrap();
    assert_eq!(media.size, Some(5));
    let upload_id = media.url.rsplit('/').next().unwrap().to_owned();
    assert_eq!(kept(&upload_id).await.as_deref(), Some(&b"hello"[..]));

    assert_eq!(uploads.prune(Utc::now() - Days::hours(1)).await.unwrap(), 0);
    let opened = uploads.open(id, &upload_id).await.unwrap().unwrap();
    assert_eq!(
        (opened.mime.as_str(), opened.length),
        ("text/plain", Some(5))
    );

    assert_eq!(
        uploads.prune(Utc::now() + Days::seconds(1)).await.unwrap(),
        1
    );
    assert_eq!(kept(&upload_id).await, None);
    assert!(uploads.open(id, &upload_id).await.unwrap().is_none());
}

#[tokio::test]
async fn uploads_older_than_the_cutoff_go_with_their_files() {
    let (_dir, uploads, id) = uploads_of_a_phone(None).await;
    let file = async |upload_id: &str| std::fs::read(uploads.files.path("phone", upload_id)).ok();
    uploads_older_than_the_cutoff_go(&uploads, &id, file).await;
}

#[tokio::test]
async fn uploads_older_than_the_cutoff_go_with_their_objects() {
    let moto = moto::Moto::start().await;
    let (_dir, uploads, id) = uploads_of_a_phone(Some(moto.media_url("kept/here"))).await;
    let object = async |upload_id: &str| moto.object(&format!("kept/here/phone/{upload_id}")).await;
    uploads_older_than_the_cutoff_go(&uploads, &id, object).await;
}

#[tokio::test]
async fn an_upload_cut_off_midway_is_neither_kept_nor_recorded() {
    let (_dir, uploads, id) = uploads_of_a_phone(None).await;
    let cut = chunks(vec![
        Ok(b"first half"),
        Err(std::io::Error::other("connection reset")),
    ]);
    let error = uploads
        .save(&id, "video/mp4".into(), None, cut)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, UploadError::CutOff(why) if why.contains("connection reset")),
        "{error}"
    );
    let left: Vec<_> = std::fs::read_dir(uploads.files.path("phone", ""))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(uploads.store.read(uploads::all).await.unwrap().is_empty());
}

/// A file of the largest size goes to the bucket in parts, of which the upload holds one at a
/// time, and comes back whole; one cut off after its first part leaves no object.
#[tokio::test]
async fn a_large_upload_streams_into_the_bucket_in_parts_and_back() {
    let moto = moto::Moto::start().await;
    let (_dir, uploads, id) = uploads_of_a_phone(Some(moto.media_url(""))).await;
    let file: Vec<u8> = (0..MAX_FORWARD_BYTES as u32)
        .map(|i| (i % 251) as u8)
        .collect();
    let pieces = file
        .chunks(64 << 10)
        .map(|piece| Ok::<_, std::io::Error>(Bytes::copy_from_slice(piece)))
        .collect::<Vec<_>>();
    let media = uploads
        .save(&id, "video/mp4".into(), None, stream::iter(pieces))
        .await
        .unwrap();
    let upload_id = media.url.rsplit('/').next().unwrap();
    let opened = uploads.open(&id, upload_id).await.unwrap().unwrap();
    let read: Vec<u8> = opened
        .body
        .map_ok(|piece| piece.to_vec())
        .try_concat()
        .await
        .unwrap();
    assert!(read == file, "the same bytes come back");
    assert_eq!(moto.objects().await, [format!("phone/{upload_id}")]);

    let first_parts = file[..12 << 20]
        .chunks(1 << 20)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)));
    let cut = stream::iter(first_parts.chain([Err(std::io::Error::other("reset"))]));
    let error = uploads
        .save(&id, "video/mp4".into(), None, cut)
        .await
        .unwrap_err();
    assert!(matches!(error, UploadError::CutOff(_)), "{error}");
    assert_eq!(moto.objects().await, [format!("phone/{upload_id}")]);
}

/// An object no upload names (a node died between storing it and recording it) goes once a
/// sweep finds it still unknown a grace after the first found it so; an upload's, and an
/// object not named as an upload's, stay.
#[tokio::test]
async fn the_sweep_removes_an_object_no_upload_names_a_grace_after_finding_it() {
    let moto = moto::Moto::start().await;
    let (_dir, uploads, id) = uploads_of_a_phone(Some(moto.media_url("up"))).await;
    let media = uploads
        .save(&id, "text/plain".into(), None, chunks(vec![Ok(b"kept")]))
        .await
        .unwrap();
    let kept = format!("up/phone/{}", media.url.rsplit('/').next().unwrap());
    let orphan = "up/phone/up_01J0000000000000000000002";
    moto.put(orphan, b"whole").await;
    moto.put("up/notes.txt", b"someone else's").await;
    let Keeping::Bucket(bucket) = &*uploads.keeping else {
        panic!("kept in the bucket");
    };
    let grace = Duration::from_secs(Settings::default().journal.prune_interval_secs);
    let sweep = async |at: Instant| {
        let listed = bucket.list().await.unwrap();
        let known = uploads.known().await.unwrap();
        bucket.sweep(listed, &known, at).await
    };
    let start = Instant::now();
    assert_eq!(sweep(start).await, 0, "the first sweep removes nothing");
    assert_eq!(sweep(start + grace - Duration::from_millis(1)).await, 0);
    assert_eq!(sweep(start + grace).await, 1);
    let mut left = vec![kept, "up/notes.txt".to_owned()];
    left.sort();
    assert_eq!(moto.objects().await, left);
}

#[test]
fn a_media_url_the_daemon_cannot_use_is_refused_naming_the_key() {
    let problems = |url: &str| {
        let mut settings = Settings::default();
        settings.storage.media_url = Some(url.to_owned());
        let mut out = Vec::new();
        crate::config::SectionCheck::problems(&MediaBucketCheck, &settings, &mut out);
        out.iter()
            .map(|problem| problem.message().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        problems("s3://media/uploads?region=eu-west-1&allow_http=true"),
        Vec::<String>::new()
    );
    for (url, expected) in [
        ("https://media.example/uploads", "must start with s3://"),
        ("s3:///uploads", "names no bucket"),
        ("s3://media?colour=blue", "option \"colour\""),
        ("s3://media?bucket=other", "names its bucket as an option"),
        ("media", "is not a URL"),
    ] {
        let found = problems(url);
        assert!(
            found.len() == 1
                && found[0].starts_with("`storage.media_url`: ")
                && found[0].contains(expected),
            "{url}: {found:?}"
        );
    }
}
