//! The HTTP edge under slow, stalled, oversized and crowding clients, and what the OpenAPI
//! document says of the bodies that are not JSON.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Storage, TestSystem};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::support::{cookie_header, download, logged_in, open_workspace, organisation, raw};

on_both_backends!(a_slow_upload_that_keeps_sending_completes_and_a_stalled_one_stores_nothing);

/// An answer read off a raw connection.
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

/// Reads one HTTP/1.1 answer (the request said `connection: close`): status, head and body as
/// JSON (chunked transfer undone).
async fn read_answer(socket: &mut TcpStream, within: Duration) -> Answer {
    let mut bytes = Vec::new();
    tokio::time::timeout(within, socket.read_to_end(&mut bytes))
        .await
        .unwrap_or_else(|_| panic!("no answer within {within:?}"))
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status: {head}"));
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut decoded = String::new();
        let mut rest = rest;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            decoded.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        decoded
    } else {
        rest.to_owned()
    };
    Answer { status, head: head.to_owned(), body: serde_json::from_str(&body).unwrap_or(Value::String(body)) }
}

/// A connection to the gateway that has sent `head` (a request's head, maybe half of it).
async fn connect_and_send(system: &TestSystem, head: &str) -> TcpStream {
    let address = system.base.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket
}

/// Whether the server has closed `socket` (it reads end-of-file or a reset) within `within`.
async fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// The head of an upload of `length` bytes as `browser` to the workspace at `base`.
fn upload_head(browser: &Browser<'_>, base: &str, name: &str, length: usize) -> String {
    format!(
        "POST {base}/files?name={name} HTTP/1.1\r\nhost: {host}\r\ncookie: {cookie}\r\nx-csrf-token: {csrf}\r\n\
         content-type: text/plain\r\ncontent-length: {length}\r\naccept-language: fi\r\nconnection: close\r\n\r\n",
        host = browser.system.base.trim_start_matches("http://"),
        cookie = cookie_header(browser),
        csrf = browser.csrf(),
    )
}

/// Text of `length` bytes, a line at a time.
fn text_of(length: usize) -> Vec<u8> {
    let line = b"Tama on hidas mutta sitkea lahetys.\n";
    line.iter().copied().cycle().take(length).collect()
}

/// Uploads are bounded by their pauses, not by their length (issue 17, item 6). With a
/// 3-second deadline on calls between services, a client that sends 300 KB at 50 KB/s (six
/// seconds) gets its file stored; one that stops half-way is answered 408 once its body has
/// paused for the body timeout, and nothing of it stays in the store; one that announces more
/// than the file limit is refused before it sends a byte.
async fn a_slow_upload_that_keeps_sending_completes_and_a_stalled_one_stores_nothing(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(
        storage.clone(),
        &[
            ("OHJAUS__GRPC__TIMEOUT_MS", "3000".into()),
            ("OHJAUS__GATEWAY__BODY_TIMEOUT_MS", "1500".into()),
            ("OHJAUS__FILES__MAX_BYTES", "1000000".into()),
        ],
    )
    .await;
    let (org, office) = organisation(&system, BUSINESS_IDS[0]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let created = open_workspace(
        &mut olli,
        json!({"organization_id": org, "office_id": office, "kind": "personal", "title": "Hidas", "topics": ["studies"]}),
    )
    .await;
    let base = format!("/api/v1/workspaces/{}", created.id());

    // 300 KB in 10 KB pieces, one every 200 ms: six seconds, twice the call deadline.
    let text = text_of(300_000);
    let mut slow = connect_and_send(&system, &upload_head(&olli, &base, "hidas.txt", text.len())).await;
    let started = Instant::now();
    for piece in text.chunks(10_000) {
        slow.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored = read_answer(&mut slow, Duration::from_secs(20)).await;
    assert!(started.elapsed() > Duration::from_secs(5), "the upload was slow");
    assert_eq!(stored.status, 201, "{}\n{}", stored.head, stored.body);
    let file = stored.body["id"].as_str().unwrap().to_owned();
    let fetched = download(&olli, &format!("{base}/files/{file}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.bytes, text, "the slow upload arrived whole");
    let objects_before = storage.stored_objects().await.len();

    // Half of it, then silence with the connection open.
    let mut stalled = connect_and_send(&system, &upload_head(&olli, &base, "kesken.txt", text.len())).await;
    stalled.write_all(&text[..150_000]).await.unwrap();
    let paused = Instant::now();
    let refused = read_answer(&mut stalled, Duration::from_secs(10)).await;
    assert!(paused.elapsed() < Duration::from_secs(5), "cut after the body timeout: {:?}", paused.elapsed());
    assert_eq!(refused.status, 408, "{}\n{}", refused.head, refused.body);
    assert!(refused.head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{}", refused.head);
    assert_eq!(refused.body["type"], "urn:ohjaus:problem:request-timeout");
    assert_eq!(refused.body["title"], "Pyyntö ei saapunut ajoissa");
    for _ in 0..50 {
        if storage.unfinished_uploads().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(storage.unfinished_uploads().await, Vec::<String>::new(), "the stalled upload was aborted");
    assert_eq!(storage.stored_objects().await.len(), objects_before, "nothing of it was stored");
    let listed = olli.get(&format!("{base}/files")).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "{:?}", listed.body);

    // Announced over the file limit: refused at once, before a byte of it.
    let mut huge = connect_and_send(&system, &upload_head(&olli, &base, "iso.txt", 50_000_000)).await;
    let refused = read_answer(&mut huge, Duration::from_secs(2)).await;
    assert_eq!(refused.status, 413, "{}\n{}", refused.head, refused.body);
    assert_eq!(refused.body["type"], "urn:ohjaus:problem:payload-too-large");
}

/// The schema at `schema`, following a `$ref` into the document's components.
fn resolved<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The media types of a `content` object, each checked to be a binary string.
fn binary_media_types(spec: &Value, content: &Value, what: &str) -> Vec<String> {
    let content = content.as_object().unwrap_or_else(|| panic!("{what}: no content"));
    for (media_type, body) in content {
        let schema = resolved(spec, &body["schema"]);
        assert_eq!(schema["type"], "string", "{what} {media_type}: {schema}");
        assert_eq!(schema["format"], "binary", "{what} {media_type}: {schema}");
    }
    let mut types: Vec<String> = content.keys().cloned().collect();
    types.sort();
    types
}

/// A file upload is documented as the raw bytes of one of the types the service accepts
/// (or `application/octet-stream`, leaving the type to the name and the bytes), and a
/// download as the file's own type: not as an array of numbers, nor as octet-stream alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_bodies_are_documented_as_binary_in_their_real_types() {
    let system = TestSystem::start(Backend::Embedded).await;
    let spec = system.anonymous().get("/openapi.json").await.body;
    let shared: Vec<String> = ohjaus_workspaces::domain::file_media_types().into_iter().map(str::to_owned).collect();

    let upload = &spec["paths"]["/workspaces/{id}/files"]["post"]["requestBody"];
    assert_eq!(upload["required"], true, "{upload}");
    let mut accepted = shared.clone();
    accepted.push("application/octet-stream".into());
    accepted.sort();
    assert_eq!(binary_media_types(&spec, &upload["content"], "upload"), accepted);

    let download = &spec["paths"]["/workspaces/{id}/files/{file_id}"]["get"]["responses"]["200"];
    assert_eq!(binary_media_types(&spec, &download["content"], "download"), shared);
}

/// A JSON body that stops arriving is answered, once it has paused for the body timeout, with
/// a localized 408 problem, not a bare 503 half a minute later; a body announced larger than
/// the limit is refused with a 413 problem at once, without waiting for it (item 7).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_a_408_problem_and_an_oversized_one_is_refused_unread() {
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(storage, &[("OHJAUS__GATEWAY__BODY_TIMEOUT_MS", "1000".into())]).await;
    let host = system.base.trim_start_matches("http://").to_owned();
    let head = |length: usize, language: &str| {
        format!(
            "POST /api/v1/organizations HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {length}\r\naccept-language: {language}\r\n\
             connection: close\r\n\r\n",
            token = ohjaus_integration_tests::OPERATOR_TOKEN,
        )
    };
    for (language, title) in [
        ("fi", "Pyyntö ei saapunut ajoissa"),
        ("sv", "Begäran kom inte fram i tid"),
        ("en", "Request not received in time"),
    ] {
        let mut stalled = connect_and_send(&system, &head(200, language)).await;
        stalled.write_all(b"{\"official_name\": \"Hita").await.unwrap();
        let started = Instant::now();
        let answer = read_answer(&mut stalled, Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(4), "answered after the body timeout: {:?}", started.elapsed());
        assert_eq!(answer.status, 408, "{}\n{}", answer.head, answer.body);
        assert!(answer.head.to_ascii_lowercase().contains("content-type: application/problem+json"), "{}", answer.head);
        assert_eq!(answer.body["type"], "urn:ohjaus:problem:request-timeout");
        assert_eq!(answer.body["status"], 408);
        assert_eq!(answer.body["title"], title);
        assert!(answer.body["request_id"].is_string());
    }

    // Two megabytes announced (the limit is one): refused before any of it is sent.
    let mut oversized = connect_and_send(&system, &head(2 * 1024 * 1024, "en")).await;
    let answer = read_answer(&mut oversized, Duration::from_secs(3)).await;
    assert_eq!(answer.status, 413, "{}\n{}", answer.head, answer.body);
    assert_eq!(answer.body["type"], "urn:ohjaus:problem:payload-too-large");
    // Nothing above broke the gateway.
    assert_eq!(system.operator().get("/api/v1/organizations").await.status, 200);
}

/// Five hundred clients that send half a request's head do not keep others waiting: plain
/// requests are answered at once meanwhile. Each half-sent request is closed once its head
/// has taken the header timeout, counted from its first byte even when the client trickles;
/// a kept-alive connection outlives the header timeout but not the idle one, and so does a
/// connection that never sends anything (item 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_stop_normal_requests_and_are_closed_in_time() {
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(
        storage,
        &[("OHJAUS__GATEWAY__HEADER_TIMEOUT_MS", "3000".into()), ("OHJAUS__GATEWAY__IDLE_TIMEOUT_MS", "5000".into())],
    )
    .await;
    let host = system.base.trim_start_matches("http://").to_owned();
    let half = format!("GET /api/v1/organizations HTTP/1.1\r\nhost: {host}\r\nx-slow: ");
    let opened = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..500 {
        slow.push(connect_and_send(&system, &half).await);
    }
    let trickle_head = format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n");
    let mut trickling = connect_and_send(&system, "G").await;
    let trickle = tokio::spawn(async move {
        for byte in trickle_head.bytes().skip(1).chain(std::iter::repeat(b'x')) {
            if trickling.write_all(&[byte]).await.is_err() {
                return Some(trickling);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if opened.elapsed() > Duration::from_secs(12) {
                return None;
            }
        }
        None
    });
    let mut silent = connect_and_send(&system, "").await;

    // Meanwhile, ordinary requests are answered promptly.
    for _ in 0..20 {
        let started = Instant::now();
        let answer = system.operator().get("/api/v1/organizations").await;
        assert_eq!(answer.status, 200);
        assert!(started.elapsed() < Duration::from_secs(1), "answered in {:?}", started.elapsed());
    }
    // A kept-alive connection, idle after its answer.
    let mut kept = connect_and_send(&system, &format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n")).await;
    let mut buffer = [0u8; 4096];
    let read = kept.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    let idle_since = Instant::now();

    // The half-sent heads are closed after the header timeout (3 s), all of them.
    for socket in &mut slow {
        let left = Duration::from_secs(8).saturating_sub(opened.elapsed());
        assert!(closed_within(socket, left).await, "a half-sent request still open after {:?}", opened.elapsed());
    }
    assert!(opened.elapsed() >= Duration::from_millis(2900), "not before the header timeout");
    // The trickling client is cut too, though it never paused for long.
    let trickled = tokio::time::timeout(Duration::from_secs(10), trickle).await.unwrap().unwrap();
    assert!(trickled.is_some(), "a trickling head was cut");
    // The kept-alive connection is open past the header timeout, and closed by the idle one.
    tokio::time::sleep(Duration::from_millis(3500).saturating_sub(idle_since.elapsed())).await;
    assert!(!closed_within(&mut kept, Duration::from_millis(10)).await, "kept alive past the header timeout");
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await, "an idle connection is closed");
    assert!(idle_since.elapsed() >= Duration::from_millis(4900), "not before the idle timeout");
    // So is the connection that never said anything.
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await, "a silent connection is closed");
}

/// The number of open connections is capped: past the cap a new client waits until one
/// closes, and is then answered (item 8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(storage, &[("OHJAUS__GATEWAY__MAX_CONNECTIONS", "5".into())]).await;
    let host = system.base.trim_start_matches("http://").to_owned();
    let half = format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n");
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_and_send(&system, &half).await);
    }
    let client =
        || reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(1)).build().unwrap();
    let refused = client().get(system.url("/healthz")).send().await;
    assert!(refused.is_err(), "a sixth connection is not served while five are open: {refused:?}");
    held.pop();
    let mut answered = false;
    for _ in 0..30 {
        if let Ok(answer) = client().get(system.url("/healthz")).send().await {
            assert_eq!(answer.status(), 200);
            answered = true;
            break;
        }
    }
    assert!(answered, "served once a connection closed");
}

/// Reads a download of `path` as `browser` on a connection with a small receive buffer,
/// resting `pause` after the request; the bytes received (head included) until the server
/// ended the connection.
async fn download_pausing(browser: &Browser<'_>, path: &str, pause: Duration) -> usize {
    let address: std::net::SocketAddr = browser.system.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // A small window, so the server's side fills after a few megabytes.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nhost: {address}\r\ncookie: {}\r\nconnection: close\r\n\r\n",
        cookie_header(browser)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    let mut received = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await.expect("the download ends") {
            Ok(0) | Err(_) => return received,
            Ok(read) => received += read,
        }
    }
}

/// Downloads stream, and the same idea holds for them: a reader that pauses for less than the
/// streaming bound gets the whole file, one that takes nothing for longer is left (its answer
/// ends short, so no client takes it for the whole file) and the service lets the file go
/// (item 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_whose_reader_stops_taking_is_ended_after_the_idle_bound() {
    let storage = Arc::new(Storage::new(Backend::Embedded).await);
    let system = TestSystem::start_on(
        storage,
        &[("OHJAUS__GATEWAY__BODY_TIMEOUT_MS", "1000".into()), ("OHJAUS__GRPC__STREAM_IDLE_TIMEOUT_MS", "2000".into())],
    )
    .await;
    let (org, office) = organisation(&system, BUSINESS_IDS[1]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let created = open_workspace(
        &mut olli,
        json!({"organization_id": org, "office_id": office, "kind": "personal", "title": "Iso", "topics": ["studies"]}),
    )
    .await;
    let base = format!("/api/v1/workspaces/{}", created.id());
    // Larger than what the socket buffers on both sides hold.
    let text = text_of(12 * 1024 * 1024);
    let uploaded =
        raw(&olli, reqwest::Method::POST, &format!("{base}/files?name=iso.txt"), text.clone(), "text/plain").await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.json);
    let path = format!("{base}/files/{}", uploaded.json["id"].as_str().unwrap());

    let whole = download_pausing(&olli, &path, Duration::from_millis(1000)).await;
    assert!(whole > text.len(), "a short pause gets the whole file: {whole} of {}", text.len());
    let left = download_pausing(&olli, &path, Duration::from_secs(5)).await;
    assert!(left < text.len(), "a reader that took nothing for 5 s was left: {left} of {}", text.len());
}
