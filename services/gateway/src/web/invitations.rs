//! `/app/invitations/{token}`: where an invitation's Suomi.fi login lands. The person sees
//! what they are joining and accepts with one button.

use axum::{
    Form,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use ohjaus_platform::error::ErrorCode;

use super::{
    CsrfForm,
    shell::{Shell, Texts, Visitor},
};
use crate::{
    problem::ApiError,
    routes::{
        auth::cleared_cookies,
        invitations::{Refused, accept_as},
    },
    state::AppState,
};

#[derive(askama::Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    shell: Shell,
    token: String,
}

/// Tokens are URL-safe random strings of a bounded length; anything else is no invitation.
fn plausible(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 100
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn landing(visitor: Visitor, Path(token): Path<String>) -> Response {
    if visitor.session.is_none() {
        // Not logged in (or the session ended): the mailed link starts the login again.
        return visitor.finish(Redirect::to(&format!("/invitations/{token}")).into_response());
    }
    if !plausible(&token) {
        return visitor.failure(ApiError::code(ErrorCode::InvitationUnusable));
    }
    let t = Texts(visitor.language);
    let page = InvitationPage { shell: visitor.shell(t.get("web-invitation-title")), token };
    visitor.render(StatusCode::OK, &page)
}

/// Accepts as the logged-in customer and opens the workspace. As in the API (the same
/// [`accept_as`]), a person without an account who cannot accept is logged out, and nothing of
/// them is kept.
pub async fn accept(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(session) = visitor.session_with_csrf(&form.csrf_token).cloned() else {
        return visitor.finish(Redirect::to(&format!("/invitations/{token}")).into_response());
    };
    match accept_as(&state, &session, token).await {
        Ok(joined) => visitor.finish(Redirect::to(&format!("/app/workspaces/{}", joined.id)).into_response()),
        Err(Refused { error, logged_out: false }) => visitor.failure(error),
        Err(Refused { error, logged_out: true }) => {
            let mut response = visitor.logged_out().failure(error);
            for cookie in cleared_cookies() {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
    }
}
