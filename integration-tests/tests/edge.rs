//! The HTTP edge under slow, stalled, oversized and crowding clients, and what the OpenAPI
//! document says of the bodies that are not JSON.

use ohjaus_integration_tests::{Backend, TestSystem};
use serde_json::Value;

/// The schema at `schema`, following a `$ref` into the document's components.
fn resolved<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// The media types of a `content` object, each checked to be a binary string.
fn binary_media_types(spec: &Value, content: &Value, what: &str) -> Vec<String> {
    let content = content.as_object().unwrap_or_else(|| panic!("{what}: no content"));
    for (media_type, body) in content {
        let schema = resolved(spec, &body["schema"]);
        assert_eq!(schema["type"], "string", "{what} {media_type}: {schema}");
        assert_eq!(schema["format"], "binary", "{what} {media_type}: {schema}");
    }
    let mut types: Vec<String> = content.keys().cloned().collect();
    types.sort();
    types
}

/// A file upload is documented as the raw bytes of one of the types the service accepts
/// (or `application/octet-stream`, leaving the type to the name and the bytes), and a
/// download as the file's own type: not as an array of numbers, nor as octet-stream alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_bodies_are_documented_as_binary_in_their_real_types() {
    let system = TestSystem::start(Backend::Embedded).await;
    let spec = system.anonymous().get("/openapi.json").await.body;
    let shared: Vec<String> =
        ohjaus_workspaces::domain::file_media_types().into_iter().map(str::to_owned).collect();

    let upload = &spec["paths"]["/workspaces/{id}/files"]["post"]["requestBody"];
    assert_eq!(upload["required"], true, "{upload}");
    let mut accepted = shared.clone();
    accepted.push("application/octet-stream".into());
    accepted.sort();
    assert_eq!(binary_media_types(&spec, &upload["content"], "upload"), accepted);

    let download = &spec["paths"]["/workspaces/{id}/files/{file_id}"]["get"]["responses"]["200"];
    assert_eq!(binary_media_types(&spec, &download["content"], "download"), shared);
}
