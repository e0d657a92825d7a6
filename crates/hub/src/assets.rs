//! The demo page's files: `/` (`index.html`) and `/assets/*` from the web
//! root (`web/dist`, built by `scripts/build-web.sh`), read at request time
//! so a rebuild needs no restart. Without a built web root, `/` answers 200
//! with a plain page that says how to build it, and `/chat.html` (the
//! native-WebSocket page, compiled in) keeps working.

use std::path::{Component, Path, PathBuf};

use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use crate::pages;

/// The web root used when none is configured: `web/dist` in the working
/// directory if it holds a built page, else `web/dist` of the checkout this
/// binary was built from, else (nothing built) the working directory's.
pub fn default_web_root() -> PathBuf {
    let relative = PathBuf::from("web/dist");
    if relative.join("index.html").is_file() {
        return relative;
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist");
    if checkout.join("index.html").is_file() {
        return checkout;
    }
    relative
}

/// The favicon: an inline SVG, so no page ever gets a failed request for it.
const FAVICON: &[u8] = br##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d4ed8"/><path d="M8 11h16M8 16h10M8 21h13" stroke="#fff" stroke-width="3" stroke-linecap="round"/></svg>"##;

/// `/`: the demo page, or how to build it.
pub(crate) async fn index(root: &Path, method: &Method) -> Response {
    if let Some(refusal) = pages::only_get_or_head(method) {
        return refusal;
    }
    let path = root.join("index.html");
    match tokio::fs::read(&path).await {
        Ok(body) => file_response("text/html; charset=utf-8", body),
        Err(_) => pages::plain(
            StatusCode::OK,
            "text/html; charset=utf-8",
            missing_page(root).as_bytes(),
        ),
    }
}

/// `/assets/{path}`: a file under `root/assets`.
pub(crate) async fn asset(root: &Path, method: &Method, path: &str) -> Response {
    if let Some(refusal) = pages::only_get_or_head(method) {
        return refusal;
    }
    let relative = Path::new(path);
    let plain_path = relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    if !plain_path {
        return pages::not_found("/assets/<file>");
    }
    match tokio::fs::read(root.join("assets").join(relative)).await {
        Ok(body) => file_response(content_type(relative), body),
        Err(_) => pages::plain(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!(
                "no asset {path:?} in {}; run scripts/build-web.sh to build the page\n",
                root.display()
            )
            .as_bytes(),
        ),
    }
}

/// `/favicon.ico`.
pub(crate) fn favicon(method: &Method) -> Response {
    pages::only_get_or_head(method)
        .unwrap_or_else(|| file_response("image/svg+xml", FAVICON.to_vec()))
}

/// What `/` says when the page is not built.
fn missing_page(root: &Path) -> String {
    let root = html_escape(&root.display().to_string());
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Switchboard: demo page not built</title>\
         <link rel=\"icon\" href=\"/favicon.ico\" type=\"image/svg+xml\"></head><body>\n\
         <h1>The hub demo page is not built</h1>\n\
         <p>This server looked for it in <code>{root}</code> and found no <code>index.html</code>.</p>\n\
         <p>Build it from the repository checkout with</p>\n\
         <pre>scripts/build-web.sh</pre>\n\
         <p>(it needs node and npm; <code>sudo scripts/install-deps.sh</code> installs them and builds the page too), \
         then reload. Or point the server at a built copy with <code>switchboard serve --web-root DIR</code>.</p>\n\
         <p>Meanwhile the chat room works with the browser's native WebSocket: <a href=\"/chat.html\">/chat.html</a>.</p>\n\
         </body></html>\n"
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("map" | "json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// A file answer; revalidated on every load (`no-cache`) so a rebuilt page
/// shows at once.
fn file_response(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert!(content_type(Path::new("app.js")).starts_with("text/javascript"));
        assert!(content_type(Path::new("style.css")).starts_with("text/css"));
        assert_eq!(content_type(Path::new("x.bin")), "application/octet-stream");
    }

    #[test]
    fn the_missing_page_names_the_build_command_and_the_native_page() {
        let page = missing_page(Path::new("/srv/<web>"));
        assert!(page.contains("scripts/build-web.sh"));
        assert!(page.contains("/chat.html"));
        assert!(page.contains("&lt;web&gt;"));
    }
}
