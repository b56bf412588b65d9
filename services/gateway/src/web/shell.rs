//! What every page shares: who is looking (their session and language), the frame around the
//! content, rendering, and the pages for errors.

use axum::{
    extract::{FromRequestParts, Query},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
};
use axum_extra::extract::cookie::{Cookie, SameSite};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::ErrorCode,
    i18n::Language,
};
use serde::Deserialize;

use crate::{
    extract::{CurrentSession, cookie_session, csrf_matches, principal_of_session},
    problem::ApiError,
    state::AppState,
};

/// The cookie that remembers a language chosen on a page.
const LANGUAGE_COOKIE: &str = "ohjaus_lang";

/// Texts of one language, for templates.
pub struct Texts(pub Language);

impl Texts {
    pub fn get(&self, key: &str) -> String {
        self.0.text(key)
    }
    pub fn with(&self, key: &str, name: &str, value: &str) -> String {
        self.0.text_with(key, &[(name, value)])
    }
}

/// A refused field of a form, with the message the page shows for it.
pub struct FieldError {
    /// The form field's id (the error summary links to it).
    pub field: String,
    pub message: String,
}

impl FieldError {
    /// The field errors of a service's refusal, each under the form field it concerns
    /// (`rename` maps a request field to the form's, e.g. `office_id` → `office`).
    pub fn of(error: &ApiError, language: Language, rename: &[(&str, &str)]) -> Vec<FieldError> {
        error
            .0
            .violations
            .iter()
            .map(|v| FieldError {
                field: rename
                    .iter()
                    .find(|(from, _)| *from == v.field)
                    .map_or(v.field.clone(), |(_, to)| (*to).to_owned()),
                message: language.text(&v.reason),
            })
            .collect()
    }

    /// The message for `field`, if it was refused.
    pub fn find<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
        errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

/// A language the visitor may switch to, as the header lists them.
pub struct LanguageLink {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// An entry of the main navigation.
pub struct NavLink {
    pub href: String,
    pub label: String,
    pub current: bool,
}

/// The main navigation of a logged-in person. Pages of later issues (the forms' advisor queue,
/// the 3X10D answering and report pages) add their entry here, for the people they are for.
fn navigation(t: &Texts, path: &str, principal: Option<&Principal>) -> Vec<NavLink> {
    let Some(principal) = principal else { return Vec::new() };
    let mut links = match principal {
        Principal::Customer { .. } | Principal::Expert { .. } => vec![
            ("/app".to_owned(), t.get("web-my-workspaces")),
            ("/app/notifications".to_owned(), t.get("web-notifications")),
        ],
        Principal::Operator { .. } => vec![("/app/operator".to_owned(), t.get("web-operator"))],
        _ => Vec::new(),
    };
    // A main user's organisations (one link each, numbered when there are several).
    if let Principal::Expert { memberships, .. } = principal {
        let administered: Vec<_> = memberships.iter().filter(|m| m.roles.contains(&Role::Admin)).collect();
        for (i, m) in administered.iter().enumerate() {
            let label = if administered.len() > 1 {
                format!("{} {}", t.get("web-organisation"), i + 1)
            } else {
                t.get("web-organisation")
            };
            links.push((format!("/app/organisations/{}", m.tenant_id), label));
        }
    }
    // contact forms: the queue of each organisation whose submissions they work or read, the
    // form editor of each they administer
    links.extend(super::queue::navigation(t, principal));
    // Reports (issue 15): the operator's of the platform, a supervisor's or main user's of
    // each of their organisations.
    match principal {
        Principal::Operator { .. } => links.push(("/app/reports".to_owned(), t.get("web-reports"))),
        Principal::Expert { memberships, .. } => {
            let readers: Vec<_> = memberships
                .iter()
                .filter(|m| m.roles.contains(&Role::Admin) || m.roles.contains(&Role::Supervisor))
                .collect();
            for (i, m) in readers.iter().enumerate() {
                let label = if readers.len() > 1 {
                    format!("{} {}", t.get("web-reports"), i + 1)
                } else {
                    t.get("web-reports")
                };
                links.push((format!("/app/reports?organization={}", m.tenant_id), label));
            }
        }
        _ => {}
    }
    links.push(("/app/sessions".to_owned(), t.get("web-sessions")));
    links.into_iter().map(|(href, label)| NavLink { current: path == href, href, label }).collect()
}

/// The frame of a page.
pub struct Shell {
    pub lang: &'static str,
    pub title: String,
    pub t: Texts,
    /// The logged-in person's name as their identity provider gave it.
    pub user: Option<String>,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
    /// When the session ends if unused (RFC 3339), for the expiry warning; empty without one.
    pub session_expires: String,
    /// This page's path, for the language links.
    pub path: String,
    pub nav: Vec<NavLink>,
    pub languages: Vec<LanguageLink>,
}

#[derive(Deserialize)]
struct LanguageQuery {
    lang: Option<String>,
}

/// Who is looking at a page: their session (if any, still live) and their language — the one
/// they chose on a page (`?lang=`, then remembered in a cookie), else `Accept-Language`.
pub struct Visitor {
    pub session: Option<CurrentSession>,
    pub language: Language,
    /// Set when the visitor chose a language now: the answer remembers it.
    chosen: bool,
    path: String,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = axum_extra::extract::CookieJar::from_headers(&parts.headers);
        let asked = Query::<LanguageQuery>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.lang);
        let chosen = asked.as_deref().and_then(|l| l.parse::<Language>().ok());
        let remembered = jar.get(LANGUAGE_COOKIE).and_then(|c| c.value().parse::<Language>().ok());
        let language = chosen.or(remembered).unwrap_or_else(|| {
            Language::negotiate(parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
        });
        let path = parts.uri.path().to_owned();
        let mut visitor = Visitor { session: None, language, chosen: chosen.is_some(), path };
        match cookie_session(&parts.headers, state).await {
            Ok(session) => visitor.session = session,
            // An ended or unknown session is no session: the page asks them to log in.
            Err(ApiError(failure)) if failure.code == ErrorCode::Unauthenticated => {}
            Err(error) => return Err(visitor.failure(error)),
        }
        Ok(visitor)
    }
}

impl Visitor {
    pub fn shell(&self, title: String) -> Shell {
        Shell {
            lang: self.language.code(),
            title,
            t: Texts(self.language),
            user: self.session.as_ref().map(|s| s.resolved.display_name.clone()),
            csrf: self.session.as_ref().map(|s| s.resolved.csrf_token.clone()).unwrap_or_default(),
            session_expires: self.session_expires().unwrap_or_default(),
            path: self.path.clone(),
            nav: navigation(&Texts(self.language), &self.path, self.principal().ok().as_ref()),
            languages: Language::ALL
                .iter()
                .map(|l| LanguageLink { code: l.code(), name: super::language_name(*l), current: *l == self.language })
                .collect(),
        }
    }

    /// When the session ends if it is not used before (its idle or absolute end, the earlier).
    pub fn session_expires(&self) -> Option<String> {
        let session = self.session.as_ref()?;
        session.resolved.expires_at.map(|at| crate::views::timestamp(Some(at)).to_rfc3339())
    }

    /// The logged-in principal, or the answer that sends the visitor to log in.
    pub fn principal(&self) -> Result<Principal, Box<Response>> {
        let Some(session) = &self.session else { return Err(Box::new(self.finish(Redirect::to("/").into_response()))) };
        principal_of_session(&session.resolved).map_err(|e| Box::new(self.failure(e)))
    }

    /// The principal of an unsafe request whose form carries the session's CSRF token, or the
    /// answer that sends the visitor to log in.
    pub fn acting(&self, presented_csrf: &str) -> Result<Principal, Box<Response>> {
        if self.session_with_csrf(presented_csrf).is_none() {
            return Err(Box::new(self.finish(Redirect::to("/").into_response())));
        }
        self.principal()
    }

    /// An id from a page's path or form, in its one canonical spelling (the platform's rule);
    /// anything else is simply not there.
    pub fn id(&self, value: &str) -> Result<String, Box<Response>> {
        ohjaus_platform::ids::parse_canonical(value)
            .map(|id| id.to_string())
            .ok_or_else(|| Box::new(self.failure(ApiError::code(ErrorCode::NotFound))))
    }

    /// The same visitor after their session ended.
    pub fn logged_out(self) -> Self {
        Self { session: None, ..self }
    }

    /// The session, if the form's CSRF token is its own.
    pub fn session_with_csrf(&self, presented: &str) -> Option<&CurrentSession> {
        self.session.as_ref().filter(|s| csrf_matches(s, presented))
    }

    /// `page` as the answer, in the visitor's language.
    pub fn render(&self, status: StatusCode, page: &impl askama::Template) -> Response {
        match page.render() {
            Ok(html) => self.finish((status, Html(html)).into_response()),
            Err(error) => {
                tracing::error!(%error, "a page did not render");
                self.finish(StatusCode::INTERNAL_SERVER_ERROR.into_response())
            }
        }
    }

    /// Adds what every page answer carries: its language, and the remembered choice.
    pub fn finish(&self, mut response: Response) -> Response {
        response.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(self.language.code()));
        if self.chosen {
            let cookie = Cookie::build((LANGUAGE_COOKIE, self.language.code()))
                .path("/")
                .secure(true)
                .http_only(true)
                .same_site(SameSite::Lax)
                .permanent()
                .build();
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// A page that says one thing, with an optional link.
    pub fn notice(
        &self,
        status: StatusCode,
        title: String,
        detail: String,
        link: Option<(String, String)>,
    ) -> Response {
        let page = Notice { shell: self.shell(title), detail, link };
        self.render(status, &page)
    }

    /// The page for a refusal or failure: foreign and missing things are "not found"; an ended
    /// session goes back to the front page; anything else is a general error.
    pub fn failure(&self, error: ApiError) -> Response {
        let t = Texts(self.language);
        let back = Some(("/app".to_owned(), t.get("web-back-to-workspaces")));
        match error.0.code {
            ErrorCode::Unauthenticated | ErrorCode::CsrfRejected => self.finish(Redirect::to("/").into_response()),
            ErrorCode::NotFound | ErrorCode::PermissionDenied => {
                self.notice(StatusCode::NOT_FOUND, t.get("web-not-found-title"), t.get("web-not-found-detail"), back)
            }
            ErrorCode::Unavailable | ErrorCode::Internal => {
                self.notice(StatusCode::SERVICE_UNAVAILABLE, t.get("web-error-title"), t.get("web-error-detail"), None)
            }
            code => {
                let reason = code.reason();
                let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                let title = t.get(&format!("error-{reason}-title"));
                let detail = t.get(&format!("error-{reason}-detail"));
                self.notice(status, title, detail, back)
            }
        }
    }
}

#[derive(askama::Template)]
#[template(path = "notice.html")]
struct Notice {
    shell: Shell,
    detail: String,
    link: Option<(String, String)>,
}

/// The id a principal writes under (a customer's or an expert's), to tell their own messages.
pub fn subject_of(principal: &Principal) -> Option<String> {
    match principal {
        Principal::Customer { customer_id } => Some(customer_id.to_string()),
        Principal::Expert { person_id, .. } => Some(person_id.to_string()),
        _ => None,
    }
}

// web: one step for every form handler — the acting principal and its path's ids.
impl Visitor {
    /// The principal of an unsafe request whose form carries the session's CSRF token, and the
    /// path's `ids` in their canonical spelling; or the answer to give instead (log in, not
    /// found).
    pub fn acting_on<const N: usize>(
        &self,
        presented_csrf: &str,
        ids: [&str; N],
    ) -> Result<(Principal, [String; N]), Box<Response>> {
        let caller = self.acting(presented_csrf)?;
        let mut canonical = [const { String::new() }; N];
        for (slot, id) in canonical.iter_mut().zip(ids) {
            *slot = self.id(id)?;
        }
        Ok((caller, canonical))
    }
}
