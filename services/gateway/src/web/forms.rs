//! Contact forms for visitors: the public form page of ours that an organisation embeds on its
//! website (`/forms/{id}?lang=`), sending it, the receipt, the proof-of-work challenge the
//! page's script solves, and the one-line embed script.
//!
//! The page needs no login and sets no cookie; it loads only our own stylesheet and script, and
//! may be framed only by the form's allowed origins (`Content-Security-Policy:
//! frame-ancestors`). Abuse is kept out without hurting people: a honeypot field hidden by the
//! stylesheet (a hit is answered like a success and stored nowhere), the minimum fill time and
//! the proof of work (checked by the forms service), limits per client address and per form
//! (429 with `Retry-After`), and the body's size.

use std::{net::IpAddr, net::SocketAddr, num::NonZeroU32};

use askama::Template;
use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{ConnectInfo, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use ohjaus_platform::{
    config::{IpNet, Settings},
    error::ErrorCode,
    i18n::Language,
    ids::parse_canonical,
    proto::{forms::v1 as pb, tenants::v1 as tenants_pb},
};
use uuid::Uuid;

use super::shell::Texts;
use crate::{client_address::client_address, problem::ApiError, state::AppState};

/// The page's own script: the proof of work, the error summary's focus, the iframe's height.
const FORM_SCRIPT: &str = include_str!("../../assets/forms/form.js");
/// What an organisation's website loads: places the form in an iframe that follows its height.
const EMBED_SCRIPT: &str = include_str!("../../assets/forms/embed.js");
/// The page's few rules beyond the shared stylesheet (the honeypot's hiding).
const FORM_STYLESHEET: &str = include_str!("../../assets/forms/form.css");

/// The field a person never sees; whatever fills it is not a person.
const HONEYPOT: &str = "website";
/// Prefix of the answers' form fields (`answer.<key>`).
const ANSWER: &str = "answer.";

/// Limits of the public forms: submissions per client address and per form, the proxies whose
/// `X-Forwarded-For` is believed, and the largest body.
pub struct FormLimits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_form: DefaultKeyedRateLimiter<Uuid>,
    trusted: Vec<IpNet>,
    max_body: usize,
}

impl FormLimits {
    pub fn new(settings: &Settings) -> Self {
        let per_minute = |n: u64| {
            let n = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
            Quota::per_minute(n).allow_burst(n)
        };
        let forms = &settings.forms;
        Self {
            by_address: RateLimiter::keyed(per_minute(forms.rate_per_address_per_minute)),
            by_form: RateLimiter::keyed(per_minute(forms.rate_per_form_per_minute)),
            // Checked at load.
            trusted: settings.gateway.trusted_proxies().unwrap_or_default(),
            max_body: usize::try_from(forms.max_body_bytes).unwrap_or(usize::MAX),
        }
    }

    /// Whether one more submission from `client` to `form` is allowed now; if not, the seconds
    /// to wait.
    fn admit(&self, client: IpAddr, form: Uuid) -> Result<(), u64> {
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1;
        self.by_address.check_key(&client).map_err(wait)?;
        self.by_form.check_key(&form).map_err(wait)?;
        Ok(())
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/forms/embed.js", get(embed_script))
        .route("/forms/assets/form.js", get(form_script))
        .route("/forms/assets/form.css", get(form_stylesheet))
        .route("/forms/{id}", get(show).post(send))
        .route("/forms/{id}/challenge", get(challenge))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

async fn embed_script() -> Response {
    let mut response = asset("text/javascript; charset=utf-8", EMBED_SCRIPT);
    // Loaded by other sites' pages.
    response.headers_mut().insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    response
}

async fn form_script() -> Response {
    asset("text/javascript; charset=utf-8", FORM_SCRIPT)
}

async fn form_stylesheet() -> Response {
    asset("text/css; charset=utf-8", FORM_STYLESHEET)
}

/// What the page's address says: the language, whether it is embedded, and by which origin.
#[derive(Default)]
struct PageQuery {
    lang: Option<String>,
    embed: bool,
    origin: Option<String>,
}

impl PageQuery {
    fn parse(query: Option<&str>) -> Self {
        let mut parsed = PageQuery::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "lang" => parsed.lang = Some(value.into_owned()),
                "embed" => parsed.embed = value == "1",
                "origin" => parsed.origin = Some(value.into_owned()),
                _ => {}
            }
        }
        parsed
    }

    /// The page's own address with this query (the form posts to it; links keep it).
    fn href(&self, id: &str, language: Language) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("lang", language.code());
        if self.embed {
            query.append_pair("embed", "1");
        }
        if let Some(origin) = &self.origin {
            query.append_pair("origin", origin);
        }
        format!("/forms/{id}?{}", query.finish())
    }
}

/// A published form as the page shows it, with its organisation's name and privacy notice.
struct Shown {
    id: String,
    version: i64,
    definition: pb::Definition,
    language: Language,
    organization: String,
    privacy_url: String,
}

impl Shown {
    fn text(&self, text: Option<&pb::LocalizedText>) -> String {
        local(text, self.language)
    }
}

fn local(text: Option<&pb::LocalizedText>, language: Language) -> String {
    text.map(|t| pick([&t.fi, &t.sv, &t.en], language)).unwrap_or_default()
}

fn registry_text(text: Option<&tenants_pb::LocalizedText>, language: Language) -> String {
    text.map(|t| pick([&t.fi, &t.sv, &t.en], language)).unwrap_or_default()
}

/// The text in `language`, or the Finnish one where it has none.
fn pick([fi, sv, en]: [&String; 3], language: Language) -> String {
    let value = match language {
        Language::Fi => fi,
        Language::Sv => sv,
        Language::En => en,
    };
    if value.is_empty() { fi.clone() } else { value.clone() }
}

/// The form's language for this visitor: the page's `lang` if the form offers it, else the
/// browser's preference among the form's, else Finnish.
fn language_of(definition: &pb::Definition, query: &PageQuery, headers: &HeaderMap) -> Language {
    let offered = |l: Language| definition.languages.iter().any(|c| c == l.code());
    if let Some(language) = query.lang.as_deref().and_then(|l| l.parse::<Language>().ok()).filter(|l| offered(*l)) {
        return language;
    }
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Some(Language::negotiate(accept)).filter(|l| offered(*l)).unwrap_or(Language::Fi)
}

/// The published form `id` with what the page shows about its organisation; none if there is
/// no such published form.
async fn published(
    state: &AppState,
    id: &str,
    query: &PageQuery,
    headers: &HeaderMap,
) -> Result<Option<Shown>, ApiError> {
    let Some(id) = parse_canonical(id) else { return Ok(None) };
    let request = pb::GetPublicFormRequest { form_id: id.to_string() };
    let form = match state.forms().get_public_form(state.as_service(request)).await {
        Ok(form) => form.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
        Err(status) => return Err(status.into()),
    };
    let definition = form.definition.unwrap_or_default();
    let language = language_of(&definition, query, headers);
    let profile = state
        .tenants()
        .get_public_profile(state.as_service(tenants_pb::GetPublicProfileRequest { id: form.organization_id.clone() }))
        .await?
        .into_inner();
    let organization = Some(registry_text(profile.display_name.as_ref(), language))
        .filter(|name| !name.is_empty())
        .unwrap_or(profile.official_name);
    let own_privacy = local(definition.privacy_url.as_ref(), language);
    let privacy_url =
        if own_privacy.is_empty() { registry_text(profile.privacy_notice_url.as_ref(), language) } else { own_privacy };
    Ok(Some(Shown { id: form.id, version: form.version, definition, language, organization, privacy_url }))
}

/// The page's policy: our own stylesheet, script and challenge only, posted back to us, framed
/// only by the form's allowed origins.
fn page_policy(origins: &[String]) -> String {
    let ancestors = if origins.is_empty() { "'none'".to_owned() } else { origins.join(" ") };
    format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
}

fn html(status: StatusCode, language: Language, policy: &str, page: &impl Template) -> Response {
    let mut response = match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(error) => {
            tracing::error!(%error, "a form page did not render");
            return ApiError::code(ErrorCode::Internal).into_response();
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(language.code()));
    if let Ok(value) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    // The gateway's default `X-Frame-Options: DENY` would forbid every frame. Browsers that know
    // `frame-ancestors` obey it; the older form names the first allowed origin (current browsers
    // ignore `ALLOW-FROM`).
    let first = policy.rsplit("frame-ancestors ").next().and_then(|o| o.split(' ').next()).unwrap_or("'none'");
    if first != "'none'"
        && let Ok(value) = HeaderValue::from_str(&format!("ALLOW-FROM {first}"))
    {
        headers.insert(header::X_FRAME_OPTIONS, value);
    }
    response
}

/// One option of a choice field.
struct ChoiceView {
    value: String,
    label: String,
    selected: bool,
}

/// One field as the page shows it.
struct FieldView {
    /// The input's id: `answer-<key>` (the error summary links to it).
    id: String,
    name: String,
    kind: &'static str,
    label: String,
    help: String,
    required: bool,
    value: String,
    error: Option<String>,
    choices: Vec<ChoiceView>,
}

impl FieldView {
    /// The ids that describe the input: its help and its error.
    fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if !self.help.is_empty() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }
}

/// An entry of the error summary.
struct ErrorLink {
    href: String,
    message: String,
}

struct LanguageChoice {
    code: &'static str,
    name: &'static str,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "forms/page.html")]
struct FormPage {
    t: Texts,
    lang: &'static str,
    title: String,
    intro: String,
    organization: String,
    privacy_url: String,
    action: String,
    challenge_url: String,
    version: i64,
    fields: Vec<FieldView>,
    errors: Vec<ErrorLink>,
    languages: Vec<LanguageChoice>,
    parent_origin: String,
}

#[derive(Template)]
#[template(path = "forms/receipt.html")]
struct ReceiptPage {
    t: Texts,
    lang: &'static str,
    title: String,
    organization: String,
    has_email: bool,
    again: String,
    parent_origin: String,
}

#[derive(Template)]
#[template(path = "forms/notice.html")]
struct NoticePage {
    lang: &'static str,
    title: String,
    body: String,
    parent_origin: String,
}

/// The origin that embeds the page, if it is one the form allows: the only one the page's
/// script talks to.
fn parent_origin(shown: &Shown, query: &PageQuery) -> String {
    query.origin.clone().filter(|o| query.embed && shown.definition.origins.contains(o)).unwrap_or_default()
}

fn field_kind(kind: i32) -> &'static str {
    match pb::FieldKind::try_from(kind) {
        Ok(pb::FieldKind::LongText) => "long_text",
        Ok(pb::FieldKind::Choice) => "choice",
        Ok(pb::FieldKind::Email) => "email",
        Ok(pb::FieldKind::Consent) => "consent",
        _ => "short_text",
    }
}

/// The message for a refused answer or a refusal of the whole form.
fn message(t: &Texts, reason: &str, max: usize) -> String {
    match reason {
        "field-required" | "field-no-visible-text" => t.get("forms-field-required"),
        "field-too-long" => t.with("forms-field-too-long", "max", &max.to_string()),
        "invalid-email" => t.get("forms-field-invalid-email"),
        "invalid-choice" => t.get("forms-field-invalid-choice"),
        "consent-required" => t.get("forms-field-consent-required"),
        "sent-too-fast" => t.get("forms-refused-too-fast"),
        _ => t.get("forms-refused-proof"),
    }
}

fn max_chars(kind: &str) -> usize {
    match kind {
        "long_text" => 5000,
        "email" => 254,
        _ => 200,
    }
}

fn form_page(shown: &Shown, query: &PageQuery, values: &[(String, String)], refusal: Option<&ApiError>) -> FormPage {
    let t = Texts(shown.language);
    let value_of = |key: &str| {
        let name = format!("{ANSWER}{key}");
        values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let violations = refusal.map(|e| e.0.violations.as_slice()).unwrap_or_default();
    let mut errors = Vec::new();
    let fields: Vec<FieldView> = shown
        .definition
        .fields
        .iter()
        .map(|f| {
            let kind = field_kind(f.kind);
            let id = format!("answer-{}", f.key);
            let error = violations
                .iter()
                .find(|v| v.field == format!("answers.{}", f.key))
                .map(|v| message(&t, &v.reason, max_chars(kind)));
            if let Some(message) = &error {
                let href = if kind == "choice" { format!("#{id}-{}", 0) } else { format!("#{id}") };
                errors.push(ErrorLink { href, message: message.clone() });
            }
            let value = value_of(&f.key);
            FieldView {
                choices: f
                    .choices
                    .iter()
                    .map(|c| ChoiceView {
                        value: c.key.clone(),
                        label: shown.text(c.label.as_ref()),
                        selected: c.key == value,
                    })
                    .collect(),
                id,
                name: format!("{ANSWER}{}", f.key),
                kind,
                label: shown.text(f.label.as_ref()),
                help: shown.text(f.help.as_ref()),
                required: f.required,
                value,
                error,
            }
        })
        .collect();
    for v in violations.iter().filter(|v| !v.field.starts_with("answers.")) {
        errors.push(ErrorLink { href: "#send".into(), message: message(&t, &v.reason, 0) });
    }
    let languages = if shown.definition.languages.len() > 1 {
        Language::ALL
            .into_iter()
            .filter(|l| shown.definition.languages.iter().any(|c| c == l.code()))
            .map(|l| LanguageChoice {
                code: l.code(),
                name: super::language_name(l),
                href: query.href(&shown.id, l),
                current: l == shown.language,
            })
            .collect()
    } else {
        Vec::new()
    };
    FormPage {
        lang: shown.language.code(),
        title: shown.text(shown.definition.title.as_ref()),
        intro: shown.text(shown.definition.intro.as_ref()),
        organization: shown.organization.clone(),
        privacy_url: shown.privacy_url.clone(),
        action: query.href(&shown.id, shown.language),
        challenge_url: format!("/forms/{}/challenge", shown.id),
        version: shown.version,
        fields,
        errors,
        languages,
        parent_origin: parent_origin(shown, query),
        t,
    }
}

/// "This form is not available": unknown, unpublished or malformed.
fn unavailable(query: &PageQuery, headers: &HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let language =
        query.lang.as_deref().and_then(|l| l.parse::<Language>().ok()).unwrap_or_else(|| Language::negotiate(accept));
    let t = Texts(language);
    let page = NoticePage {
        lang: language.code(),
        title: t.get("forms-not-found-title"),
        body: t.get("forms-not-found-body"),
        parent_origin: String::new(),
    };
    html(StatusCode::NOT_FOUND, language, &page_policy(&[]), &page)
}

/// The form page.
async fn show(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = PageQuery::parse(query.as_deref());
    let shown = match published(&state, &id, &query, &headers).await {
        Ok(Some(shown)) => shown,
        Ok(None) => return unavailable(&query, &headers),
        Err(error) => return error.into_response(),
    };
    let page = form_page(&shown, &query, &[], None);
    html(StatusCode::OK, shown.language, &page_policy(&shown.definition.origins), &page)
}

/// A fresh proof-of-work challenge for the page's script, in ALTCHA's shape.
async fn challenge(State(state): State<AppState>, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    let Some(id) = parse_canonical(&id) else { return ApiError::code(ErrorCode::NotFound).into_response() };
    let request = pb::IssueChallengeRequest { form_id: id.to_string() };
    match state.forms().issue_challenge(state.as_service(request)).await {
        Ok(challenge) => {
            let c = challenge.into_inner();
            axum::Json(serde_json::json!({
                "algorithm": c.algorithm,
                "challenge": c.challenge,
                "maxnumber": c.max_number,
                "salt": c.salt,
                "signature": c.signature,
            }))
            .into_response()
        }
        Err(status) => ApiError::from(status).into_response(),
    }
}

/// Sending the form: limits first, then the body's size, the honeypot, and the forms service's
/// checks (answers, fill time, proof of work). A refusal shows the page again with what was
/// wrong, each beside its field.
async fn send(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    RawQuery(query): RawQuery,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = PageQuery::parse(query.as_deref());
    let shown = match published(&state, &id, &query, &headers).await {
        Ok(Some(shown)) => shown,
        Ok(None) => return unavailable(&query, &headers),
        Err(error) => return error.into_response(),
    };
    let policy = page_policy(&shown.definition.origins);
    let t = Texts(shown.language);
    let notice = |status: StatusCode, title: &str, body: &str| {
        let page = NoticePage {
            lang: shown.language.code(),
            title: t.get(title),
            body: t.get(body),
            parent_origin: parent_origin(&shown, &query),
        };
        html(status, shown.language, &policy, &page)
    };
    let form_id = parse_canonical(&shown.id).unwrap_or_default();
    let limits = &state.form_limits;
    if let Err(wait) = limits.admit(client_address(peer.ip(), &headers, &limits.trusted), form_id) {
        metrics::counter!("ohjaus_forms_refused_total", "reason" => "rate").increment(1);
        let mut response = notice(StatusCode::TOO_MANY_REQUESTS, "error-rate-limited-title", "forms-refused-rate");
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    let Ok(bytes) = to_bytes(body, limits.max_body).await else {
        metrics::counter!("ohjaus_forms_refused_total", "reason" => "size").increment(1);
        return notice(StatusCode::PAYLOAD_TOO_LARGE, "error-payload-too-large-title", "forms-refused-too-large");
    };
    let values: Vec<(String, String)> =
        url::form_urlencoded::parse(&bytes).map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
    let value = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let again = query.href(&shown.id, shown.language);
    let receipt = |has_email: bool| {
        let page = ReceiptPage {
            lang: shown.language.code(),
            title: t.get("forms-receipt-title"),
            organization: shown.organization.clone(),
            has_email,
            again: again.clone(),
            parent_origin: parent_origin(&shown, &query),
            t: Texts(shown.language),
        };
        html(StatusCode::OK, shown.language, &policy, &page)
    };
    if !value(HONEYPOT).is_empty() {
        // Answered as a success, so the robot learns nothing; nothing is sent on.
        metrics::counter!("ohjaus_forms_refused_total", "reason" => "honeypot").increment(1);
        return receipt(false);
    }
    let request = pb::SubmitFormRequest {
        form_id: shown.id.clone(),
        version: value("version").parse().unwrap_or(shown.version),
        language: shown.language.code().to_owned(),
        answers: values
            .iter()
            .filter_map(|(n, v)| n.strip_prefix(ANSWER).map(|key| pb::Answer { key: key.to_owned(), value: v.clone() }))
            .collect(),
        proof: value("proof").to_owned(),
    };
    match state.forms().submit_form(state.as_service(request)).await {
        Ok(sent) => receipt(sent.into_inner().has_email),
        Err(status) => {
            let error = ApiError::from(status);
            match error.0.code {
                ErrorCode::InvalidArgument => {
                    metrics::counter!("ohjaus_forms_refused_total", "reason" => "invalid").increment(1);
                    let page = form_page(&shown, &query, &values, Some(&error));
                    html(StatusCode::UNPROCESSABLE_ENTITY, shown.language, &policy, &page)
                }
                ErrorCode::NotFound => unavailable(&query, &headers),
                _ => error.into_response(),
            }
        }
    }
}
