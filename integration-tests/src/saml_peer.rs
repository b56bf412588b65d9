//! A third-party SAML 2.0 identity provider (PyPI `pysaml2`, see `peers/saml-idp`) run with
//! python3, and a browser's way through its HTTP-POST form.

use std::{path::PathBuf, process::Child, time::Duration};

use openssl::{
    asn1::Asn1Time,
    bn::BigNum,
    hash::MessageDigest,
    pkey::PKey,
    rsa::Rsa,
    x509::{X509, X509NameBuilder},
};
use serde_json::json;

use crate::{Browser, Reply, TestSystem};

/// The provider id the system knows the peer by.
pub const SAML_PROVIDER: &str = "suomifi";

pub struct SamlPeer {
    pub base: String,
    child: Child,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl SamlPeer {
    /// Starts the provider (it reads our metadata later, from `register`) and makes our key pair.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/saml-idp/server.py");
        let child = std::process::Command::new("python3")
            .arg(&script)
            .env("PORT", port.to_string())
            .env("WORKDIR", dir.path())
            .env("PYTHONWARNINGS", "ignore")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 is required for the SAML provider peer: {e}"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut peer = Self { base, child, dir, http };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = peer.http.get(format!("{}/metadata", peer.base)).send().await
                && response.status() == 200
            {
                break;
            }
            if let Ok(Some(status)) = peer.child.try_wait() {
                panic!(
                    "the SAML provider peer exited ({status}); is pysaml2 installed (pip install -r peers/saml-idp/requirements.txt)?"
                );
            }
            assert!(std::time::Instant::now() < deadline, "the SAML provider peer did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peer.make_sp_keys();
        peer
    }

    fn sp_key(&self) -> PathBuf {
        self.dir.path().join("sp.key")
    }

    fn sp_cert(&self) -> PathBuf {
        self.dir.path().join("sp.crt")
    }

    /// Our (the service provider's) key and self-signed certificate, as an operator makes them.
    fn make_sp_keys(&self) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "ohjaus test service provider").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        std::fs::write(self.sp_key(), key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        std::fs::write(self.sp_cert(), cert.build().to_pem().unwrap()).unwrap();
    }

    /// The settings that make provider `suomifi` of a system this SAML provider.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OHJAUS__IDENTITY__SAML_PROVIDERS__SUOMIFI__DISPLAY_NAME", "Test SAML provider".into()),
            ("OHJAUS__IDENTITY__SAML_PROVIDERS__SUOMIFI__IDP_METADATA", format!("{}/metadata", self.base)),
            ("OHJAUS__IDENTITY__SAML_PROVIDERS__SUOMIFI__SP_PRIVATE_KEY_FILE", self.sp_key().display().to_string()),
            ("OHJAUS__IDENTITY__SAML_PROVIDERS__SUOMIFI__SP_CERTIFICATE_FILE", self.sp_cert().display().to_string()),
            (
                "OHJAUS__IDENTITY__SAML_PROVIDERS__SUOMIFI__REQUESTED_AUTHN_CONTEXT",
                "http://ftn.ficora.fi/2017/loa2".into(),
            ),
            (
                "OHJAUS__IDENTITY__SAML_PROVIDERS__SUOMIFI__ACCEPTED_AUTHN_CONTEXT",
                "http://ftn.ficora.fi/2017/loa2,http://ftn.ficora.fi/2017/loa3".into(),
            ),
        ]
    }

    /// Gives the provider our SP metadata, as its administrators would load it.
    pub async fn register(&self, system: &TestSystem) {
        let metadata = reqwest::get(system.url(&format!("/auth/saml/metadata/{SAML_PROVIDER}"))).await.unwrap();
        assert_eq!(metadata.status(), 200);
        let xml = metadata.text().await.unwrap();
        let stored = self.http.post(format!("{}/admin/sp-metadata", self.base)).body(xml).send().await.unwrap();
        assert_eq!(stored.status(), 204);
    }

    /// Who logs in next, which key signs (`old`, `new` or `foreign`), and the flaw of the answer.
    pub async fn next(&self, user: &str, signer: &str, flaw: &str) {
        let body = json!({"user": user, "signer": signer, "flaw": flaw}).to_string();
        let set = self.http.post(format!("{}/admin/next", self.base)).body(body).send().await.unwrap();
        assert_eq!(set.status(), 204);
    }

    /// Sends `browser` to the provider's logout of the last login (IdP-initiated single logout).
    pub fn idp_logout_url(&self) -> String {
        format!("{}/admin/logout", self.base)
    }

    /// The provider's record of our answer to its last LogoutRequest.
    pub async fn last_logout_response(&self) -> serde_json::Value {
        self.http.get(format!("{}/admin/last-logout-response", self.base)).send().await.unwrap().json().await.unwrap()
    }
}

impl Drop for SamlPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fields of the auto-submitting HTML form a SAML provider answers with.
pub struct SamlForm {
    pub action: String,
    pub saml_response: String,
    pub relay_state: String,
}

fn attribute(html: &str, name: &str, attribute: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    let tag = &html[start..end];
    let value_at = tag.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    let value = &tag[value_at..value_at + tag[value_at..].find('"')?];
    Some(value.replace("&amp;", "&").replace("&quot;", "\"").replace("&#x2B;", "+").replace("&#x3D;", "="))
}

impl SamlForm {
    pub fn parse(reply: &Reply) -> Self {
        let html = reply.body.as_str().unwrap_or_else(|| panic!("no form from the provider: {:?}", reply.body));
        let form_at = html.find("<form").expect("a form");
        let action_at = form_at + html[form_at..].find("action=\"").unwrap() + 8;
        let action = html[action_at..action_at + html[action_at..].find('"').unwrap()].to_owned();
        Self {
            action,
            saml_response: attribute(html, "SAMLResponse", "value").expect("SAMLResponse"),
            relay_state: attribute(html, "RelayState", "value").unwrap_or_default(),
        }
    }
}

impl Browser<'_> {
    /// Starts a login at the SAML provider and returns its answer's form, not yet posted.
    pub async fn saml_form(&mut self, intent: &str) -> SamlForm {
        let start = self.system.url(&format!("/auth/login/{SAML_PROVIDER}?intent={intent}&return_to=/app"));
        let at_provider = self.follow(&start).await;
        assert_eq!(at_provider.status, 200, "the provider refused our AuthnRequest: {:?}", at_provider.body);
        SamlForm::parse(&at_provider)
    }

    /// Posts a SAML answer to our ACS, as the provider's page does.
    pub async fn post_saml(&mut self, form: &SamlForm) -> Reply {
        self.post_form(&form.action, &[("SAMLResponse", &form.saml_response), ("RelayState", &form.relay_state)]).await
    }

    /// A whole SAML login; returns the ACS answer (303 on success, 403 refused).
    pub async fn saml_login(&mut self, intent: &str) -> Reply {
        let form = self.saml_form(intent).await;
        self.post_saml(&form).await
    }
}
