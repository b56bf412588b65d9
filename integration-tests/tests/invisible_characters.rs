//! Names and texts that would show something other than what they are: a file name with a
//! bidirectional control (`\u{202e}gpj.txt` shows as "txt.jpg") is refused, and so is any text
//! of any service that is empty once its invisible characters are gone. Both with a reason the
//! caller reads in their own language.

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Reply, TestSystem};
use reqwest::Method;
use serde_json::json;

use crate::support::{EXPERTS, RawReply, items, logged_in, main_user, organisation_with, raw};

on_both_backends!(spoofing_names_and_invisible_texts_are_refused);

/// What the caller reads for a text without visible characters, by language.
const NO_VISIBLE_TEXT: [(&str, &str); 3] = [
    ("fi", "Tekstissä ei ole yhtään näkyvää merkkiä."),
    ("sv", "Texten innehåller inga synliga tecken."),
    ("en", "The text has no visible characters."),
];

/// Invisible texts: bidirectional controls, zero-width characters, a word joiner, a byte order
/// mark, a soft hyphen, with and without spaces.
const INVISIBLE: [&str; 5] =
    ["\u{202e}\u{200b}", "\u{200b}\u{200c}\u{200d}", " \u{2060}\u{feff} ", "\u{2066}\u{2069}\u{200e}", "\u{ad}\u{61c}"];

fn assert_refused(reply: &Reply, field: &str, reason: &str, what: &str) {
    assert_eq!(reply.status, 422, "{what}: {:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["field"], field, "{what}: {:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["reason"], reason, "{what}: {:?}", reply.body);
}

fn file_path(base: &str, name: &str) -> String {
    let name: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("{base}/files?name={name}")
}

async fn spoofing_names_and_invisible_texts_are_refused(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[3], &EXPERTS).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let input =
        |title: &str| json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": title});

    // Titles and messages without anything visible are refused, in the caller's language.
    for text in INVISIBLE {
        let refused = olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(input(text))).await;
        assert_refused(&refused, "title", "field-no-visible-text", &format!("title {text:?}"));
    }
    assert_eq!(items(&olli.get("/api/v1/workspaces").await), Vec::<serde_json::Value>::new());
    let created = olli.send_with_csrf(Method::POST, "/api/v1/workspaces", Some(input("Työnhaku"))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let base = format!("/api/v1/workspaces/{}", created.id());
    let messages = format!("{base}/messages");
    for (language, expected) in NO_VISIBLE_TEXT {
        olli.language = language;
        for text in INVISIBLE {
            let refused = olli.send_with_csrf(Method::POST, &messages, Some(json!({"body": text}))).await;
            assert_refused(&refused, "body", "field-no-visible-text", &format!("message {text:?}"));
            assert_eq!(refused.body["errors"][0]["message"], expected, "{language}");
        }
    }
    assert_eq!(items(&olli.get(&messages).await), Vec::<serde_json::Value>::new());
    // Editing a message to nothing visible is refused too.
    let posted = olli.send_with_csrf(Method::POST, &messages, Some(json!({"body": "Tervetuloa"}))).await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let etag = posted.header("etag").unwrap().to_owned();
    let url = system.url(&format!("{messages}/{}", posted.id()));
    let headers = [("x-csrf-token", olli.csrf()), ("if-match", etag)];
    let edited = olli.request(Method::PUT, &url, Some(json!({"body": "\u{200b}"})), &headers).await;
    assert_refused(&edited, "body", "field-no-visible-text", "edit");
    // Invisible characters inside visible text are the writer's business (joined emoji, say).
    let family =
        olli.send_with_csrf(Method::POST, &messages, Some(json!({"body": "Perhe 👩\u{200d}👧 ja\u{ad}tavu"}))).await;
    assert_eq!(family.status, 201, "{:?}", family.body);
    assert_eq!(family.body["body"], "Perhe 👩\u{200d}👧 ja\u{ad}tavu");

    // A file name that reverses the direction of text is refused; the same name without is not.
    for name in ["\u{202e}gpj.txt", "lasku\u{2067}.txt", "kuva\u{200f}.txt", "a\u{61c}b.txt", "x\u{202a}y.txt"] {
        let RawReply { status, json, .. } =
            raw(&olli, Method::POST, &file_path(&base, name), b"hei".to_vec(), "text/plain").await;
        assert_eq!(status, 422, "{name:?}: {json}");
        assert_eq!(json["errors"][0]["field"], "name", "{name:?}: {json}");
        assert_eq!(json["errors"][0]["reason"], "file-name-direction-control", "{name:?}: {json}");
        assert!(json["errors"][0]["message"].as_str().unwrap().contains("direction"), "{json}");
    }
    let RawReply { status, json, .. } =
        raw(&olli, Method::POST, &file_path(&base, "\u{200b}\u{2060}"), b"hei".to_vec(), "text/plain").await;
    assert_eq!(status, 422, "{json}");
    assert_eq!(json["errors"][0]["reason"], "invalid-file-name", "{json}");
    assert_eq!(items(&olli.get(&format!("{base}/files")).await), Vec::<serde_json::Value>::new());
    let RawReply { status, json, .. } =
        raw(&olli, Method::POST, &file_path(&base, "gpj.txt"), b"hei".to_vec(), "text/plain").await;
    assert_eq!(status, 201, "{json}");

    // Every service's texts follow the same rule: an office of the tenants service, say.
    let admin = system.as_principal(&main_user(&org));
    let offices = format!("/api/v1/organizations/{}/offices", org.id);
    let refused = admin.language("sv").post(&offices, json!({"name": "\u{200b}\u{feff}"})).await;
    assert_refused(&refused, "name", "field-no-visible-text", "office");
    assert_eq!(refused.body["errors"][0]["message"], NO_VISIBLE_TEXT[1].1);
}
