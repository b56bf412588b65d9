//! The OpenID Connect relying party: authorization code flow with PKCE, nonce and state,
//! discovery, JWKS (fetched again when a token is signed with a key we do not know yet, so
//! providers can rotate keys), and `acr_values` for the level of assurance.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use ohjaus_platform::{clock::SharedClock, config::ProviderSettings};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, LoginHint, Nonce, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient},
};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::domain::Attributes;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("provider unreachable or misconfigured: {0}")]
    Provider(String),
    #[error("the provider's answer did not verify: {0}")]
    Invalid(String),
    /// A check of ours failed (SAML); the name of the check is fixed text, safe to audit.
    #[error("the provider's answer failed the check: {0}")]
    Check(&'static str),
    #[error("the user cancelled or the provider refused the login")]
    Cancelled,
}

/// What a started login needs to remember until the callback.
pub struct LoginStart {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A verified login.
pub struct LoginResult {
    pub attributes: Attributes,
}

struct Discovered {
    metadata: ProviderMetadataWithLogout,
    end_session_endpoint: Option<String>,
    fetched_at: DateTime<Utc>,
}

pub struct OidcConnector {
    pub id: String,
    pub display_name: String,
    settings: ProviderSettings,
    redirect_uri: String,
    http: reqwest::Client,
    clock: SharedClock,
    discovered: RwLock<Option<Arc<Discovered>>>,
}

/// Discovery is read again after this long, and at once when a key is unknown.
const DISCOVERY_TTL_MINUTES: i64 = 60;

impl OidcConnector {
    pub fn new(
        id: &str,
        settings: ProviderSettings,
        redirect_uri: String,
        clock: SharedClock,
    ) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            // No redirects: a provider must answer its endpoints directly (SSRF protection).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| ConnectorError::Provider(e.to_string()))?;
        Ok(Self {
            id: id.to_owned(),
            display_name: settings.display_name.clone(),
            settings,
            redirect_uri,
            http,
            clock,
            discovered: RwLock::new(None),
        })
    }

    async fn discovered(&self, refresh: bool) -> Result<Arc<Discovered>, ConnectorError> {
        if !refresh
            && let Some(found) = self.discovered.read().await.as_ref()
            && self.clock.now() - found.fetched_at < Duration::minutes(DISCOVERY_TTL_MINUTES)
        {
            return Ok(found.clone());
        }
        let issuer =
            IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| ConnectorError::Provider(e.to_string()))?;
        // One read of the discovery document (and its JWKS), `end_session_endpoint` included.
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| ConnectorError::Provider(e.to_string()))?;
        let end_session_endpoint =
            metadata.additional_metadata().end_session_endpoint.as_ref().map(|u| u.url().to_string());
        let found = Arc::new(Discovered { metadata, end_session_endpoint, fetched_at: self.clock.now() });
        *self.discovered.write().await = Some(found.clone());
        Ok(found)
    }

    fn client(&self, discovered: &Discovered) -> Result<Client, ConnectorError> {
        let client = CoreClient::from_provider_metadata(
            discovered.metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(
            RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| ConnectorError::Provider(e.to_string()))?,
        );
        Ok(client)
    }

    /// Where to send the browser, and the secrets to keep until it comes back.
    pub async fn begin(&self, login_hint: Option<&str>, language: &str) -> Result<LoginStart, ConnectorError> {
        let discovered = self.discovered(false).await?;
        let client = self.client(&discovered)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in self.settings.scopes.split_whitespace() {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        for acr in self.settings.acr_values.split_whitespace() {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.to_owned()));
        }
        if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
            request = request.set_login_hint(LoginHint::new(hint.to_owned()));
        }
        let (url, state, nonce) = request
            .add_ui_locale(openidconnect::LanguageTag::new(language.to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(LoginStart {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and verifies the ID token (signature, issuer, audience, expiry, nonce).
    pub async fn complete(&self, code: &str, nonce: &str, pkce_verifier: &str) -> Result<LoginResult, ConnectorError> {
        let discovered = self.discovered(false).await?;
        let client = self.client(&discovered)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ConnectorError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| ConnectorError::Invalid(format!("token request: {e}")))?;
        let id_token = response.id_token().ok_or_else(|| ConnectorError::Invalid("no id_token".into()))?.clone();
        let nonce = Nonce::new(nonce.to_owned());
        let clock = self.clock.clone();
        let verified = {
            let verifier = client.id_token_verifier().set_time_fn(move || clock.now());
            id_token
                .claims(&verifier, &nonce)
                .map(|c| c.auth_context_ref().map(|a| a.to_string()))
                .map_err(|e| e.to_string())
        };
        let acr = match verified {
            Ok(acr) => acr,
            Err(first) => {
                // The provider may have rotated its keys: read the JWKS again, once.
                let discovered = self.discovered(true).await?;
                let client = self.client(&discovered)?;
                let clock = self.clock.clone();
                let verifier = client.id_token_verifier().set_time_fn(move || clock.now());
                id_token
                    .claims(&verifier, &nonce)
                    .map(|c| c.auth_context_ref().map(|a| a.to_string()))
                    .map_err(|e| ConnectorError::Invalid(format!("id token: {e} (first try: {first})")))?
            }
        };
        let compact = id_token.to_string();
        let attributes = attributes_of(&compact, acr)?;
        Ok(LoginResult { attributes })
    }

    /// The provider's logout address for single logout, if it has one. The ID token is not
    /// kept (a Suomi.fi one carries the identity code), so the client id names us instead
    /// of an `id_token_hint` (OpenID Connect RP-Initiated Logout 1.0 §2).
    pub async fn logout_url(&self, post_logout_redirect: &str) -> Option<String> {
        let discovered = self.discovered(false).await.ok()?;
        let mut url = url::Url::parse(discovered.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", &self.settings.client_id);
            query.append_pair("post_logout_redirect_uri", post_logout_redirect);
        }
        Some(url.to_string())
    }

    pub fn accepted_acr(&self) -> Vec<String> {
        self.settings.accepted_acr.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect()
    }
}

/// The client `from_provider_metadata` gives: authorization endpoint set, token and user-info
/// endpoints as discovered.
type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Maps a verified ID token's claims to attributes (its signature was checked already).
fn attributes_of(compact: &str, acr: Option<String>) -> Result<Attributes, ConnectorError> {
    let payload = compact.split('.').nth(1).ok_or_else(|| ConnectorError::Invalid("malformed id token".into()))?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| ConnectorError::Invalid("malformed id token".into()))?;
    let claims: Value =
        serde_json::from_slice(&bytes).map_err(|_| ConnectorError::Invalid("malformed id token".into()))?;
    Attributes::from_named_values(|name| claims[name].as_str().map(str::to_owned), acr)
        .map_err(|_| ConnectorError::Invalid("the personal identity code does not validate".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: Value) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn maps_suomifi_and_virtu_attributes() {
        let suomifi = attributes_of(&token(serde_json::json!({"urn:oid:1.2.246.21": "010280-952L", "given_name": "Tessa", "family_name": "Testilä"})), None).unwrap();
        assert!(suomifi.identity_code.is_some());
        assert_eq!(suomifi.display_name.as_deref(), Some("Tessa Testilä"));
        let virtu = attributes_of(&token(serde_json::json!({"urn:oid:1.3.6.1.4.1.31350.1.5": "kunta.fi", "urn:oid:1.3.6.1.4.1.31350.1.8": "olli", "mail": "o@kunta.fi"})), None).unwrap();
        assert_eq!(virtu.virtu, Some(("kunta.fi".into(), "olli".into())));
        assert_eq!(virtu.email.as_deref(), Some("o@kunta.fi"));
    }

    #[test]
    fn an_invalid_identity_code_is_refused() {
        assert!(attributes_of(&token(serde_json::json!({"urn:oid:1.2.246.21": "010280-952M"})), None).is_err());
    }
}
