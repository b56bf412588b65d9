//! What several whole-system tests do the same way: set up an organisation with its experts,
//! log people in, bring a customer into a workspace through the mailed invitation, listen to a
//! live stream, open a downloaded archive.

use futures::StreamExt;
use ohjaus_integration_tests::{Browser, Storage, TestSystem, expert, registry};
use ohjaus_platform::auth::Role;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

/// An organisation with an office, whose experts are the development provider's Virtu users:
/// maija (main user), olli and noora (guides). Returns the organisation's and office's ids.
pub async fn organisation(system: &TestSystem, business_id: &str) -> (String, String) {
    let org = system.operator().post("/api/v1/organizations", registry("Ohjaamo", business_id)).await.id();
    let admin = system.as_principal(&expert(Uuid::parse_str(&org).unwrap(), &[Role::Admin]));
    let office = admin.post(&format!("/api/v1/organizations/{org}/offices"), json!({"name": "Keskusta"})).await.id();
    for (name, local_id, role) in [
        ("Maija Pääkäyttäjä", "maija.paakayttaja", "admin"),
        ("Olli Ohjaaja", "olli.ohjaaja", "guide"),
        ("Noora Neuvoja", "noora.neuvoja", "guide"),
    ] {
        let added = admin
            .post(
                &format!("/api/v1/organizations/{org}/experts"),
                json!({"name": name, "email": format!("{local_id}@demo.fi"), "virtu": {"home_organization": "demo.ohjaus.invalid", "local_id": local_id}, "roles": [role]}),
            )
            .await;
        assert_eq!(added.status, 201, "{:?}", added.body);
    }
    (org, office)
}

/// A browser logged in through the development identity provider.
pub async fn logged_in<'a>(system: &'a TestSystem, intent: &str, hint: &str) -> Browser<'a> {
    let mut browser = Browser::new(system);
    let login = browser.login(intent, hint).await;
    assert_eq!(login.status, 303, "{hint}: {:?}", login.body);
    browser
}

/// A mail as text, quoted-printable soft breaks undone.
pub fn readable(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

/// The invitation secret in a mail's link.
pub fn token_in(mail: &str) -> String {
    let text = readable(mail);
    let start = text.find("/invitations/").expect("a link in the invitation mail") + "/invitations/".len();
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// The customer with `identity_code` is invited by `guide` to `workspace`, follows the mailed
/// link, logs in with Suomi.fi and accepts. Returns their logged-in browser.
pub async fn join<'a>(
    system: &'a TestSystem,
    storage: &Storage,
    guide: &mut Browser<'_>,
    workspace: &str,
    identity_code: &str,
    email: &str,
) -> Browser<'a> {
    let mails_before = storage.mails().len();
    let invited = guide
        .send_with_csrf(
            Method::POST,
            &format!("/api/v1/workspaces/{workspace}/invitations"),
            Some(json!({"email": email, "personal_identity_code": identity_code})),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let mails = storage.wait_for_mails(mails_before + 1).await;
    let mail = mails.iter().rev().find(|m| readable(m).contains(email)).expect("the invitation mail");
    let token = token_in(mail);
    let mut customer = Browser::new(system);
    assert_eq!(customer.get(&format!("/invitations/{token}")).await.status, 303);
    let login = customer
        .follow(
            &system.url(&format!("/auth/login/dev?intent=invitation&invitation={token}&login_hint={identity_code}")),
        )
        .await;
    assert_eq!(login.status, 303, "{:?}", login.body);
    let accepted =
        customer.send_with_csrf(Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token}))).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    customer
}

pub fn cookie_header(browser: &Browser<'_>) -> String {
    browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
}

/// Opens the browser's live stream of a workspace; each Server-Sent Event arrives whole on the
/// returned channel.
pub async fn listen(browser: &Browser<'_>, workspace: &str) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let live = reqwest::Client::new()
        .get(browser.system.url(&format!("/api/v1/workspaces/{workspace}/live")))
        .header("cookie", cookie_header(browser))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    let (events, received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut stream = live.bytes_stream();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Some(Ok(bytes)) = stream.next().await {
            buffer.push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = buffer.find("\n\n") {
                let event = buffer[..end].to_owned();
                buffer.drain(..end + 2);
                let _ = events.send(event);
            }
        }
    });
    received
}

/// Downloads a URL with the browser's session: status and bytes.
pub async fn download(browser: &Browser<'_>, path: &str) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(browser.system.url(path))
        .header("cookie", cookie_header(browser))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Every entry of a zip archive: name and bytes.
pub async fn unzip(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let reader = async_zip::base::read::mem::ZipFileReader::new(bytes).await.expect("a readable zip");
    let mut entries = Vec::new();
    for index in 0..reader.file().entries().len() {
        let name = reader.file().entries()[index].filename().as_str().unwrap().to_owned();
        let mut entry = reader.reader_with_entry(index).await.unwrap();
        let mut content = Vec::new();
        entry.read_to_end_checked(&mut content).await.unwrap();
        entries.push((name, content));
    }
    entries
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
