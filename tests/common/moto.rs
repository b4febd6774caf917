//! An S3-compatible server of the tests' own: moto's `moto_server` (PyPI's `moto[server]`,
//! which `.ci/run` installs in a virtual environment and puts on the PATH), on 127.0.0.1 and a
//! free port, with one bucket, [`BUCKET`]. The tests look at the bucket through a client of
//! their own, not the daemon's.
//!
//! A missing `moto_server` fails the test that needs it, saying how to install it: a test that
//! skipped would pass on a machine that tests nothing.
//!
//! Shared, by path, by the integration tests and the uploads' own tests.

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The bucket every server has.
pub const BUCKET: &str = "media";
/// How moto is installed, as `.ci/run` does it.
const INSTALL: &str = "python3 -m pip install 'moto[server]==5.2.5'";
/// How long the server may take to start, and an effect on the bucket to show.
const WAIT: Duration = Duration::from_secs(30);

/// A moto server run by a test; killed when dropped.
pub struct Moto {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl Moto {
    /// Starts a server with an empty [`BUCKET`], and waits until it serves.
    pub async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut moto = Moto { port, child: None };
        moto.resume().await;
        moto
    }

    /// Starts the server again, on the same port; it forgets what it held, so the bucket is
    /// made anew, empty.
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "moto runs already");
        let child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run moto_server ({error}): install it with `{INSTALL}` (`.ci/run` \
                     installs it in a virtual environment)"
                )
            });
        let root = format!("{}/", self.endpoint());
        let child = self.child.insert(child);
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        super::poll::until(&format!("moto_server to serve {root}"), WAIT, || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("moto_server exited at start with {status}");
            }
            let asked = http.get(&root).send();
            async { asked.await.map(drop).map_err(|error| error.to_string()) }
        })
        .await;
        let made = http.put(format!("{root}{BUCKET}")).send().await.unwrap();
        assert!(made.status().is_success(), "bucket made: {}", made.status());
    }

    /// Stops the server, and waits until its port is closed.
    pub async fn stop(&mut self) {
        let mut child = self.child.take().expect("moto runs");
        child.kill().await.unwrap();
        super::poll::closed(&format!("127.0.0.1:{}", self.port), WAIT).await;
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A `storage.media_url` for the bucket, under `prefix`, that needs no environment.
    pub fn media_url(&self, prefix: &str) -> String {
        format!(
            "s3://{BUCKET}/{prefix}?endpoint={}&region=us-east-1&allow_http=true\
             &access_key_id=test&secret_access_key=test",
            self.endpoint()
        )
    }

    /// A client of the bucket of the tests' own.
    fn client(&self) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(BUCKET)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap()
    }

    /// The names of every object in the bucket, sorted.
    pub async fn objects(&self) -> Vec<String> {
        use futures_util::TryStreamExt;
        let listed: Vec<_> = self.client().list(None).try_collect().await.unwrap();
        let mut names: Vec<String> = listed
            .iter()
            .map(|object| object.location.to_string())
            .collect();
        names.sort();
        names
    }

    /// The bytes of object `name`, if there is one.
    pub async fn object(&self, name: &str) -> Option<Vec<u8>> {
        match self.client().get(&Path::from(name)).await {
            Ok(found) => Some(found.bytes().await.unwrap().to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(error) => panic!("cannot read {name} from moto: {error}"),
        }
    }

    /// Stores `bytes` as object `name`.
    pub async fn put(&self, name: &str, bytes: &'static [u8]) {
        let payload = PutPayload::from_static(bytes);
        self.client().put(&Path::from(name), payload).await.unwrap();
    }

    /// Waits until the bucket's objects are `expected`, sorted.
    pub async fn wait_objects(&self, expected: &[String], why: &str) {
        let what = format!("{why}: the bucket to hold {expected:?}");
        super::poll::until(&what, WAIT, || async {
            let objects = self.objects().await;
            match objects == expected {
                true => Ok(()),
                false => Err(format!("{objects:?}")),
            }
        })
        .await
    }
}
