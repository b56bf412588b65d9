//! The whole story of a workspace through HTTP: a guide opens it and invites a customer by
//! email; the customer follows the mailed link, logs in with Suomi.fi, shares a PDF with a
//! message; the guide sees it live; nobody else finds any of it; the customer downloads
//! everything and reads who looked. Mail carries links, never content; nothing readable is
//! stored.

use std::sync::Arc;

use chrono::Duration;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Reply, Storage, TestSystem};
use ohjaus_platform::auth::Principal;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    RawReply, accept, contains, cookie_header, download, files_under, listen, logged_in, open_workspace, organisation,
    raw, readable, recipient, token_in, unzip,
};

on_both_backends!(invitation_files_live_export_and_the_access_log);

/// The smallest well-formed PDF we need, carrying `marker` in its text.
fn pdf(marker: &str) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    bytes.extend_from_slice(format!("% {marker}\n").as_bytes());
    // Enough bytes to span several sealed chunks.
    bytes.extend(std::iter::repeat_n(b'.', 150_000));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

/// An upload over HTTP whose client sends half the body it announced and closes its side;
/// the gateway's answer as text.
async fn cut_short_upload(browser: &Browser<'_>, path: &str, document: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url::Url::parse(&browser.system.url(path)).unwrap();
    let mut socket = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).await.unwrap();
    let head = format!(
        "POST {}?{} HTTP/1.1\r\nhost: {}\r\ncookie: {}\r\nx-csrf-token: {}\r\ncontent-type: application/pdf\r\n\
         content-length: {}\r\n\r\n",
        url.path(),
        url.query().unwrap(),
        url.authority(),
        cookie_header(browser),
        browser.csrf(),
        document.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&document[..document.len() / 2]).await.unwrap();
    socket.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("the gateway answers")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Waits (up to 10 s) until `storage` has unfinished uploads, or none, as `wanted` says.
async fn wait_for_unfinished(storage: &Storage, wanted: bool) -> Vec<String> {
    for _ in 0..100 {
        let unfinished = storage.unfinished_uploads().await;
        if unfinished.is_empty() != wanted {
            return unfinished;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    storage.unfinished_uploads().await
}

/// An upload over gRPC whose caller vanishes (its connection is cut) while the service is
/// writing it to the object store: the service aborts it, leaving no object and no unfinished
/// upload (S3 would keep an unfinished multipart upload and its parts for good).
async fn abandoned_grpc_upload(system: &TestSystem, customer_id: Uuid, workspace_id: &str, document: &[u8]) {
    use ohjaus_platform::proto::workspaces::v1::{
        UploadFileHeader, UploadFileRequest, upload_file_request::Part,
        workspaces_service_client::WorkspacesServiceClient,
    };
    // The caller reaches the service through a relay, so its connection can be cut.
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_url = format!("http://{}", relay.local_addr().unwrap());
    let service = system.grpc.trim_start_matches("http://").to_owned();
    let connection = tokio::spawn(async move {
        let (mut caller, _) = relay.accept().await.unwrap();
        let mut upstream = tokio::net::TcpStream::connect(service).await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut caller, &mut upstream).await;
    });
    let channel = tonic::transport::Endpoint::from_shared(relay_url).unwrap().connect().await.unwrap();
    let authorization = format!("Bearer {}", system.service_token(&Principal::Customer { customer_id }));
    let mut client = WorkspacesServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", authorization.parse().unwrap());
        Ok(request)
    });
    let (parts, received) = tokio::sync::mpsc::channel::<UploadFileRequest>(4);
    let stream =
        futures::stream::unfold(
            received,
            |mut received| async move { received.recv().await.map(|part| (part, received)) },
        );
    let call = tokio::spawn(async move { client.upload_file(stream).await });
    let header = UploadFileHeader {
        workspace_id: workspace_id.to_owned(),
        name: "kesken.pdf".into(),
        declared_type: "application/pdf".into(),
        thread_id: String::new(),
    };
    parts.send(UploadFileRequest { part: Some(Part::Header(header)) }).await.unwrap();
    parts.send(UploadFileRequest { part: Some(Part::Chunk(document[..64 * 1024].to_vec())) }).await.unwrap();
    let started = wait_for_unfinished(&system.storage, true).await;
    assert_eq!(started.len(), 1, "the upload reached the object store: {started:?}");
    // The caller vanishes without ending its stream of parts.
    connection.abort();
    let left = wait_for_unfinished(&system.storage, false).await;
    assert_eq!(left, Vec::<String>::new(), "an abandoned upload is aborted");
    call.abort();
    drop(parts);
}

async fn invitation_files_live_export_and_the_access_log(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[("OHJAUS__FILES__MAX_BYTES", "200000".into())]).await;
    let (org, office) = organisation(&system, BUSINESS_IDS[3]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let marker = format!("SEALED-{}", Uuid::now_v7().simple());

    let created = open_workspace(
        &mut olli,
        json!({"organization_id": org, "office_id": office, "kind": "personal", "title": "Opinnot", "topics": ["studies"]}),
    )
    .await;
    let id = created.id();
    let base = format!("/api/v1/workspaces/{id}");

    // The guide invites Tessa by email, bound to her identity code; bad input changes nothing.
    let bad = olli
        .send_with_csrf(
            Method::POST,
            &format!("{base}/invitations"),
            Some(json!({"email": "not-an-address", "language": "xx", "personal_identity_code": "010280-952X"})),
        )
        .await;
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["email", "language", "personal_identity_code"]);
    let invited = olli
        .send_with_csrf(
            Method::POST,
            &format!("{base}/invitations"),
            Some(
                json!({"email": "tessa.testila@example.fi", "language": "fi", "personal_identity_code": "010280-952L"}),
            ),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    assert_eq!(invited.body["bound_to_person"], true);
    assert_eq!(invited.body["state"], "pending");
    assert!(!invited.body.to_string().contains("010280"), "the identity code is never shown");
    let listed = olli.get(&format!("{base}/invitations")).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // The mail: to Tessa, in Finnish, with a link and nothing about the workspace.
    let mails = storage.wait_for_mails(1).await;
    let invitation_mail = mails[0].clone();
    assert!(recipient(&invitation_mail).contains("tessa.testila@example.fi"), "{invitation_mail}");
    assert!(invitation_mail.contains("Content-Language: fi"), "{invitation_mail}");
    assert!(!readable(&invitation_mail).contains("Opinnot"), "no workspace title in mail");
    let token = token_in(&invitation_mail);
    assert!(token.len() >= 40, "{token}");

    // Another person follows the link: they can log in (an account is made for them), but the
    // invitation is not theirs.
    let mut stranger = Browser::new(&system);
    let link = stranger.get(&format!("/invitations/{token}")).await;
    assert_eq!(link.status, 303, "{:?}", link.body);
    assert!(link.header("location").unwrap().contains("intent=invitation"));
    let login = stranger
        .follow(&system.url(&format!("/auth/login/dev?intent=invitation&invitation={token}&login_hint=260991-999R")))
        .await;
    assert_eq!(login.status, 303, "{:?}", login.body);
    assert_eq!(login.header("location").unwrap(), format!("/app/invitations/{token}"));
    let refused =
        stranger.send_with_csrf(Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token}))).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["type"], "urn:ohjaus:problem:invitation-for-another-person");
    // An invitation login needs a usable invitation.
    let forged = stranger.get("/auth/login/dev?intent=invitation&invitation=forged&login_hint=040265-9985").await;
    assert_eq!(forged.status, 410, "{:?}", forged.body);

    // Tessa follows the link, logs in with Suomi.fi and accepts; a second use is refused.
    let mut tessa = Browser::new(&system);
    let accepted = accept(&mut tessa, &token, "010280-952L").await;
    assert_eq!(accepted.body["id"], id.as_str());
    assert_eq!(accepted.body["title"], "Opinnot");
    let again = tessa.send_with_csrf(Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token}))).await;
    assert_eq!(again.status, 410, "{:?}", again.body);
    assert_eq!(tessa.get(&format!("/invitations/{token}")).await.status, 410);

    // The guide listens live.
    let mut received = listen(&olli, &id).await;

    // Tessa shares a PDF with a message. Oversize, mismatched and executable files are
    // refused with a clear problem, and nothing of them is stored.
    let document = pdf(&marker);
    let files = format!("{base}/files");
    let RawReply { status, json: problem, .. } =
        raw(&tessa, Method::POST, &format!("{files}?name=iso.pdf"), pdf(&"x".repeat(300_000)), "application/pdf").await;
    assert_eq!(status, 413, "{problem}");
    let RawReply { status, json: problem, .. } =
        raw(&tessa, Method::POST, &format!("{files}?name=kuva.png"), document.clone(), "image/png").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["reason"], "file-type-mismatch", "{problem}");
    let exe = [b"MZ\x90\x00\x03\x00\x00\x00".to_vec(), vec![0; 500]].concat();
    let RawReply { status, json: problem, .. } =
        raw(&tessa, Method::POST, &format!("{files}?name=lasku.pdf"), exe, "application/pdf").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["reason"], "executable-file", "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("Programs"), "{problem}");
    // An upload its client leaves half-way is not stored either: not over HTTP with the body
    // cut short, nor over gRPC with the connection cut while the service is receiving it.
    let answer = cut_short_upload(&tessa, &format!("{files}?name=kesken.pdf"), &document).await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let me = tessa.get("/api/v1/me").await;
    let customer_id = Uuid::parse_str(me.body["id"].as_str().unwrap()).unwrap();
    abandoned_grpc_upload(&system, customer_id, &id, &document).await;
    assert_eq!(tessa.get(&files).await.body["items"], json!([]));
    assert_eq!(storage.stored_objects().await, Vec::new(), "refused and abandoned uploads store nothing");
    let RawReply { status, json: uploaded, .. } =
        raw(&tessa, Method::POST, &format!("{files}?name=lausunto.pdf"), document.clone(), "application/pdf").await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["content_type"], "application/pdf");
    assert_eq!(uploaded["size"], document.len());
    let file_id = uploaded["id"].as_str().unwrap().to_owned();
    assert_eq!(tessa.get(&files).await.body["items"].as_array().unwrap().len(), 1);

    let posted = tessa
        .send_with_csrf(
            Method::POST,
            &format!("{base}/messages"),
            Some(json!({"body": format!("Tässä lausunto {marker}"), "attachment_ids": [file_id]})),
        )
        .await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    assert_eq!(posted.body["author_name"], "Tessa Testilä");
    let message_id = posted.id();

    // The guide sees it live, with its attachment.
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let event = received.recv().await.expect("the live stream stays open");
            if event.contains("event: message") {
                return event;
            }
        }
    })
    .await
    .expect("the message arrives live");
    assert!(event.contains(&format!("id: {message_id}")), "{event}");
    assert!(event.contains(&marker), "{event}");
    assert!(event.contains("lausunto.pdf"), "{event}");

    // The guide downloads the file: the same bytes, as an attachment, never inline.
    let downloaded = download(&olli, &format!("{files}/{file_id}")).await;
    assert_eq!(downloaded.status, 200);
    assert!(downloaded.headers["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(downloaded.headers["x-content-type-options"], "nosniff");
    assert_eq!(downloaded.bytes, document);

    // The guide is told by email, with a link and without the content.
    let mails = storage.wait_for_mails(2).await;
    let notice = mails.iter().find(|m| recipient(m).contains("olli.ohjaaja@demo.fi")).expect("a mail to the guide");
    assert!(readable(notice).contains("/app/workspaces/"), "{notice}");
    assert!(!notice.contains(&marker) && !notice.contains("lausunto"), "no content in mail: {notice}");
    assert!(!notice.contains("base64"), "the body is readable to this check: {notice}");
    // More messages within the window bring no second mail.
    for n in 0..3 {
        let more = tessa
            .send_with_csrf(Method::POST, &format!("{base}/messages"), Some(json!({"body": format!("lisää {n}")})))
            .await;
        assert_eq!(more.status, 201);
    }
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(storage.mails().iter().filter(|m| recipient(m).contains("olli.ohjaaja@demo.fi")).count(), 1);
    let notifications = olli.get("/api/v1/notifications").await;
    // Four messages and Tessa's acceptance.
    assert_eq!(notifications.body["unread"], 5, "{:?}", notifications.body);
    assert_eq!(notifications.body["items"][4]["kind"], "invitation-accepted");
    let read = olli.send_with_csrf(Method::POST, "/api/v1/notifications/read", Some(json!({}))).await;
    assert_eq!(read.body["marked"], 5, "{:?}", read.body);
    assert_eq!(olli.get("/api/v1/notifications?unread_only=true").await.body["unread"], 0);

    // Nobody else finds any of it.
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    system.ensure_customer("040265-9985").await;
    let mut other_customer = logged_in(&system, "customer", "040265-9985").await;
    let paths = [
        base.clone(),
        format!("{base}/messages"),
        format!("{base}/messages/{message_id}"),
        files.clone(),
        format!("{files}/{file_id}"),
        format!("{base}/export"),
        format!("{base}/access-log"),
        format!("{base}/invitations"),
        format!("{base}/live"),
    ];
    for (who, browser) in
        [("main user", &mut maija), ("other guide", &mut noora), ("other customer", &mut other_customer)]
    {
        for path in &paths {
            let answer: Reply = browser.get(path).await;
            assert_eq!(answer.status, 404, "{who} {path}: {:?}", answer.body);
        }
        let status =
            raw(browser, Method::POST, &format!("{files}?name=a.txt"), b"hello".to_vec(), "text/plain").await.status;
        assert_eq!(status, 404, "{who} upload");
    }
    for path in &paths {
        // Live streams are for browser sessions; a bearer token learns nothing either way.
        let expected = if path.ends_with("/live") { 401 } else { 404 };
        assert_eq!(system.operator().get(path).await.status, expected, "operator {path}");
    }

    // Tessa downloads everything: the message and the file are in the archive.
    let RawReply { status, bytes: zip, .. } =
        raw(&tessa, Method::GET, &format!("{base}/export"), Vec::new(), "application/json").await;
    assert_eq!(status, 200);
    let entries = unzip(zip).await;
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"workspace.json") && names.contains(&"workspace.html"), "{names:?}");
    let json: Value = serde_json::from_slice(&entries.iter().find(|(n, _)| n == "workspace.json").unwrap().1).unwrap();
    let first = &json["messages"][0];
    assert_eq!(first["body"], format!("Tässä lausunto {marker}"));
    let path = first["attachments"][0]["path"].as_str().unwrap();
    let attached = entries.iter().find(|(n, _)| n == path).expect("the attachment is in the archive");
    assert_eq!(attached.1, document);
    let html = String::from_utf8(entries.iter().find(|(n, _)| n == "workspace.html").unwrap().1.clone()).unwrap();
    assert!(html.contains(&marker) && html.contains("Olli Ohjaaja"), "the readable copy has the messages");

    // Tessa reads who looked: the guide's reads, by name, and her own export.
    let log = tessa.get(&format!("{base}/access-log?page_size=100")).await;
    let entries = log.body["items"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["actor_name"] == "Olli Ohjaaja" && e["what"] == "file" && e["actor_role"] == "owner"),
        "{entries:?}"
    );
    assert!(entries.iter().any(|e| e["actor_kind"] == "customer" && e["what"] == "export"), "{entries:?}");

    // Neither the database nor the object store nor the mail holds the content in plain text.
    let db = ohjaus_platform::db::Db::connect(&storage.settings(&[]), "workspaces").await.unwrap();
    for sql in [
        "SELECT sealed AS b FROM messages",
        "SELECT name_sealed AS b FROM files",
        "SELECT sealed AS b FROM outgoing_mail",
    ] {
        for row in db.query(sql).fetch_all(&db).await.unwrap() {
            let bytes: Vec<u8> = row.get("b").unwrap();
            assert!(!contains(&bytes, &marker) && !contains(&bytes, "lausunto"), "{sql}");
        }
    }
    // The object store (the S3 bucket on the server backend) holds the accepted upload only,
    // sealed; the refused and abandoned ones left neither an object nor an unfinished upload.
    let objects = storage.stored_objects().await;
    let keys: Vec<&str> = objects.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, [format!("workspaces/{id}/{file_id}")], "only the accepted upload is stored");
    assert!(objects[0].1.len() > document.len(), "the stored object is the sealed file");
    for (key, bytes) in &objects {
        assert!(!contains(bytes, &marker), "plaintext in object {key}");
    }
    assert_eq!(storage.unfinished_uploads().await, Vec::<String>::new(), "refused and abandoned uploads are aborted");
    for path in files_under(&storage.data_dir()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, &marker), "plaintext in {}", path.display());
    }

    // An invitation that has expired is refused, at the link and at acceptance.
    let group = olli
        .send_with_csrf(
            Method::POST,
            "/api/v1/workspaces",
            Some(json!({"organization_id": org, "office_id": office, "kind": "group", "title": "Ryhmä", "topics": []})),
        )
        .await;
    let invited = olli
        .send_with_csrf(
            Method::POST,
            &format!("/api/v1/workspaces/{}/invitations", group.id()),
            Some(json!({"email": "ryhma@example.fi", "language": "sv"})),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let count = storage.mails().len();
    let mails = storage.wait_for_mails(count.max(3)).await;
    let late_mail =
        mails.iter().rev().find(|m| recipient(m).contains("ryhma@example.fi")).expect("the group invitation");
    assert!(late_mail.contains("Content-Language: sv"));
    let late_token = token_in(late_mail);
    system.clock.advance(Duration::days(15));
    let mut latecomer = Browser::new(&system);
    assert_eq!(latecomer.get(&format!("/invitations/{late_token}")).await.status, 410);
    let login = latecomer.follow(&system.url("/auth/login/dev?intent=customer&login_hint=010280-952L")).await;
    assert_eq!(login.status, 303, "Tessa has an account now: {:?}", login.body);
    let late =
        latecomer.send_with_csrf(Method::POST, "/api/v1/invitations/accept", Some(json!({"token": late_token}))).await;
    assert_eq!(late.status, 410, "{:?}", late.body);
    assert_eq!(late.body["type"], "urn:ohjaus:problem:invitation-unusable");
}
