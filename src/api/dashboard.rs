//! The dashboard at `/`: a single-page app built from web/ by build.rs and embedded in the
//! binary, so it works with no network beyond the daemon. Its own views' paths (`/devices/…`,
//! `/events`, `/admin`, and `/docs`, the API reference, which needs no sign-in) answer its
//! page too, so a deep link reloads to the same view.
//!
//! Files are served precompressed (gzip, made at build time) to clients that take it. Bundle
//! files carry a content hash in their names, so they are cached for a year; the page itself
//! is revalidated, so a new daemon's dashboard is seen at the next load. Every answer carries
//! a Content-Security-Policy that allows nothing but the daemon itself: the page talks only to
//! the daemon's REST and Socket.IO interfaces, and shows QR codes and media as `data:`/`blob:`
//! images.
//!
//! Beside the bundle, a few files of the daemon's own are served whatever the build: its icon,
//! and the stylesheet of the pages a phone opens to link a simulator device (`/pair/{code}`),
//! which live under the same policy and so may not carry their styles inline.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/dashboard.rs"));
}

/// What the page may load and connect to: the daemon, and images it makes itself.
const POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
    style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

/// The page a build without the dashboard serves, saying how to get it.
const MISSING: &str = include_str!("../../assets/dashboard/missing.html");

/// The daemon's own files: path, contents, type. The icon is an ICO at the address browsers
/// ask for by themselves (16, 32 and 48 px drawings of the SVG), and the SVG the pages link to.
const DAEMON_FILES: &[(&str, &[u8], &str)] = &[
    (
        "/favicon.ico",
        include_bytes!("../../assets/dashboard/favicon.ico"),
        "image/x-icon",
    ),
    (
        "/favicon.svg",
        include_bytes!("../../assets/dashboard/favicon.svg"),
        "image/svg+xml",
    ),
    (
        "/pair.css",
        include_bytes!("../../assets/pairing/page.css"),
        "text/css; charset=utf-8",
    ),
];

/// The dashboard's routes and the daemon's own files; they need no state and no credential
/// (the page signs in itself).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let pages = Router::new()
        .route("/", get(page))
        .route("/devices", get(page))
        .route("/devices/{*view}", get(page))
        .route("/events", get(page))
        .route("/admin", get(page))
        .route("/docs", get(page))
        .route("/assets/{*file}", get(asset));
    DAEMON_FILES
        .iter()
        .fold(pages, |router, &(path, contents, kind)| {
            router.route(
                path,
                get(move || async move { daemon_file(contents, kind) }),
            )
        })
}

/// Whether this build embeds the dashboard (it was built with the feature and npm).
pub fn is_embedded() -> bool {
    find("/index.html").is_some()
}

async fn page(headers: HeaderMap) -> Response {
    match find("/index.html") {
        Some(file) => serve(file, "text/html; charset=utf-8", "no-cache", &headers),
        None => with_policy(
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                MISSING,
            )
                .into_response(),
        ),
    }
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match find(&format!("/assets/{file}")) {
        Some(found) => serve(
            found,
            content_type(&file),
            "public, max-age=31536000, immutable",
            &headers,
        ),
        None => with_policy(StatusCode::NOT_FOUND.into_response()),
    }
}

/// One of [`DAEMON_FILES`]. Revalidated like the page, so a new daemon's are seen at once.
fn daemon_file(contents: &'static [u8], kind: &'static str) -> Response {
    with_policy(
        (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            contents,
        )
            .into_response(),
    )
}

type File = (&'static [u8], &'static [u8]);

fn find(path: &str) -> Option<File> {
    embedded::FILES
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, raw, gzipped)| (*raw, *gzipped))
}

fn serve(
    (raw, gzipped): File,
    kind: &'static str,
    cache: &'static str,
    headers: &HeaderMap,
) -> Response {
    let takes_gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| coding.split(';').next().is_some_and(|c| c.trim() == "gzip"));
    let mut response = if takes_gzip {
        ([(header::CONTENT_ENCODING, "gzip")], gzipped).into_response()
    } else {
        raw.into_response()
    };
    let set = response.headers_mut();
    set.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    set.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    with_policy(response)
}

/// The headers every page and file of the daemon's carries: the policy, no type sniffing, no
/// referrer.
pub(super) fn with_policy(mut response: Response) -> Response {
    let set = response.headers_mut();
    set.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    set.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}
