//! What several whole-system tests do the same way: set up an organisation with its experts,
//! log people in, bring a customer into a workspace through the mailed invitation, send raw
//! requests, listen to a live stream, open a downloaded archive, search stored bytes.

use std::collections::BTreeMap;

use futures::StreamExt;
use ohjaus_integration_tests::{Browser, Reply, Storage, TestSystem, expert, registry};
use ohjaus_platform::auth::Role;
use reqwest::{Method, header::HeaderMap};
use serde_json::{Value, json};
use uuid::Uuid;

/// The development provider's Virtu users as experts: (name, Virtu local id, role). Maija is
/// the main user, Olli and Noora are guides.
pub const EXPERTS: [(&str, &str, &str); 3] = [
    ("Maija Pääkäyttäjä", "maija.paakayttaja", "admin"),
    ("Olli Ohjaaja", "olli.ohjaaja", "guide"),
    ("Noora Neuvoja", "noora.neuvoja", "guide"),
];

/// An organisation as [`organisation_with`] made it.
pub struct Org {
    pub id: String,
    pub office: String,
    /// Person ids by Virtu local id.
    pub people: BTreeMap<String, String>,
}

impl Org {
    pub fn uuid(&self) -> Uuid {
        Uuid::parse_str(&self.id).unwrap()
    }
    pub fn person(&self, local_id: &str) -> String {
        self.people.get(local_id).unwrap_or_else(|| panic!("no expert {local_id}")).clone()
    }
    pub fn person_uuid(&self, local_id: &str) -> Uuid {
        Uuid::parse_str(&self.person(local_id)).unwrap()
    }
}

/// An organisation with an office and `staff` as its experts.
pub async fn organisation_with(system: &TestSystem, business_id: &str, staff: &[(&str, &str, &str)]) -> Org {
    let created = system.operator().post("/api/v1/organizations", registry("Ohjaamo", business_id)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    let admin = system.as_principal(&expert(Uuid::parse_str(&id).unwrap(), &[Role::Admin]));
    let office = admin.post(&format!("/api/v1/organizations/{id}/offices"), json!({"name": "Keskusta"})).await.id();
    let mut people = BTreeMap::new();
    for (name, local_id, role) in staff {
        let added = admin
            .post(
                &format!("/api/v1/organizations/{id}/experts"),
                json!({"name": name, "email": format!("{local_id}@demo.fi"), "virtu": {"home_organization": "demo.ohjaus.invalid", "local_id": local_id}, "roles": [role]}),
            )
            .await;
        assert_eq!(added.status, 201, "{:?}", added.body);
        people.insert((*local_id).to_owned(), added.id());
    }
    Org { id, office, people }
}

/// An organisation with an office and [`EXPERTS`] as its experts. Returns the organisation's
/// and office's ids.
pub async fn organisation(system: &TestSystem, business_id: &str) -> (String, String) {
    let org = organisation_with(system, business_id, &EXPERTS).await;
    (org.id, org.office)
}

/// A browser logged in through the development identity provider.
pub async fn logged_in<'a>(system: &'a TestSystem, intent: &str, hint: &str) -> Browser<'a> {
    let mut browser = Browser::new(system);
    let login = browser.login(intent, hint).await;
    assert_eq!(login.status, 303, "{hint}: {:?}", login.body);
    browser
}

/// `guide` opens a workspace from `input`; the answer, a success.
pub async fn open_workspace(guide: &mut Browser<'_>, input: Value) -> Reply {
    let created = guide.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(input)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created
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

/// A mail's `To:` line.
pub fn recipient(mail: &str) -> String {
    mail.lines().find(|l| l.to_ascii_lowercase().starts_with("to:")).unwrap_or_default().to_owned()
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
    let earlier = storage.mails();
    let mails_before = earlier.len();
    let invited = guide
        .send_with_csrf(
            Method::POST,
            &format!("/api/v1/workspaces/{workspace}/invitations"),
            Some(json!({"email": email, "personal_identity_code": identity_code})),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    // Other mails (notifications) may arrive meanwhile, and this address may have had an
    // invitation before: wait for a new mail to this address.
    let mut mail = None;
    for _ in 0..200 {
        let mails = storage.wait_for_mails(mails_before + 1).await;
        mail = mails.iter().find(|m| readable(m).contains(email) && !earlier.contains(*m)).cloned();
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let token = token_in(&mail.expect("the invitation mail"));
    let mut customer = Browser::new(system);
    assert_eq!(customer.get(&format!("/invitations/{token}")).await.status, 303);
    accept(&mut customer, &token, identity_code).await;
    customer
}

/// `customer` logs in with Suomi.fi for the invitation `token` and accepts it; the answer, a
/// success.
pub async fn accept(customer: &mut Browser<'_>, token: &str, identity_code: &str) -> Reply {
    let url = customer
        .system
        .url(&format!("/auth/login/dev?intent=invitation&invitation={token}&login_hint={identity_code}"));
    let login = customer.follow(&url).await;
    assert_eq!(login.status, 303, "{:?}", login.body);
    let accepted =
        customer.send_with_csrf(Method::POST, "/api/v1/invitations/accept", Some(json!({"token": token}))).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    accepted
}

/// The browser's session cookies as a `Cookie` header.
pub fn cookie_header(browser: &Browser<'_>) -> String {
    browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
}

/// An answer as it came: status, headers, the body's bytes and the body as JSON (null if it
/// is none).
pub struct RawReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    pub json: Value,
}

impl RawReply {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self { status, headers, bytes, json }
    }
}

/// A request with the browser's session and CSRF token and a raw body; the raw answer.
pub async fn raw(browser: &Browser<'_>, method: Method, path: &str, body: Vec<u8>, content_type: &str) -> RawReply {
    let response = reqwest::Client::new()
        .request(method, browser.system.url(path))
        .header("cookie", cookie_header(browser))
        .header("x-csrf-token", browser.csrf())
        .header("content-type", content_type)
        .header("accept-language", "en")
        .body(body)
        .send()
        .await
        .unwrap();
    RawReply::of(response).await
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

/// Downloads a URL with the browser's session; the raw answer.
pub async fn download(browser: &Browser<'_>, path: &str) -> RawReply {
    let response = reqwest::Client::new()
        .get(browser.system.url(path))
        .header("cookie", cookie_header(browser))
        .send()
        .await
        .unwrap();
    RawReply::of(response).await
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

/// Whether `needle` stands anywhere in `haystack`.
pub fn contains(haystack: &[u8], needle: impl AsRef<[u8]>) -> bool {
    let needle = needle.as_ref();
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { found.extend(files_under(&path)) } else { found.push(path) }
    }
    found
}

/// A main user of `org` lists `expert` in its directory of experts who take consent requests,
/// so guides may propose them.
pub async fn list_in_directory(system: &TestSystem, org: &Org, expert: &str) {
    let admin = system.as_principal(&crate::support::main_user(org));
    let path = format!("/api/v1/organizations/{}/experts/{}", org.id, org.person(expert));
    let found = admin.get(&path).await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    let version = found.header("etag").expect("an ETag").to_owned();
    let body = json!({"listed": true, "description": "Työllisyys ja työkokeilut"});
    let listed = admin.put(&format!("{path}/listing"), body, &version).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
}

/// A main user of `org`, as a token-carrying principal.
pub fn main_user(org: &Org) -> ohjaus_platform::auth::Principal {
    expert(org.uuid(), &[Role::Admin])
}

/// An unsafe request as the application's pages send it: session cookie, CSRF token and, if
/// given, `If-Match`.
pub async fn send(
    browser: &mut Browser<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> Reply {
    let url = browser.system.url(path);
    let mut headers = vec![("x-csrf-token", browser.csrf())];
    if let Some(version) = if_match {
        headers.push(("if-match", version.to_owned()));
    }
    browser.request(method, &url, body, &headers).await
}

/// The items of a successful page.
pub fn items(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

/// The key store of `service` of a system, as the service opens it.
pub async fn keyring_db(system: &TestSystem, service: &str) -> ohjaus_platform::db::Db {
    ohjaus_platform::keyring::connect(&system.storage.settings(&[]), service).await.unwrap()
}

/// The wrapped data key of the workspace `id` in a key store, if it has one.
pub async fn wrapped_key(keyring: &ohjaus_platform::db::Db, id: &str) -> Option<Vec<u8>> {
    keyring
        .query("SELECT wrapped FROM data_keys WHERE owner_kind = 'workspace' AND owner_id = $1")
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_optional(keyring)
        .await
        .unwrap()
        .map(|row| row.get::<Vec<u8>>("wrapped").unwrap())
}
