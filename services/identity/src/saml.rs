//! The SAML 2.0 service provider (Suomi.fi's SAML interface, Virtu).
//!
//! AuthnRequests go out signed over HTTP-Redirect; answers come back over HTTP-POST and must
//! carry an assertion that is both signed by the provider and encrypted to us (AES-GCM under
//! RSA-OAEP). Every check — signature with any certificate of the provider's metadata (two
//! during a rotation), issuer, audience, recipient, time window, InResponseTo — runs against
//! our own clock; the caller records assertion ids against replay. Single logout runs over
//! HTTP-Redirect in both directions with signed messages.
//!
//! samael (libxmlsec1) does the XML signature and decryption; what is ours is which checks
//! apply. Its crypto runs on a blocking thread so a fault in the C parser cannot take a
//! request task down with it.

use std::{collections::HashMap, io::Read, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, Utc};
use flate2::{Compression, read::DeflateDecoder, write::DeflateEncoder};
use ohjaus_platform::{clock::SharedClock, config::SamlProviderSettings, html::escape};
use openssl::{
    hash::MessageDigest,
    pkey::{PKey, Private},
    sign::Verifier,
    x509::X509,
};
use rand::RngCore;
use samael::{
    crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode, sign_url},
    metadata::EntityDescriptor,
    schema::{
        Assertion, AuthnContextComparison, AuthnRequest, CipherValue, Issuer, LogoutRequest, LogoutResponse,
        RequestedAuthnContext,
    },
    traits::ToXml,
};
use tokio::sync::RwLock;

use crate::{domain::Attributes, oidc::ConnectorError};

const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// The only content encryption we accept: CBC modes are open to padding-oracle attacks.
const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const RSA_OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// Clocks of two parties differ; this much is forgiven on time checks.
const CLOCK_SKEW_SECONDS: i64 = 180;
/// An assertion issued longer ago than this is stale even if it says otherwise.
const MAX_ISSUE_AGE_MINUTES: i64 = 10;
/// The provider's metadata is read again after this long, and sooner when a signature fails.
const METADATA_TTL_MINUTES: i64 = 60;
const METADATA_RETRY_MINUTES: i64 = 5;
/// A redirect-binding message inflates to at most this much.
const MAX_MESSAGE_BYTES: u64 = 256 * 1024;

/// What the identity provider's metadata tells us.
struct IdpMetadata {
    entity_id: String,
    sso_url: String,
    slo_url: Option<String>,
    signing_certs: Vec<CertificateDer>,
    fetched_at: DateTime<Utc>,
}

/// A login the provider vouched for, after every check.
pub struct VerifiedAssertion {
    pub id: String,
    pub in_response_to: String,
    /// Until when this assertion could be presented; its id is remembered that long.
    pub valid_until: DateTime<Utc>,
    pub name_id: String,
    pub name_id_format: String,
    pub session_index: Option<String>,
    pub attributes: Attributes,
}

/// A message of single logout, after its signature verified.
pub enum LogoutMessage {
    /// The provider ends a user's session (the user logged out elsewhere).
    Request { id: String, name_id: String, relay_state: Option<String> },
    /// The provider's answer to our LogoutRequest.
    Response { in_response_to: String, success: bool },
}

pub struct SamlConnector {
    pub id: String,
    pub display_name: String,
    settings: SamlProviderSettings,
    entity_id: String,
    acs_url: String,
    slo_url: String,
    key: PKey<Private>,
    certificate: Vec<u8>,
    http: reqwest::Client,
    clock: SharedClock,
    idp: RwLock<Option<Arc<IdpMetadata>>>,
}

fn invalid(check: &'static str) -> ConnectorError {
    ConnectorError::Check(check)
}

/// A message id: 128 random bits, starting with a letter as xs:ID requires.
pub fn message_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("_{}", hex::encode(bytes))
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl SamlConnector {
    /// `base_url` is where the gateway is reached; our endpoints are under `/auth/saml`.
    pub fn new(
        id: &str,
        settings: SamlProviderSettings,
        base_url: &str,
        clock: SharedClock,
    ) -> Result<Self, ConnectorError> {
        let key_pem = std::fs::read(&settings.sp_private_key_file)
            .map_err(|e| ConnectorError::Provider(format!("sp_private_key_file: {e}")))?;
        let key = PKey::private_key_from_pem(&key_pem)
            .map_err(|_| ConnectorError::Provider("sp_private_key_file is not a PEM private key".into()))?;
        let cert_pem = std::fs::read(&settings.sp_certificate_file)
            .map_err(|e| ConnectorError::Provider(format!("sp_certificate_file: {e}")))?;
        let certificate = X509::from_pem(&cert_pem)
            .and_then(|c| c.to_der())
            .map_err(|_| ConnectorError::Provider("sp_certificate_file is not a PEM certificate".into()))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| ConnectorError::Provider(e.to_string()))?;
        let entity_id = settings.sp_entity_id.clone().unwrap_or_else(|| format!("{base_url}/auth/saml/metadata/{id}"));
        Ok(Self {
            id: id.to_owned(),
            display_name: settings.display_name.clone(),
            entity_id,
            acs_url: format!("{base_url}/auth/saml/acs/{id}"),
            slo_url: format!("{base_url}/auth/saml/slo/{id}"),
            settings,
            key,
            certificate,
            http,
            clock,
            idp: RwLock::new(None),
        })
    }

    pub fn accepted_authn_context(&self) -> Vec<String> {
        split_list(&self.settings.accepted_authn_context)
    }

    /// Our metadata, for the provider's administrators.
    pub fn metadata_xml(&self) -> String {
        let cert = STANDARD.encode(&self.certificate);
        let key_info = format!(
            "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        );
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\" validUntil=\"{valid}\">\
             <md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\" AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\">\
             <md:KeyDescriptor use=\"signing\">{key_info}</md:KeyDescriptor>\
             <md:KeyDescriptor use=\"encryption\">{key_info}<md:EncryptionMethod Algorithm=\"{AES128_GCM}\"/><md:EncryptionMethod Algorithm=\"{RSA_OAEP}\"/></md:KeyDescriptor>\
             <md:SingleLogoutService Binding=\"{HTTP_REDIRECT}\" Location=\"{slo}\"/>\
             <md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>\
             <md:AssertionConsumerService Binding=\"{HTTP_POST}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\
             </md:SPSSODescriptor></md:EntityDescriptor>\n",
            entity = escape(&self.entity_id),
            valid = instant(self.clock.now() + Duration::days(7)),
            slo = escape(&self.slo_url),
            acs = escape(&self.acs_url),
        )
    }

    async fn idp(&self, refresh_if_older_than: Option<Duration>) -> Result<Arc<IdpMetadata>, ConnectorError> {
        let now = self.clock.now();
        let max_age = refresh_if_older_than.unwrap_or(Duration::minutes(METADATA_TTL_MINUTES));
        if let Some(idp) = self.idp.read().await.as_ref()
            && now - idp.fetched_at < max_age
        {
            return Ok(idp.clone());
        }
        let xml = self.read_metadata().await?;
        let descriptor: EntityDescriptor =
            xml.parse().map_err(|_| ConnectorError::Provider("the provider's metadata does not parse".into()))?;
        let entity_id =
            descriptor.entity_id.clone().ok_or_else(|| ConnectorError::Provider("metadata without entityID".into()))?;
        let idp_descriptor = descriptor
            .idp_sso_descriptors
            .as_ref()
            .and_then(|d| d.first())
            .ok_or_else(|| ConnectorError::Provider("metadata without IDPSSODescriptor".into()))?;
        let redirect = |endpoints: &[samael::metadata::Endpoint]| {
            endpoints.iter().find(|e| e.binding == HTTP_REDIRECT).map(|e| e.location.clone())
        };
        let sso_url = redirect(&idp_descriptor.single_sign_on_services)
            .ok_or_else(|| ConnectorError::Provider("no HTTP-Redirect SingleSignOnService".into()))?;
        let slo_url = redirect(&idp_descriptor.single_logout_services);
        let mut signing_certs = Vec::new();
        for descriptor in &idp_descriptor.key_descriptors {
            if matches!(descriptor.key_use.as_deref(), Some("signing") | None | Some("")) {
                for cert in descriptor.key_info.x509_data.iter().flat_map(|d| d.certificates.iter()) {
                    let der = STANDARD
                        .decode(cert.split_whitespace().collect::<String>())
                        .map_err(|_| ConnectorError::Provider("a metadata certificate is not base64".into()))?;
                    signing_certs.push(CertificateDer::from(der));
                }
            }
        }
        if signing_certs.is_empty() {
            return Err(ConnectorError::Provider("metadata without signing certificates".into()));
        }
        let idp = Arc::new(IdpMetadata { entity_id, sso_url, slo_url, signing_certs, fetched_at: now });
        *self.idp.write().await = Some(idp.clone());
        Ok(idp)
    }

    async fn read_metadata(&self) -> Result<String, ConnectorError> {
        let source = self.settings.idp_metadata.as_str();
        if source.starts_with("https://") || source.starts_with("http://") {
            let url = url::Url::parse(source).map_err(|_| ConnectorError::Provider("idp_metadata URL".into()))?;
            // Plain HTTP only to this machine (tests, a sidecar); anything else must be TLS.
            let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if url.scheme() == "http" && !loopback {
                return Err(ConnectorError::Provider("idp_metadata must be an https URL".into()));
            }
            let response = self.http.get(url).send().await.map_err(|e| ConnectorError::Provider(e.to_string()))?;
            if !response.status().is_success() {
                return Err(ConnectorError::Provider(format!("metadata answered {}", response.status())));
            }
            response.text().await.map_err(|e| ConnectorError::Provider(e.to_string()))
        } else {
            tokio::fs::read_to_string(source).await.map_err(|e| ConnectorError::Provider(format!("idp_metadata: {e}")))
        }
    }

    /// A signed AuthnRequest over HTTP-Redirect; returns the address and the request id.
    pub async fn begin(&self, relay_state: &str) -> Result<(String, String), ConnectorError> {
        let idp = self.idp(None).await?;
        let id = message_id();
        let requested = split_list(&self.settings.requested_authn_context);
        let request = AuthnRequest {
            id: id.clone(),
            version: "2.0".into(),
            issue_instant: self.clock.now(),
            destination: Some(idp.sso_url.clone()),
            assertion_consumer_service_url: Some(self.acs_url.clone()),
            protocol_binding: Some(HTTP_POST.into()),
            issuer: Some(Issuer { value: Some(self.entity_id.clone()), ..Issuer::default() }),
            requested_authn_context: (!requested.is_empty()).then(|| RequestedAuthnContext {
                authn_context_class_refs: Some(
                    requested
                        .into_iter()
                        .map(|value| samael::schema::AuthnContextClassRef { value: Some(value) })
                        .collect(),
                ),
                authn_context_decl_refs: None,
                comparison: Some(AuthnContextComparison::Exact),
            }),
            ..AuthnRequest::default()
        };
        let xml = request.to_string().map_err(|e| ConnectorError::Provider(e.to_string()))?;
        let url = self.signed_redirect(&idp.sso_url, "SAMLRequest", &xml, Some(relay_state))?;
        Ok((url, id))
    }

    fn signed_redirect(
        &self,
        destination: &str,
        parameter: &str,
        xml: &str,
        relay_state: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let mut deflated = Vec::new();
        {
            use std::io::Write;
            let mut encoder = DeflateEncoder::new(&mut deflated, Compression::default());
            encoder.write_all(xml.as_bytes()).map_err(|e| ConnectorError::Provider(e.to_string()))?;
        }
        let mut url = url::Url::parse(destination).map_err(|_| ConnectorError::Provider("destination URL".into()))?;
        url.set_query(None);
        url.query_pairs_mut().append_pair(parameter, &STANDARD.encode(&deflated));
        if let Some(relay_state) = relay_state.filter(|r| !r.is_empty()) {
            url.query_pairs_mut().append_pair("RelayState", relay_state);
        }
        sign_url(url, &self.key).map(|u| u.to_string()).map_err(|e| ConnectorError::Provider(e.to_string()))
    }

    /// Checks a `SAMLResponse` from the ACS: everything but InResponseTo, which the caller
    /// compares with the login it started.
    pub async fn complete(&self, saml_response: &str) -> Result<VerifiedAssertion, ConnectorError> {
        let xml = STANDARD
            .decode(saml_response.split_whitespace().collect::<String>())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid("SAMLResponse is not base64 XML"))?;
        let idp = self.idp(None).await?;
        let assertion = match self.decrypt_and_verify(&xml, &idp).await {
            Err(ConnectorError::Check("signature")) => {
                // The provider may have rotated its key since we read its metadata.
                let fresh = self.idp(Some(Duration::minutes(METADATA_RETRY_MINUTES))).await?;
                self.decrypt_and_verify(&xml, &fresh).await?
            }
            other => other?,
        };
        check_assertion(
            &assertion,
            &Expectations { issuer: &idp.entity_id, audience: &self.entity_id, recipient: &self.acs_url },
            self.clock.now(),
        )
    }

    /// Decrypts the response's one assertion and keeps only what the provider signed. The C
    /// libraries run on a blocking thread, where a fault fails this login and nothing else.
    async fn decrypt_and_verify(&self, xml: &str, idp: &IdpMetadata) -> Result<Assertion, ConnectorError> {
        let xml = xml.to_owned();
        let private_key = self.key.clone();
        let certs = idp.signing_certs.clone();
        tokio::task::spawn_blocking(move || {
            let parts = EncryptedParts::read(&xml)?;
            if parts.data_method != AES128_GCM || parts.key_method != RSA_OAEP {
                return Err(invalid("encryption algorithm not accepted"));
            }
            let content_key = Crypto::decrypt_assertion_key_info(&parts.key_cipher, RSA_OAEP, &private_key)
                .map_err(|_| invalid("decryption"))?;
            if content_key.len() != 16 {
                return Err(invalid("decryption"));
            }
            let plain = Crypto::decrypt_assertion_value_info(&parts.data_cipher, AES128_GCM, &content_key)
                .map_err(|_| invalid("decryption"))?;
            let xml = String::from_utf8(plain).map_err(|_| invalid("decryption"))?;
            // Only what the signature covers survives; an unsigned assertion fails here.
            let signed = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
                &xml,
                &certs,
                ReduceMode::default(),
                Some(&[AllowedSignatureAlgorithm::RsaSha256, AllowedSignatureAlgorithm::EcdsaSha256]),
            )
            .map_err(|_| invalid("signature"))?;
            signed.parse::<Assertion>().map_err(|_| invalid("the signed assertion does not parse"))
        })
        .await
        .map_err(|_| invalid("the assertion could not be processed"))?
    }

    /// Where to send the browser to end the provider's session too; and the request's id.
    pub async fn logout_url(
        &self,
        name_id: &str,
        name_id_format: &str,
        session_index: Option<&str>,
    ) -> Result<Option<(String, String)>, ConnectorError> {
        let idp = self.idp(None).await?;
        let Some(slo) = idp.slo_url.clone() else { return Ok(None) };
        let id = message_id();
        let format =
            if name_id_format.is_empty() { String::new() } else { format!(" Format=\"{}\"", escape(name_id_format)) };
        let session_index = session_index
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
            .unwrap_or_default();
        let xml = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
             ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{dest}\" NotOnOrAfter=\"{until}\">\
             <saml:Issuer>{issuer}</saml:Issuer><saml:NameID{format}>{name_id}</saml:NameID>{session_index}</samlp:LogoutRequest>",
            now = instant(self.clock.now()),
            until = instant(self.clock.now() + Duration::minutes(10)),
            dest = escape(&slo),
            issuer = escape(&self.entity_id),
            name_id = escape(name_id),
        );
        Ok(Some((self.signed_redirect(&slo, "SAMLRequest", &xml, None)?, id)))
    }

    /// Our signed answer to the provider's LogoutRequest.
    pub async fn logout_response_url(
        &self,
        in_response_to: &str,
        relay_state: Option<&str>,
    ) -> Result<Option<String>, ConnectorError> {
        let idp = self.idp(None).await?;
        let Some(slo) = idp.slo_url.clone() else { return Ok(None) };
        let xml = format!(
            "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
             ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{dest}\" InResponseTo=\"{irt}\">\
             <saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
            id = message_id(),
            now = instant(self.clock.now()),
            dest = escape(&slo),
            irt = escape(in_response_to),
            issuer = escape(&self.entity_id),
        );
        Ok(Some(self.signed_redirect(&slo, "SAMLResponse", &xml, relay_state)?))
    }

    /// Verifies and reads a single-logout message that came over HTTP-Redirect. `raw_query`
    /// is the query string exactly as received: the signature covers its encoded form.
    pub async fn logout_message(&self, raw_query: &str) -> Result<LogoutMessage, ConnectorError> {
        let redirect = RedirectMessage::parse(raw_query)?;
        let idp = self.idp(None).await?;
        if !redirect.verify(&idp.signing_certs)? {
            let fresh = self.idp(Some(Duration::minutes(METADATA_RETRY_MINUTES))).await?;
            if !redirect.verify(&fresh.signing_certs)? {
                return Err(invalid("signature"));
            }
        }
        let xml = redirect.inflate()?;
        let issuer_ok =
            |issuer: Option<&Issuer>| issuer.and_then(|i| i.value.as_deref()) == Some(idp.entity_id.as_str());
        let destination_ok = |destination: Option<&str>| destination.is_none_or(|d| d == self.slo_url);
        if redirect.is_request {
            let request: LogoutRequest = xml.parse().map_err(|_| invalid("not a LogoutRequest"))?;
            if !issuer_ok(request.issuer.as_ref()) || !destination_ok(request.destination.as_deref()) {
                return Err(invalid("issuer or destination"));
            }
            let (Some(id), Some(name_id)) = (request.id, request.name_id) else {
                return Err(invalid("LogoutRequest without ID or NameID"));
            };
            Ok(LogoutMessage::Request { id, name_id: name_id.value, relay_state: redirect.relay_state })
        } else {
            let response: LogoutResponse = xml.parse().map_err(|_| invalid("not a LogoutResponse"))?;
            if !issuer_ok(response.issuer.as_ref()) || !destination_ok(response.destination.as_deref()) {
                return Err(invalid("issuer or destination"));
            }
            let success = response.status.as_ref().and_then(|s| s.status_code.value.as_deref()) == Some(STATUS_SUCCESS);
            Ok(LogoutMessage::Response { in_response_to: response.in_response_to.unwrap_or_default(), success })
        }
    }
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

/// A message of the HTTP-Redirect binding, with the encoded parts its signature covers.
struct RedirectMessage {
    is_request: bool,
    /// `SAMLRequest=...[&RelayState=...]&SigAlg=...`, as received.
    signed_part: String,
    message: String,
    relay_state: Option<String>,
    sig_alg: String,
    signature: Vec<u8>,
}

impl RedirectMessage {
    fn parse(raw_query: &str) -> Result<Self, ConnectorError> {
        let mut raw: HashMap<&str, &str> = HashMap::new();
        for pair in raw_query.split('&') {
            let (name, _) = pair.split_once('=').unwrap_or((pair, ""));
            if raw.insert(name, pair).is_some() {
                return Err(invalid("a parameter appears twice"));
            }
        }
        let decoded = |name: &str| {
            raw.get(name).map(|pair| {
                url::form_urlencoded::parse(pair.as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
            })
        };
        let (is_request, parameter) = match (raw.contains_key("SAMLRequest"), raw.contains_key("SAMLResponse")) {
            (true, false) => (true, "SAMLRequest"),
            (false, true) => (false, "SAMLResponse"),
            _ => return Err(invalid("exactly one of SAMLRequest and SAMLResponse")),
        };
        let (Some(sig_alg), Some(signature)) = (decoded("SigAlg"), decoded("Signature")) else {
            return Err(invalid("unsigned"));
        };
        let signed_part = [parameter, "RelayState", "SigAlg"]
            .iter()
            .filter_map(|name| raw.get(name).copied())
            .collect::<Vec<_>>()
            .join("&");
        Ok(Self {
            is_request,
            signed_part,
            message: decoded(parameter).unwrap_or_default(),
            relay_state: decoded("RelayState"),
            sig_alg,
            signature: STANDARD.decode(signature).map_err(|_| invalid("signature is not base64"))?,
        })
    }

    fn verify(&self, certs: &[CertificateDer]) -> Result<bool, ConnectorError> {
        if self.sig_alg != RSA_SHA256 && self.sig_alg != ECDSA_SHA256 {
            return Err(invalid("signature algorithm not accepted"));
        }
        for cert in certs {
            let Ok(key) = X509::from_der(cert.der_data()).and_then(|c| c.public_key()) else { continue };
            let Ok(mut verifier) = Verifier::new(MessageDigest::sha256(), &key) else { continue };
            if verifier.update(self.signed_part.as_bytes()).is_ok() && verifier.verify(&self.signature).unwrap_or(false)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn inflate(&self) -> Result<String, ConnectorError> {
        let deflated = STANDARD.decode(&self.message).map_err(|_| invalid("message is not base64"))?;
        let mut xml = String::new();
        DeflateDecoder::new(deflated.as_slice())
            .take(MAX_MESSAGE_BYTES)
            .read_to_string(&mut xml)
            .map_err(|_| invalid("message does not inflate"))?;
        Ok(xml)
    }
}

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// AES-GCM ciphertext: a 12-byte IV, the data, a 16-byte tag.
const GCM_OVERHEAD: usize = 12 + 16;

/// The encrypted assertion of a Response, read by namespace (not by prefix, which differs
/// between providers).
struct EncryptedParts {
    data_method: String,
    data_cipher: CipherValue,
    key_method: String,
    key_cipher: CipherValue,
}

impl EncryptedParts {
    fn read(xml: &str) -> Result<Self, ConnectorError> {
        let document = libxml::parser::Parser::default().parse_string(xml).map_err(|_| invalid("not XML"))?;
        let mut xpath = libxml::xpath::Context::new(&document).map_err(|_| invalid("not XML"))?;
        for (prefix, namespace) in [("samlp", PROTOCOL_NS), ("saml", ASSERTION_NS), ("xenc", XENC_NS), ("ds", DSIG_NS)]
        {
            xpath.register_namespace(prefix, namespace).map_err(|_| invalid("not XML"))?;
        }
        let mut values = |path: &str| xpath.findvalues(path, None).unwrap_or_default();
        if values("/samlp:Response/@ID").len() != 1 {
            return Err(invalid("not a SAML Response"));
        }
        if values("/samlp:Response/samlp:Status/samlp:StatusCode/@Value").first().map(String::as_str)
            != Some(STATUS_SUCCESS)
        {
            return Err(ConnectorError::Cancelled);
        }
        if !values("/samlp:Response/saml:Assertion/@ID").is_empty() {
            return Err(invalid("the assertion was not encrypted"));
        }
        let one = |found: Vec<String>, what: &'static str| match <[String; 1]>::try_from(found) {
            Ok([value]) => Ok(value.trim().to_owned()),
            Err(_) => Err(invalid(what)),
        };
        let data = "/samlp:Response/saml:EncryptedAssertion/xenc:EncryptedData";
        // The key sits in the data's KeyInfo or beside the data; one way or the other.
        let key = format!(
            "({data}/ds:KeyInfo/xenc:EncryptedKey | /samlp:Response/saml:EncryptedAssertion/xenc:EncryptedKey)"
        );
        let data_cipher = one(values(&format!("{data}/xenc:CipherData/xenc:CipherValue")), "one encrypted assertion")?;
        if STANDARD.decode(data_cipher.split_whitespace().collect::<String>()).map_or(0, |d| d.len()) <= GCM_OVERHEAD {
            return Err(invalid("encrypted data too short"));
        }
        Ok(Self {
            data_method: one(values(&format!("{data}/xenc:EncryptionMethod/@Algorithm")), "encryption method")?,
            data_cipher: CipherValue { value: data_cipher },
            key_method: one(values(&format!("{key}/xenc:EncryptionMethod/@Algorithm")), "key encryption method")?,
            key_cipher: CipherValue {
                value: one(values(&format!("{key}/xenc:CipherData/xenc:CipherValue")), "one encrypted key")?,
            },
        })
    }
}

/// What a valid assertion must say about whom it is for.
struct Expectations<'a> {
    issuer: &'a str,
    audience: &'a str,
    recipient: &'a str,
}

/// The rules an assertion (already decrypted and signature-checked) must pass at `now`.
fn check_assertion(
    assertion: &Assertion,
    expected: &Expectations<'_>,
    now: DateTime<Utc>,
) -> Result<VerifiedAssertion, ConnectorError> {
    let skew = Duration::seconds(CLOCK_SKEW_SECONDS);
    if assertion.issuer.value.as_deref() != Some(expected.issuer) {
        return Err(invalid("issuer"));
    }
    if assertion.issue_instant > now + skew || assertion.issue_instant + Duration::minutes(MAX_ISSUE_AGE_MINUTES) < now
    {
        return Err(invalid("issue instant"));
    }
    let conditions = assertion.conditions.as_ref().ok_or_else(|| invalid("no conditions"))?;
    if conditions.not_before.is_some_and(|t| now + skew < t) {
        return Err(invalid("not yet valid"));
    }
    let conditions_until = conditions.not_on_or_after.ok_or_else(|| invalid("no NotOnOrAfter"))?;
    if conditions_until + skew <= now {
        return Err(invalid("expired"));
    }
    // Every AudienceRestriction must name us.
    let restrictions = conditions.audience_restrictions.as_deref().unwrap_or_default();
    if restrictions.is_empty() || !restrictions.iter().all(|r| r.audience.iter().any(|a| a == expected.audience)) {
        return Err(invalid("audience"));
    }
    let subject = assertion.subject.as_ref().ok_or_else(|| invalid("no subject"))?;
    let name_id = subject.name_id.as_ref().ok_or_else(|| invalid("no NameID"))?;
    let confirmation = subject
        .subject_confirmations
        .iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .find(|d| {
            d.recipient.as_deref() == Some(expected.recipient)
                && d.not_on_or_after.is_some_and(|t| now < t + skew)
                && d.not_before.is_none_or(|t| t <= now + skew)
                && d.in_response_to.is_some()
        })
        .ok_or_else(|| invalid("no bearer confirmation for this recipient and time"))?;
    let statement = assertion.authn_statements.iter().flatten().next().ok_or_else(|| invalid("no AuthnStatement"))?;
    if statement.session_not_on_or_after.is_some_and(|t| t + skew <= now) {
        return Err(invalid("the provider's session has ended"));
    }
    let acr = statement.authn_context.as_ref().and_then(|c| c.value.as_ref()).and_then(|v| v.value.clone());
    let mut values: HashMap<String, String> = HashMap::new();
    for attribute in assertion.attribute_statements.iter().flatten().flat_map(|s| s.attributes.iter()) {
        let Some(value) = attribute.values.iter().find_map(|v| v.value.clone()) else { continue };
        for name in [&attribute.name, &attribute.friendly_name].into_iter().flatten() {
            values.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    let attributes = Attributes::from_named_values(|name| values.get(name).cloned(), acr)
        .map_err(|_| invalid("the personal identity code does not validate"))?;
    let valid_until = [Some(conditions_until), confirmation.not_on_or_after].into_iter().flatten().min().unwrap_or(now);
    Ok(VerifiedAssertion {
        id: assertion.id.clone(),
        in_response_to: confirmation.in_response_to.clone().unwrap_or_default(),
        valid_until: valid_until + skew,
        name_id: name_id.value.clone(),
        name_id_format: name_id.format.clone().unwrap_or_default(),
        session_index: statement.session_index.clone(),
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: Expectations<'static> = Expectations {
        issuer: "https://idp.example/idp",
        audience: "https://sp.example/auth/saml/metadata/suomifi",
        recipient: "https://sp.example/auth/saml/acs/suomifi",
    };

    fn assertion(now: DateTime<Utc>, audience: &str, recipient: &str) -> Assertion {
        let t = |d: i64| instant(now + Duration::seconds(d));
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="{i}">
<saml:Issuer>https://idp.example/idp</saml:Issuer>
<saml:Subject><saml:NameID Format="{TRANSIENT}">_n1</saml:NameID>
<saml:SubjectConfirmation Method="{BEARER}"><saml:SubjectConfirmationData NotOnOrAfter="{u}" Recipient="{recipient}" InResponseTo="_r1"/></saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="{i}" NotOnOrAfter="{u}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement AuthnInstant="{i}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>http://ftn.ficora.fi/2017/loa2</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>
<saml:AttributeStatement><saml:Attribute Name="urn:oid:1.2.246.21"><saml:AttributeValue>010280-952L</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="urn:oid:2.5.4.42" FriendlyName="givenName"><saml:AttributeValue>Tessa</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="urn:oid:2.5.4.4" FriendlyName="sn"><saml:AttributeValue>Testilä</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
</saml:Assertion>"#,
            i = t(0),
            u = t(300),
        )
        .parse()
        .unwrap()
    }

    #[test]
    fn a_valid_assertion_maps_suomifi_attributes() {
        let now = Utc::now();
        let verified = check_assertion(&assertion(now, EXPECTED.audience, EXPECTED.recipient), &EXPECTED, now).unwrap();
        assert_eq!(verified.in_response_to, "_r1");
        assert_eq!(verified.name_id, "_n1");
        assert_eq!(verified.session_index.as_deref(), Some("_s1"));
        assert_eq!(verified.attributes.identity_code.unwrap().expose(), "010280-952L");
        assert_eq!(verified.attributes.display_name.as_deref(), Some("Tessa Testilä"));
        assert_eq!(verified.attributes.acr.as_deref(), Some("http://ftn.ficora.fi/2017/loa2"));
    }

    #[test]
    fn wrong_audience_recipient_issuer_or_time_is_refused() {
        let now = Utc::now();
        let good = assertion(now, EXPECTED.audience, EXPECTED.recipient);
        assert!(check_assertion(&assertion(now, "https://other/sp", EXPECTED.recipient), &EXPECTED, now).is_err());
        assert!(check_assertion(&assertion(now, EXPECTED.audience, "https://other/acs"), &EXPECTED, now).is_err());
        assert!(check_assertion(&good, &Expectations { issuer: "https://other/idp", ..EXPECTED }, now).is_err());
        // Expired (past NotOnOrAfter and the skew) and not yet valid.
        assert!(check_assertion(&good, &EXPECTED, now + Duration::minutes(9)).is_err());
        assert!(check_assertion(&good, &EXPECTED, now - Duration::minutes(10)).is_err());
        assert!(check_assertion(&good, &EXPECTED, now + Duration::minutes(1)).is_ok());
    }

    #[test]
    fn redirect_messages_must_be_signed_once_with_an_accepted_algorithm() {
        assert!(RedirectMessage::parse("SAMLRequest=abc").is_err());
        assert!(RedirectMessage::parse("SAMLRequest=abc&SAMLRequest=def&SigAlg=x&Signature=AA%3D%3D").is_err());
        assert!(RedirectMessage::parse("SAMLRequest=abc&SAMLResponse=def&SigAlg=x&Signature=AA%3D%3D").is_err());
        let sha1 = RedirectMessage::parse(
            "SAMLRequest=abc&RelayState=r&SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1&Signature=AA%3D%3D",
        )
        .unwrap();
        assert_eq!(
            sha1.signed_part,
            "SAMLRequest=abc&RelayState=r&SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1"
        );
        assert!(sha1.verify(&[]).is_err());
    }
}
