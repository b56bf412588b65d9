//! What the OpenAPI document promises beyond each handler's own annotation: the problem
//! responses every kind of operation may answer (one shared set per kind), the credentials
//! (security schemes), and one schema per name.
//!
//! A handler's `#[utoipa::path]` lists its successes, then the set of its kind
//! (`responses((status = 200, …), ListProblems)`), then any status of its own (a tuple after the
//! set overrides the set's description of that status). Route modules register handlers with
//! this module's [`routes!`], which checks every schema a handler brings against the names
//! already taken: two different schemas under one name would make the document describe one
//! operation with another's body (`cargo test` fails, see the tests below).

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use utoipa::{
    IntoResponses,
    openapi::{
        Components, ContentBuilder, RefOr, Response, ResponseBuilder,
        schema::Schema,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::extract::SESSION_COOKIE;

/// `utoipa_axum::routes!`, with the schemas its handlers bring checked (see the module docs).
/// Use it instead of utoipa-axum's (a test below finds any route module that does not).
macro_rules! routes {
    ($($handlers:tt)+) => {
        $crate::docs::checked(::utoipa_axum::routes!($($handlers)+))
    };
}
pub(crate) use routes;

/// The name of every schema a handler brought, with the schema (as JSON) first seen under it,
/// and the names that came with a second, different schema.
#[derive(Default)]
struct SchemaNames {
    seen: BTreeMap<String, String>,
    clashes: BTreeMap<String, usize>,
}

static SCHEMA_NAMES: Mutex<Option<SchemaNames>> = Mutex::new(None);

/// Records the schemas of one `routes!`; hands the routes on unchanged.
pub fn checked<S>(routes: utoipa_axum::router::UtoipaMethodRouter<S>) -> utoipa_axum::router::UtoipaMethodRouter<S> {
    let mut names = SCHEMA_NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(SchemaNames::default);
    for (name, schema) in &routes.0 {
        record(names, name, schema);
    }
    routes
}

fn record(names: &mut SchemaNames, name: &str, schema: &RefOr<Schema>) {
    let json = serde_json::to_string(schema).unwrap_or_default();
    match names.seen.get(name) {
        None => {
            names.seen.insert(name.to_owned(), json);
        }
        Some(first) if *first != json => *names.clashes.entry(name.to_owned()).or_default() += 1,
        Some(_) => {}
    }
}

/// Schema names that two different schemas were registered under, in every router built so far.
pub fn schema_name_clashes() -> Vec<String> {
    let names = SCHEMA_NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    names.as_ref().map(|n| n.clashes.keys().cloned().collect()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Security schemes

/// The credentials the API takes. Per operation, `security` lists the ones it can succeed with;
/// an unsafe method with a session needs `csrf` beside `session` (one requirement with both).
pub fn add_security_schemes(components: &mut Components) {
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            SESSION_COOKIE,
            "The browser session of a login (`/auth/login/{provider}`), HttpOnly",
        ))),
    );
    components.add_security_scheme(
        "csrf",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-CSRF-Token",
            "With a session, every unsafe request (POST, PUT, DELETE) echoes the session's CSRF token: \
             the `ohjaus_csrf` cookie, also `csrf_token` in `GET /api/v1/me`",
        ))),
    );
    components.add_security_scheme(
        "operator_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("Operator API token, or a short-lived access token signed by the platform"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "client_credentials",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Basic)
                .description(Some("Integration client id and secret"))
                .build(),
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// Problem responses, one set per kind of operation

const MALFORMED: (u16, &str) = (
    400,
    "The request cannot be read: malformed JSON, query or header (an `If-Match` must be the quoted ETag, e.g. `\"3\"`)",
);
const UNAUTHENTICATED: (u16, &str) = (401, "No valid credentials");
const FORBIDDEN: (u16, &str) = (
    403,
    "Not allowed: the role or scopes do not allow it, an unsafe request with a session lacks its `X-CSRF-Token`, \
     or the organisation is suspended",
);
const NOT_FOUND: (u16, &str) =
    (404, "Not found, or not the caller's to see (also an id in the path that is not a canonical UUID)");
const BODY_TIMEOUT: (u16, &str) = (408, "The request body did not arrive in time");
const CONFLICT: (u16, &str) = (409, "Not possible in the current state, or it exists already");
const STALE: (u16, &str) = (412, "`If-Match` names a version that is not the current one: read it again");
const TOO_LARGE: (u16, &str) = (413, "The body is larger than accepted");
const NOT_JSON: (u16, &str) = (415, "The body is not JSON (`Content-Type: application/json`)");
const INVALID: (u16, &str) = (
    422,
    "Invalid values, each named in `errors` (also an id in the body or query that is not a canonical UUID, \
     a `page_size` outside 1–100, a bad `page_token` or `Idempotency-Key`)",
);
const NO_IF_MATCH: (u16, &str) = (428, "`If-Match` is missing");

/// Problem responses (`application/problem+json`, schema `Problem`) with these statuses.
pub fn problems(list: &[(u16, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| {
            let content =
                ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Problem"))));
            let response =
                ResponseBuilder::new().description(*description).content("application/problem+json", content.build());
            (status.to_string(), RefOr::T(response.build()))
        })
        .collect()
}

macro_rules! problem_set {
    ($(#[$meta:meta])* $name:ident: $($status:ident),+) => {
        $(#[$meta])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problems(&[$($status),+])
            }
        }
    };
}

problem_set!(
    /// An operation on an addressed resource without query, body or `If-Match`: a read by id, a
    /// delete, a body-less action.
    BasicProblems: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND
);
problem_set!(
    /// A list: its query (`page_size`, `page_token`, filters) may be malformed or invalid.
    ListProblems: MALFORMED, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, INVALID
);
problem_set!(
    /// A JSON body without `If-Match`: creating POSTs (with `Idempotency-Key`) and other submissions.
    CreateProblems: MALFORMED, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BODY_TIMEOUT, CONFLICT, TOO_LARGE, NOT_JSON, INVALID
);
problem_set!(
    /// A JSON body with `If-Match`: an update of a versioned resource.
    UpdateProblems: MALFORMED, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BODY_TIMEOUT, CONFLICT, STALE, TOO_LARGE,
        NOT_JSON, INVALID, NO_IF_MATCH
);
problem_set!(
    /// A body-less change with `If-Match`: close, reopen, decide, revoke, delete a version.
    ActionProblems: MALFORMED, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, STALE, NO_IF_MATCH
);

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(crate::openapi()).unwrap()
    }

    /// Every (path, method, operation) of the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    found.push((path.clone(), method.clone(), operation.clone()));
                }
            }
        }
        found
    }

    #[test]
    fn every_schema_name_is_one_schema() {
        let doc = document();
        assert_eq!(schema_name_clashes(), Vec::<String>::new(), "two types are documented under one name");
        // And every schema an operation refers to is there.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "{name} is referred to but not in components");
        }
    }

    /// Every route module registers its handlers through this module's `routes!`, so the check
    /// above sees every schema.
    #[test]
    fn route_modules_use_the_checking_routes_macro() {
        fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    sources(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
        assert!(found.len() > 20, "{found:?}");
        let unchecked: Vec<_> = found
            .iter()
            .filter(|path| !path.ends_with("docs.rs"))
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap();
                text.contains("utoipa_axum::routes") || text.contains("utoipa_axum::{") && text.contains(" routes}")
            })
            .collect();
        assert!(unchecked.is_empty(), "use crate::docs::routes, not utoipa-axum's: {unchecked:?}");
    }

    #[test]
    fn a_second_schema_under_a_taken_name_is_a_clash() {
        let mut names = SchemaNames::default();
        let object = |field: &str| {
            RefOr::T(Schema::Object(
                utoipa::openapi::ObjectBuilder::new().property(field, utoipa::openapi::ObjectBuilder::new()).build(),
            ))
        };
        record(&mut names, "AcceptInput", &object("token"));
        record(&mut names, "AcceptInput", &object("token"));
        assert!(names.clashes.is_empty(), "the same schema twice is one schema");
        record(&mut names, "AcceptInput", &object("from_now_on_only"));
        assert_eq!(names.clashes.keys().collect::<Vec<_>>(), ["AcceptInput"]);
    }

    /// What the server answers by the shape of the request alone, whichever the handler.
    #[test]
    fn every_operation_documents_the_problems_its_request_can_cause() {
        let doc = document();
        let mut missing = Vec::new();
        for (path, method, operation) in operations(&doc) {
            let documented = |status: &str| operation["responses"].get(status).is_some();
            let params = operation["parameters"].as_array().cloned().unwrap_or_default();
            let has_param = |place: &str| params.iter().any(|p| p["in"] == place);
            let has_header = |name: &str| params.iter().any(|p| p["in"] == "header" && p["name"] == name);
            let json_body = operation["requestBody"]["content"].get("application/json").is_some();
            let security = operation["security"].as_array().cloned().unwrap_or_default();
            let mut need = Vec::new();
            if json_body {
                need.extend(["400", "413", "415", "422"]);
            }
            if has_header("If-Match") {
                need.extend(["400", "412", "428"]);
            }
            if params.iter().any(|p| p["in"] == "path" && p["schema"]["format"] == "uuid") {
                need.push("404");
            }
            if has_param("query") {
                need.push("400");
            }
            if security.iter().any(|s| !s.as_object().unwrap().is_empty()) {
                need.push("401");
            }
            for status in need {
                if !documented(status) {
                    missing.push(format!("{method} {path}: {status}"));
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "undocumented statuses:\n{}", missing.join("\n"));
    }

    #[test]
    fn sessions_are_a_security_scheme_and_unsafe_requests_need_the_csrf_token() {
        let doc = document();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["session"]["type"], "apiKey");
        assert_eq!(schemes["session"]["in"], "cookie");
        assert_eq!(schemes["session"]["name"], SESSION_COOKIE);
        assert_eq!(schemes["csrf"]["in"], "header");
        assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
        let mut wrong = Vec::new();
        for (path, method, operation) in operations(&doc) {
            let security = operation["security"].as_array().cloned().unwrap_or_default();
            let public = path.starts_with("/public/")
                || path.starts_with("/auth/") && path != "/auth/logout"
                || path.starts_with("/invitations/{")
                || path == "/oauth/token";
            if !public && security.is_empty() {
                wrong.push(format!("{method} {path}: no security"));
            }
            for requirement in &security {
                let requirement = requirement.as_object().unwrap();
                if requirement.contains_key("session") && method != "get" && !requirement.contains_key("csrf") {
                    wrong.push(format!("{method} {path}: a session without csrf"));
                }
                if requirement.contains_key("session") && method == "get" && requirement.contains_key("csrf") {
                    wrong.push(format!("{method} {path}: csrf on a safe method"));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // The tenants routes take sessions (main users and the operator log in with browsers).
        for (path, method) in
            [("/organizations", "get"), ("/organizations", "post"), ("/organizations/{id}/offices", "post")]
        {
            let security = doc["paths"][path][method]["security"].as_array().unwrap();
            assert!(security.iter().any(|s| s.get("session").is_some()), "{method} {path}");
        }
    }
}
