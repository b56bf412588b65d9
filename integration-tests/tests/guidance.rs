//! Guidance through HTTP: a guide plans with phases, tasks, events and notes and writes the
//! summary; the customer reads them, writes shared notes and marks her tasks done; a guide's
//! private note stays his; stale versions are refused; strangers find nothing; live streams,
//! the customer's download and the access log carry what each member may see; nothing is
//! stored readable.

use std::sync::Arc;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Storage, TestSystem};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{RawReply, contains, download, join, listen, logged_in, open_workspace, organisation, unzip};

on_both_backends!(guides_plan_customers_take_part_and_private_notes_stay_private);

async fn send(
    browser: &mut Browser<'_>,
    method: Method,
    path: &str,
    body: Value,
    if_match: Option<i64>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, browser.system.url(path))
        .header("cookie", crate::support::cookie_header(browser))
        .header("x-csrf-token", browser.csrf())
        .header("accept-language", "en");
    if let Some(version) = if_match {
        request = request.header("if-match", format!("\"{version}\""));
    }
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

async fn guides_plan_customers_take_part_and_private_notes_stay_private(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let (org, office) = organisation(&system, BUSINESS_IDS[1]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let marker = format!("SEALED-{}", Uuid::now_v7().simple());
    let created = open_workspace(
        &mut olli,
        json!({"organization_id": org, "office_id": office, "kind": "personal", "title": "Työnhaku", "topics": ["work-and-careers"]}),
    )
    .await;
    let id = created.id();
    let base = format!("/api/v1/workspaces/{id}");
    let items = format!("{base}/items");
    let mut tessa = join(&system, &storage, &mut olli, &id, "010280-952L", "tessa.testila@example.fi").await;
    let mut live = listen(&tessa, &id).await;

    // Bad input is refused with every field named, and nothing is made.
    let (status, problem) = send(&mut olli, Method::POST, &items, json!({"kind": "phase"}), None).await;
    assert_eq!((status, fields(&problem)), (422, vec!["title".to_owned()]), "{problem}");
    let backwards = json!({"kind": "event", "title": "Tapaaminen", "starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T09:00:00Z"});
    let (status, problem) = send(&mut olli, Method::POST, &items, backwards, None).await;
    assert_eq!((status, fields(&problem)), (422, vec!["ends_at".to_owned()]), "{problem}");
    assert_eq!(problem["errors"][0]["message"], "The end cannot be before the start.");
    let (status, problem) =
        send(&mut olli, Method::POST, &items, json!({"kind": "task", "title": "CV", "due_on": "1.12.2026"}), None)
            .await;
    assert_eq!((status, fields(&problem)), (422, vec!["due_on".to_owned()]), "{problem}");
    let (status, problem) = send(&mut olli, Method::POST, &items, json!({"kind": "meeting", "title": "x"}), None).await;
    assert_eq!((status, fields(&problem)), (422, vec!["kind".to_owned()]), "{problem}");
    let (status, problem) =
        send(&mut olli, Method::POST, &items, json!({"kind": "phase", "title": "x", "status": "halfway"}), None).await;
    assert_eq!((status, fields(&problem)), (422, vec!["phase_status".to_owned()]), "{problem}");

    // Olli plans: a phase, a task for Tessa, a task for the guides, an event, a shared note and
    // his private note.
    let mut made = Vec::new();
    for body in [
        json!({"kind": "phase", "title": format!("Kartoitus {marker}"), "status": "current"}),
        json!({"kind": "task", "title": format!("Päivitä CV {marker}"), "due_on": "2026-12-01"}),
        json!({"kind": "task", "title": "Soita TE-toimistoon", "assignee": "guides"}),
        json!({"kind": "event", "title": "Tapaaminen", "starts_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T11:00:00Z", "location": format!("Huone 3 {marker}")}),
        json!({"kind": "note", "body": format!("Yhteinen muistiinpano {marker}")}),
        json!({"kind": "note", "body": format!("Oma huomio {marker}"), "private": true}),
    ] {
        let (status, item) = send(&mut olli, Method::POST, &items, body, None).await;
        assert_eq!(status, 201, "{item}");
        assert_eq!(item["author_name"], "Olli Ohjaaja");
        made.push(item);
    }
    let [phase, my_task, guides_task, event, shared_note, private_note] = <[Value; 6]>::try_from(made).unwrap();
    assert_eq!(phase["status"], "current");
    assert_eq!(my_task["due_on"], "2026-12-01");
    assert_eq!(my_task["assignee"], "customer");
    assert_eq!(guides_task["assignee"], "guides");
    assert_eq!(event["starts_at"], "2026-12-02T10:00:00Z");
    assert_eq!(private_note["private"], true);
    let id_of = |v: &Value| v["id"].as_str().unwrap().to_owned();

    // Tessa sees what is shared, not Olli's private note.
    assert_eq!(ids(&tessa.get(&format!("{items}?kind=task")).await.body), [id_of(&my_task), id_of(&guides_task)]);
    assert_eq!(ids(&tessa.get(&format!("{items}?kind=note")).await.body), [id_of(&shared_note)]);
    assert_eq!(ids(&olli.get(&format!("{items}?kind=note")).await.body), [id_of(&shared_note), id_of(&private_note)]);
    assert_eq!(tessa.get(&format!("{items}/{}", id_of(&private_note))).await.status, 404);
    let seen = tessa.get(&format!("{items}/{}", id_of(&event))).await;
    assert_eq!(seen.body["location"], format!("Huone 3 {marker}"));
    assert_eq!(
        tessa.get(&format!("{items}?kind=phase")).await.body["items"][0]["title"],
        format!("Kartoitus {marker}")
    );
    assert_eq!(tessa.get(&format!("{items}?kind=plan")).await.status, 422);

    // Tessa writes a shared note but cannot plan or keep private notes.
    let (status, note) =
        send(&mut tessa, Method::POST, &items, json!({"kind": "note", "body": "Kysyn lisää"}), None).await;
    assert_eq!(status, 201, "{note}");
    assert_eq!(note["author_kind"], "customer");
    let (status, _) = send(&mut tessa, Method::POST, &items, json!({"kind": "task", "title": "x"}), None).await;
    assert_eq!(status, 403);
    let (status, _) =
        send(&mut tessa, Method::POST, &items, json!({"kind": "note", "body": "x", "private": true}), None).await;
    assert_eq!(status, 403);
    // A note is its author's: Olli cannot change Tessa's, she cannot change his phase.
    let (status, _) =
        send(&mut olli, Method::PUT, &format!("{items}/{}", id_of(&note)), json!({"body": "muutettu"}), Some(1)).await;
    assert_eq!(status, 403);
    let (status, _) =
        send(&mut tessa, Method::PUT, &format!("{items}/{}", id_of(&phase)), json!({"title": "x"}), Some(1)).await;
    assert_eq!(status, 403);

    // Tasks: Tessa marks hers done; the guides' task is not hers to mark.
    let done_path = |task: &Value| format!("{items}/{}/done", id_of(task));
    let (status, done) = send(&mut tessa, Method::PUT, &done_path(&my_task), json!({"done": true}), Some(1)).await;
    assert_eq!(status, 200, "{done}");
    assert!(done["completed_at"].is_string(), "{done}");
    assert_eq!(done["version"], 2);
    let (status, _) = send(&mut tessa, Method::PUT, &done_path(&guides_task), json!({"done": true}), Some(1)).await;
    assert_eq!(status, 403);
    let (status, problem) = send(&mut olli, Method::PUT, &done_path(&phase), json!({"done": true}), Some(1)).await;
    assert_eq!((status, fields(&problem)), (422, vec!["item_id".to_owned()]), "{problem}");

    // A stale version never overwrites a newer one; the current one does.
    let phase_path = format!("{items}/{}", id_of(&phase));
    let renamed = json!({"title": format!("Kartoitus valmis {marker}"), "status": "done"});
    let (status, _) = send(&mut olli, Method::PUT, &phase_path, renamed.clone(), None).await;
    assert_eq!(status, 428);
    let (status, changed) = send(&mut olli, Method::PUT, &phase_path, renamed.clone(), Some(1)).await;
    assert_eq!((status, changed["status"].as_str()), (200, Some("done")), "{changed}");
    let (status, _) = send(&mut olli, Method::PUT, &phase_path, renamed, Some(1)).await;
    assert_eq!(status, 412);

    // Deleting keeps the place and drops the content.
    let event_path = format!("{items}/{}", id_of(&event));
    let (status, deleted) = send(&mut olli, Method::DELETE, &event_path, Value::Null, Some(1)).await;
    assert_eq!((status, deleted["deleted"].as_bool(), deleted["title"].as_str()), (200, Some(true), Some("")));
    assert!(ids(&tessa.get(&format!("{items}?kind=event")).await.body).is_empty());
    let (status, _) = send(&mut olli, Method::DELETE, &event_path, Value::Null, Some(2)).await;
    assert_eq!(status, 409, "a deleted item cannot change");

    // The summary: guides write it, a first version without If-Match, later ones with it.
    let summary = format!("{base}/summary");
    assert_eq!(tessa.get(&summary).await.body, json!({"workspace_id": id, "text": "", "version": 0}));
    let text = json!({"text": format!("Tavoitteena työpaikka keväällä. {marker}")});
    let (status, _) = send(&mut tessa, Method::PUT, &summary, text.clone(), None).await;
    assert_eq!(status, 403);
    let (status, written) = send(&mut olli, Method::PUT, &summary, text.clone(), None).await;
    assert_eq!((status, written["version"].as_i64()), (200, Some(1)), "{written}");
    let (status, _) = send(&mut olli, Method::PUT, &summary, text.clone(), None).await;
    assert_eq!(status, 412, "a second first version would overwrite the first");
    let (status, written) = send(&mut olli, Method::PUT, &summary, text, Some(1)).await;
    assert_eq!((status, written["version"].as_i64()), (200, Some(2)));
    assert_eq!(olli.get(&summary).await.body["version"], 2);
    let read = tessa.get(&summary).await;
    assert_eq!(read.body["updated_by_name"], "Olli Ohjaaja");
    assert!(read.body["text"].as_str().unwrap().contains(&marker));

    // Lists page.
    for n in 0..3 {
        let (status, _) =
            send(&mut olli, Method::POST, &items, json!({"kind": "phase", "title": format!("Vaihe {n}")}), None).await;
        assert_eq!(status, 201);
    }
    let first = tessa.get(&format!("{items}?kind=phase&page_size=3")).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    let token = first.body["next_page_token"].as_str().unwrap();
    let second = tessa.get(&format!("{items}?kind=phase&page_size=3&page_token={token}")).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert!(second.body["next_page_token"].is_null());

    // Who is here, and a conversation view's paging: newest first, older on the next page.
    let members = tessa.get(&format!("{base}/members")).await;
    let roles: Vec<(String, String)> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(roles, [("Olli Ohjaaja".into(), "owner".into()), ("Tessa Testilä".into(), "customer".into())]);
    let first = tessa.get(&format!("{base}/members?page_size=1")).await;
    assert_eq!(first.body["items"][0]["name"], "Olli Ohjaaja");
    let token = first.body["next_page_token"].as_str().unwrap();
    let rest = tessa.get(&format!("{base}/members?page_size=1&page_token={token}")).await;
    assert_eq!(rest.body["items"][0]["name"], "Tessa Testilä");
    assert!(rest.body["next_page_token"].is_null());
    let mut posted = Vec::new();
    for n in 1..=3 {
        let (status, message) =
            send(&mut tessa, Method::POST, &format!("{base}/messages"), json!({"body": format!("Viesti {n}")}), None)
                .await;
        assert_eq!(status, 201);
        posted.push(id_of(&message));
    }
    let newest = olli.get(&format!("{base}/messages?order=newest&page_size=2")).await;
    assert_eq!(ids(&newest.body), [posted[2].clone(), posted[1].clone()]);
    let token = newest.body["next_page_token"].as_str().unwrap();
    let older = olli.get(&format!("{base}/messages?order=newest&page_size=2&page_token={token}")).await;
    assert_eq!(ids(&older.body), [posted[0].clone()]);
    let oldest = olli.get(&format!("{base}/messages")).await;
    assert_eq!(ids(&oldest.body), posted);
    let bad = olli.get(&format!("{base}/messages?order=random")).await;
    assert_eq!((bad.status, bad.error_fields()), (422, vec!["order".to_owned()]));

    // Nobody else finds any of it: a main user, another guide, the operator.
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    for path in [
        format!("{items}?kind=task"),
        format!("{items}/{}", id_of(&my_task)),
        summary.clone(),
        format!("{base}/members"),
    ] {
        assert_eq!(maija.get(&path).await.status, 404, "{path}");
        assert_eq!(noora.get(&path).await.status, 404, "{path}");
        assert_eq!(system.operator().get(&path).await.status, 404, "{path}");
    }
    let (status, _) = send(&mut noora, Method::POST, &items, json!({"kind": "note", "body": "x"}), None).await;
    assert_eq!(status, 404);

    // Tessa's live stream carried the shared items and the summary, never the private note.
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while events.iter().filter(|e: &&String| e.contains("event: summary")).count() < 2 {
        match tokio::time::timeout_at(deadline, live.recv()).await {
            Ok(Some(event)) => events.push(event),
            _ => panic!("the summary changes did not arrive live: {events:?}"),
        }
    }
    let stream = events.join("\n");
    assert!(stream.contains(&format!("id: {}", id_of(&my_task))), "{stream}");
    assert!(stream.contains(&format!("Kartoitus valmis {marker}")), "{stream}");
    assert!(!stream.contains(&id_of(&private_note)) && !stream.contains("Oma huomio"), "{stream}");

    // Her download has the guidance she sees and the summary; not the private note.
    let RawReply { status, bytes: zip, .. } = download(&tessa, &format!("{base}/export")).await;
    assert_eq!(status, 200);
    let entries = unzip(zip).await;
    let json_entry = &entries.iter().find(|(name, _)| name == "workspace.json").unwrap().1;
    let document: Value = serde_json::from_slice(json_entry).unwrap();
    let guidance = &document["guidance"];
    assert_eq!(guidance["phases"].as_array().unwrap().len(), 4);
    assert_eq!(guidance["phases"][0]["status"], "done");
    assert_eq!(guidance["tasks"][0]["due_on"], "2026-12-01");
    assert!(guidance["tasks"][0]["done_at"].is_string());
    assert!(guidance["events"].as_array().unwrap().is_empty());
    assert_eq!(guidance["notes"].as_array().unwrap().len(), 2);
    assert!(document["summary"]["text"].as_str().unwrap().contains(&marker));
    assert!(!contains(json_entry, "Oma huomio"), "the private note is not hers");
    let html = &entries.iter().find(|(name, _)| name == "workspace.html").unwrap().1;
    assert!(contains(html, "Kartoitus valmis") && contains(html, "Tavoitteena työpaikka"));

    // She sees that Olli read the notes and the summary.
    let log = tessa.get(&format!("{base}/access-log?page_size=100")).await;
    let entries = log.body["items"].as_array().unwrap();
    for what in ["notes", "summary"] {
        assert!(entries.iter().any(|e| e["actor_name"] == "Olli Ohjaaja" && e["what"] == what), "{what}: {entries:?}");
    }

    // Nothing of what was written is stored readable.
    let db = ohjaus_platform::db::Db::connect(&storage.settings(&[]), "workspaces").await.unwrap();
    for sql in ["SELECT sealed AS b FROM guidance_items", "SELECT sealed AS b FROM summaries"] {
        let rows = db.query(sql).fetch_all(&db).await.unwrap();
        assert!(!rows.is_empty(), "{sql}");
        for row in rows {
            let bytes: Vec<u8> = row.get("b").unwrap();
            assert!(!contains(&bytes, &marker) && !contains(&bytes, "Oma huomio"), "{sql}");
        }
    }
}
