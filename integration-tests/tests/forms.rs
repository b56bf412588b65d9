//! Contact forms through HTTP: an organisation's main user creates a form in her session (a retry
//! with the same `Idempotency-Key` answers with the same form, invalid values are named, and to
//! guides, other organisations' main users and callers without credentials the organisation's
//! forms do not exist), defines and publishes it; a visitor's browser gets the public page (no
//! cookie, framed only by the allowed origins), solves the proof of work and sends the form; and
//! each kind of abuse is refused or dropped with nothing stored.

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, TestSystem};
use reqwest::Method;
use serde_json::json;

use crate::support::{EXPERTS, logged_in, organisation_with};

on_both_backends!(
    a_main_user_creates_a_form_and_nobody_else_can,
    a_visitor_sends_a_published_form_from_its_public_page,
    refusals_are_clear_and_store_nothing,
    limits_count_each_client_behind_a_trusted_proxy_only,
    the_retention_run_deletes_an_unconverted_submission_after_its_period,
    advisors_work_the_queue_and_reply_from_a_canned_answer,
    in_a_browser_the_embedded_form_solves_its_proof_and_passes_axe,
    a_guide_turns_a_submission_into_a_workspace_the_visitor_joins,
    advisors_are_told_of_new_questions_once_a_window_without_content,
);

async fn a_main_user_creates_a_form_and_nobody_else_can(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let other = organisation_with(&system, BUSINESS_IDS[1], &[("Ville Valvoja", "ville.valvoja", "admin")]).await;
    let forms = format!("/api/v1/organizations/{}/forms", org.id);

    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let csrf = maija.csrf();
    let url = system.url(&forms);
    let headers = [("x-csrf-token", csrf.clone()), ("idempotency-key", "form-1".to_owned())];
    let created = maija.request(Method::POST, &url, Some(json!({"name": "Kysy velkaneuvojalta"})), &headers).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["name"], "Kysy velkaneuvojalta");
    assert_eq!(created.body["organization_id"], org.id.as_str());
    assert_eq!(created.body["published"], false);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let retry = maija.request(Method::POST, &url, Some(json!({"name": "Kysy velkaneuvojalta"})), &headers).await;
    assert_eq!(retry.status, 201, "{:?}", retry.body);
    assert_eq!(retry.body["id"], created.body["id"]);

    let invalid = maija.request(Method::POST, &url, Some(json!({"name": ""})), &headers[..1]).await;
    assert_eq!(invalid.status, 422, "{:?}", invalid.body);
    assert_eq!(invalid.body["errors"][0]["field"], "name", "{:?}", invalid.body);

    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let csrf = olli.csrf();
    let guide = olli.request(Method::POST, &url, Some(json!({"name": "Lomake"})), &[("x-csrf-token", csrf)]).await;
    assert_eq!(guide.status, 404, "{:?}", guide.body);

    // Ville is the other organisation's main user only.
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;
    let csrf = ville.csrf();
    let foreign = ville.request(Method::POST, &url, Some(json!({"name": "Lomake"})), &[("x-csrf-token", csrf)]).await;
    assert_eq!(foreign.status, 404, "{:?}", foreign.body);
    let own = system.url(&format!("/api/v1/organizations/{}/forms", other.id));
    let csrf = ville.csrf();
    let allowed = ville.request(Method::POST, &own, Some(json!({"name": "Lomake"})), &[("x-csrf-token", csrf)]).await;
    assert_eq!(allowed.status, 201, "{:?}", allowed.body);

    let anonymous = system.anonymous().post(&forms, json!({"name": "Lomake"})).await;
    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);
}

/// A published form of `org` (defined and published by its main user through the API), open to
/// `https://www.example.fi` and the test page's origin.
async fn published_form(system: &TestSystem, org: &crate::support::Org) -> String {
    published_form_for(system, org, "http://127.0.0.1:9000").await
}

/// As [`published_form`], embeddable by `origin` too.
async fn published_form_for(system: &TestSystem, org: &crate::support::Org, origin: &str) -> String {
    let admin = system.as_principal(&crate::support::main_user(org));
    let forms = format!("/api/v1/organizations/{}/forms", org.id);
    let created = admin.post(&forms, json!({"name": "Velkaneuvonta"})).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.id();
    let text = |fi: &str, sv: &str, en: &str| json!({"fi": fi, "sv": sv, "en": en});
    let definition = json!({
        "name": "Velkaneuvonta",
        "definition": {
            "languages": ["fi", "sv", "en"],
            "title": text("Kysy velkaneuvojalta", "Fråga skuldrådgivaren", "Ask a debt adviser"),
            "intro": text("Voit kysyä nimettömästi.", "Du kan fråga anonymt.", "You can ask anonymously."),
            "fields": [
                {"key": "kysymys", "kind": "long_text", "required": true,
                 "label": text("Kysymyksesi", "Din fråga", "Your question")},
                {"key": "sahkoposti", "kind": "email",
                 "label": text("Sähköposti vastausta varten", "E-post för svaret", "Email for the answer"),
                 "help": text("Vain vastausta varten.", "Endast för svaret.", "Only for the answer.")},
                {"key": "aihe", "kind": "choice", "required": true, "label": text("Aihe", "Ämne", "Topic"),
                 "choices": [{"key": "velat", "label": text("Velat", "Skulder", "Debts")},
                             {"key": "muu", "label": text("Muu", "Annat", "Other")}]},
                {"key": "suostumus", "kind": "consent", "required": true,
                 "label": text("Hyväksyn tietojeni käsittelyn", "Jag godkänner behandlingen", "I agree to the processing")}
            ],
            "topic": "finances",
            "office_id": org.office,
            "origins": ["https://www.example.fi", origin]
        }
    });
    let path = format!("{forms}/{id}");
    let updated = admin.put(&path, definition, "\"1\"").await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(updated.body["definition"]["fields"][2]["choices"][1]["key"], "muu");
    let published = admin.send(Method::POST, &format!("{path}/publish"), None, &[("if-match", "\"2\"".into())]).await;
    assert_eq!(published.status, 200, "{:?}", published.body);
    assert_eq!(published.body["published"], true);
    id
}

/// The browser's part: a challenge fetched as the page's script does, solved, and the fill
/// time let pass on the system's clock.
async fn solved(system: &TestSystem, form: &str) -> String {
    let reply = system.anonymous().get(&format!("/forms/{form}/challenge")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let challenge = ohjaus_platform::proto::forms::v1::Challenge {
        algorithm: reply.body["algorithm"].as_str().unwrap().into(),
        challenge: reply.body["challenge"].as_str().unwrap().into(),
        max_number: reply.body["maxnumber"].as_i64().unwrap(),
        salt: reply.body["salt"].as_str().unwrap().into(),
        signature: reply.body["signature"].as_str().unwrap().into(),
    };
    system.clock.advance(chrono::Duration::seconds(5));
    ohjaus_forms::domain::proof::solve(&challenge).unwrap()
}

const QUESTION: &str = "Voinko saada apua ulosottovelkoihin? FORMS-MARKER-4c1d";

fn answers<'a>(proof: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("version", "2"),
        ("answer.kysymys", QUESTION),
        ("answer.sahkoposti", email),
        ("answer.aihe", "velat"),
        ("answer.suostumus", "yes"),
        ("proof", proof),
        ("website", ""),
    ]
}

async fn post_form(
    system: &TestSystem,
    form: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = system.http.post(system.url(&format!("/forms/{form}?lang=sv"))).form(fields);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn submissions(system: &TestSystem) -> i64 {
    let db = ohjaus_platform::db::Db::connect(&system.storage.settings(&[]), "forms").await.unwrap();
    let n: i64 = db.query("SELECT COUNT(*) AS n FROM submissions").fetch_one(&db).await.unwrap().get("n").unwrap();
    db.close().await;
    n
}

async fn a_visitor_sends_a_published_form_from_its_public_page(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let form = published_form(&system, &org).await;

    let page = system.http.get(system.url(&format!("/forms/{form}?lang=sv"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors https://www.example.fi http://127.0.0.1:9000"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(page.headers().get("set-cookie").is_none(), "the form page sets no cookie");
    assert_eq!(page.headers()["content-language"], "sv");
    let html = page.text().await.unwrap();
    assert!(html.contains("Fråga skuldrådgivaren"), "{html}");
    assert!(html.contains("lang=\"sv\""));
    assert!(html.contains("Ohjaamo"), "the organisation's name: {html}");

    let proof = solved(&system, &form).await;
    let (status, headers, receipt) = post_form(&system, &form, &answers(&proof, "visitor@example.fi"), &[]).await;
    assert_eq!(status, 200, "{receipt}");
    assert!(headers.get("set-cookie").is_none());
    assert!(receipt.contains("Tack, din fråga har skickats"), "{receipt}");
    assert!(!receipt.contains("FORMS-MARKER"), "the receipt holds no content");
    // The receipt mail, in Swedish, says the question arrived and nothing of what it says.
    let mails = system.storage.wait_for_mails(1).await;
    let mail = mails.iter().find(|m| crate::support::recipient(m).contains("visitor@example.fi")).expect("the receipt");
    assert!(mail.contains("Content-Language: sv"), "{mail}");
    assert!(!crate::support::readable(mail).contains("FORMS-MARKER"), "{mail}");
    assert_eq!(submissions(&system).await, 1);

    // The question is nowhere in the forms database's files or tables in plain text.
    let db = ohjaus_platform::db::Db::connect(&system.storage.settings(&[]), "forms").await.unwrap();
    let rows = db.query("SELECT sealed FROM submissions").fetch_all(&db).await.unwrap();
    let sealed: Vec<u8> = rows[0].get("sealed").unwrap();
    assert!(!crate::support::contains(&sealed, "FORMS-MARKER"));
    db.close().await;
    for file in crate::support::files_under(&system.storage.data_dir()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!crate::support::contains(&bytes, "FORMS-MARKER"), "{}", file.display());
    }

    // The same solution again is refused.
    let (status, _, page) = post_form(&system, &form, &answers(&proof, ""), &[]).await;
    assert_eq!(status, 422, "{page}");
    assert_eq!(submissions(&system).await, 1);
}

async fn refusals_are_clear_and_store_nothing(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let form = published_form(&system, &org).await;

    // No solution, a wrong one.
    let (status, _, page) = post_form(&system, &form, &answers("", ""), &[]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Skräppostkontrollen lyckades inte"), "{page}");
    assert!(page.contains("govuk-error-summary"), "{page}");
    let (status, _, _) = post_form(&system, &form, &answers("eyJhIjoxfQ==", ""), &[]).await;
    assert_eq!(status, 422);

    // Too fast: sent a second after the challenge.
    let reply = system.anonymous().get(&format!("/forms/{form}/challenge")).await;
    let challenge = ohjaus_platform::proto::forms::v1::Challenge {
        algorithm: reply.body["algorithm"].as_str().unwrap().into(),
        challenge: reply.body["challenge"].as_str().unwrap().into(),
        max_number: reply.body["maxnumber"].as_i64().unwrap(),
        salt: reply.body["salt"].as_str().unwrap().into(),
        signature: reply.body["signature"].as_str().unwrap().into(),
    };
    let fast = ohjaus_forms::domain::proof::solve(&challenge).unwrap();
    system.clock.advance(chrono::Duration::seconds(1));
    let (status, _, page) = post_form(&system, &form, &answers(&fast, ""), &[]).await;
    assert_eq!(status, 422);
    assert!(page.contains("för snabbt"), "{page}");
    // Expired.
    system.clock.advance(chrono::Duration::minutes(20));
    let (status, _, _) = post_form(&system, &form, &answers(&fast, ""), &[]).await;
    assert_eq!(status, 422);

    // Invalid answers are shown beside their fields, with what was typed kept.
    let proof = solved(&system, &form).await;
    let long = "x".repeat(5001);
    let mut fields = answers(&proof, "not an address");
    fields[1] = ("answer.kysymys", &long);
    fields[4] = ("answer.suostumus", "");
    let (status, _, page) = post_form(&system, &form, &fields, &[]).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"answer-sahkoposti-error\""), "{page}");
    assert!(page.contains("href=\"#answer-kysymys\""), "{page}");
    assert!(page.contains("value=\"not an address\""), "{page}");
    assert!(page.contains("Du måste godkänna"), "{page}");

    // A filled honeypot is answered like a success.
    let mut trap = answers(&proof, "");
    trap[6] = ("website", "http://spam.example");
    let (status, _, page) = post_form(&system, &form, &trap, &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Tack, din fråga har skickats"));

    // An oversize body.
    let huge = "y".repeat(70_000);
    let mut big = answers(&proof, "");
    big[1] = ("answer.kysymys", &huge);
    let (status, _, page) = post_form(&system, &form, &big, &[]).await;
    assert_eq!(status, 413, "{page}");

    // Unknown, malformed: not available.
    for id in [uuid::Uuid::now_v7().to_string(), "nonsense".to_owned()] {
        let reply = system.http.get(system.url(&format!("/forms/{id}?lang=en"))).send().await.unwrap();
        assert_eq!(reply.status(), 404);
        assert!(reply.text().await.unwrap().contains("Form not available"));
    }
    assert_eq!(submissions(&system).await, 0, "no refusal stored anything");

    // An unpublished form is not available either.
    let admin = system.as_principal(&crate::support::main_user(&org));
    let path = format!("/api/v1/organizations/{}/forms/{form}/unpublish", org.id);
    let unpublished = admin.send(Method::POST, &path, None, &[("if-match", "\"3\"".into())]).await;
    assert_eq!(unpublished.status, 200, "{:?}", unpublished.body);
    let reply = system.http.get(system.url(&format!("/forms/{form}"))).send().await.unwrap();
    assert_eq!(reply.status(), 404);
}

async fn limits_count_each_client_behind_a_trusted_proxy_only(backend: Backend) {
    let storage = std::sync::Arc::new(ohjaus_integration_tests::Storage::new(backend).await);
    let settings = [
        ("OHJAUS__FORMS__RATE_PER_ADDRESS_PER_MINUTE", "2".to_owned()),
        ("OHJAUS__GATEWAY__TRUSTED_PROXIES", "127.0.0.0/8, ::1/128".to_owned()),
    ];
    let system = TestSystem::start_on(storage.clone(), &settings).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let form = published_form(&system, &org).await;
    let first = [("x-forwarded-for", "198.51.100.1")];
    for _ in 0..2 {
        let (status, _, _) = post_form(&system, &form, &answers("", ""), &first).await;
        assert_eq!(status, 422);
    }
    let (status, headers, page) = post_form(&system, &form, &answers("", ""), &first).await;
    assert_eq!(status, 429, "{page}");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(page.contains("För många frågor"), "{page}");
    // Another client behind the same proxy has its own allowance.
    let (status, _, _) = post_form(&system, &form, &answers("", ""), &[("x-forwarded-for", "198.51.100.2")]).await;
    assert_eq!(status, 422);
    system.stop().await;

    // Not behind a trusted proxy: the header is the client's own word, and ignored.
    let settings = [
        ("OHJAUS__FORMS__RATE_PER_ADDRESS_PER_MINUTE", "2".to_owned()),
        ("OHJAUS__GATEWAY__TRUSTED_PROXIES", "10.0.0.0/8".to_owned()),
    ];
    let system = TestSystem::start_on(storage, &settings).await;
    for (i, client) in ["198.51.100.3", "198.51.100.4", "198.51.100.5"].into_iter().enumerate() {
        let (status, _, _) = post_form(&system, &form, &answers("", ""), &[("x-forwarded-for", client)]).await;
        assert_eq!(status, if i < 2 { 422 } else { 429 }, "{client}");
    }
    assert_eq!(submissions(&system).await, 0);
}

async fn the_retention_run_deletes_an_unconverted_submission_after_its_period(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let form = published_form(&system, &org).await;
    let proof = solved(&system, &form).await;
    let (status, _, page) = post_form(&system, &form, &answers(&proof, ""), &[]).await;
    assert_eq!(status, 200, "{page}");
    let keyring = crate::support::keyring_db(&system, "forms").await;
    let keys = || async {
        let n: i64 =
            keyring.query("SELECT COUNT(*) AS n FROM data_keys").fetch_one(&keyring).await.unwrap().get("n").unwrap();
        n
    };
    assert_eq!(keys().await, 1);

    system.clock.advance(chrono::Duration::days(179));
    let (counts, _) = crate::retention::run(&system, false).await;
    assert_eq!(counts.get("form-submission/delete").copied().unwrap_or(0), 0);
    assert_eq!(submissions(&system).await, 1);

    system.clock.advance(chrono::Duration::days(2));
    let (counts, _) = crate::retention::run(&system, false).await;
    assert_eq!(counts.get("form-submission/delete"), Some(&1), "{counts:?}");
    assert_eq!(submissions(&system).await, 0);
    assert_eq!(keys().await, 0, "its key went with it");
}

async fn advisors_work_the_queue_and_reply_from_a_canned_answer(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let form = published_form(&system, &org).await;
    let proof = solved(&system, &form).await;
    let (status, _, page) = post_form(&system, &form, &answers(&proof, "visitor@example.fi"), &[]).await;
    assert_eq!(status, 200, "{page}");
    let org_id = uuid::Uuid::parse_str(&org.id).unwrap();
    let advisor =
        system.as_principal(&ohjaus_integration_tests::expert(org_id, &[ohjaus_platform::auth::Role::Advisor]));

    let queue = advisor.get(&format!("/api/v1/organizations/{}/submissions?status=new", org.id)).await;
    assert_eq!(queue.status, 200, "{:?}", queue.body);
    let item = &queue.body["items"][0];
    assert_eq!(item["status"], "new");
    assert_eq!(item["language"], "sv");
    assert!(item.get("answers").is_none(), "the list holds no content");
    let id = item["id"].as_str().unwrap().to_owned();
    let main_user = system.as_principal(&crate::support::main_user(&org));
    let hidden = main_user.get(&format!("/api/v1/submissions/{id}")).await;
    assert_eq!(hidden.status, 404, "main users configure but do not read");

    let shown = advisor.get(&format!("/api/v1/submissions/{id}")).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body["answers"][0]["label"], "Din fråga");
    assert_eq!(shown.body["answers"][0]["value"], QUESTION);
    let claimed = advisor
        .send(Method::POST, &format!("/api/v1/submissions/{id}/claim"), None, &[("if-match", "\"1\"".into())])
        .await;
    assert_eq!(claimed.status, 200, "{:?}", claimed.body);
    assert_eq!(claimed.body["status"], "in_progress");

    let canned = advisor
        .post(
            &format!("/api/v1/organizations/{}/canned-answers", org.id),
            json!({"title": "Ajanvaraus", "text": {"fi": "Varaa aika.", "sv": "Boka en tid."}, "topics": ["finances"]}),
        )
        .await;
    assert_eq!(canned.status, 201, "{:?}", canned.body);
    let listed = advisor.get(&format!("/api/v1/organizations/{}/canned-answers?topic=finances", org.id)).await;
    assert_eq!(listed.body["items"][0]["text"]["sv"], "Boka en tid.");
    let text = "Boka en tid. Välkommen! REPLY-MARKER";
    let replied = advisor
        .send(
            Method::POST,
            &format!("/api/v1/submissions/{id}/replies"),
            Some(json!({"text": text})),
            &[("if-match", "\"2\"".into())],
        )
        .await;
    assert_eq!(replied.status, 201, "{:?}", replied.body);
    assert_eq!(replied.body["status"], "answered");
    assert_eq!(replied.body["replies"][0]["text"], text);
    let mails = system.storage.wait_for_mails(2).await;
    let mail = mails.iter().find(|m| m.contains("REPLY-MARKER")).expect("the reply mail");
    assert!(crate::support::recipient(mail).contains("visitor@example.fi"), "{mail}");
    assert!(mail.contains("REPLY-MARKER"), "{mail}");
    assert!(mail.contains("Content-Language: sv"), "{mail}");
}

/// An organisation's website on another local origin (`listener`): every request gets a page
/// that embeds `form` with the one-line snippet.
fn website(system: &TestSystem, listener: tokio::net::TcpListener, form: &str) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let html = format!(
        "<!doctype html><html lang=\"fi\"><head><meta charset=\"utf-8\"><title>Ohjaamo</title></head>\
         <body><main><h1>Ota yhteyttä</h1><script src=\"{}\" data-form=\"{form}\" data-lang=\"fi\" \
         data-title=\"Yhteydenottolomake\" async></script><noscript><a href=\"{}\">Yhteydenottolomake</a></noscript>\
         </main></body></html>",
        system.url("/forms/embed.js"),
        system.url(&format!("/forms/{form}?lang=fi")),
    );
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = [0_u8; 4096];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    })
}

async fn in_a_browser_the_embedded_form_solves_its_proof_and_passes_axe(backend: Backend) {
    let storage = std::sync::Arc::new(ohjaus_integration_tests::Storage::new(backend).await);
    let system = TestSystem::start_on(storage, &[("OHJAUS__FORMS__CHALLENGE_MAX_NUMBER", "20000".to_owned())]).await;
    let staff = [
        ("Maija Pääkäyttäjä", "maija.paakayttaja", "admin"),
        ("Olli Ohjaaja", "olli.ohjaaja", "guide"),
        ("Noora Neuvoja", "noora.neuvoja", "advisor"),
    ];
    let org = organisation_with(&system, BUSINESS_IDS[0], &staff).await;
    // The website listens first: the form is made for its origin.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let form = published_form_for(&system, &org, &origin).await;
    let server = website(&system, listener, &form);
    let strangers = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stranger = format!("http://{}/", strangers.local_addr().unwrap());
    let other_server = website(&system, strangers, &form);
    // A question sent before, with an address: the advisor turns it into a workspace.
    let proof = solved(&system, &form).await;
    let (status, _, page) = post_form(&system, &form, &answers(&proof, "toinen@example.fi"), &[]).await;
    assert_eq!(status, 200, "{page}");

    // The page's minimum fill time runs on the system's clock: it moves on while the browser works.
    let clock = system.clock.clone();
    let ticking = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            clock.advance(chrono::Duration::seconds(1));
        }
    });
    let marker = format!("SELAIN-{}", uuid::Uuid::now_v7().simple());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/forms.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("OHJAUS_BASE", system.url("").trim_end_matches('/'))
        .env("OHJAUS_HOST", format!("{origin}/"))
        .env("OHJAUS_STRANGER", &stranger)
        .env("OHJAUS_FORM", &form)
        .env("OHJAUS_MARKER", &marker)
        .env("OHJAUS_ORG", &org.id)
        .env("OHJAUS_ADMIN", "maija.paakayttaja")
        .env("OHJAUS_ADVISOR", "noora.neuvoja")
        .env("OHJAUS_GUIDE", &org.people["olli.ohjaaja"])
        .env("OHJAUS_SECOND", "toinen@example.fi")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(240), run)
        .await
        .expect("the browser did not finish in 240 s")
        .expect("node runs (is Node.js installed?)");
    ticking.abort();
    server.abort();
    other_server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the browser failed:\n{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert_eq!(summary["sent"], 2, "{summary}");
    assert_eq!(summary["resized"], true, "{summary}");
    assert_eq!(summary["framing"], true, "{summary}");
    // The form's 6, the editor's 7, the queue's 6, the canned answers' 4, the submission's 5.
    assert_eq!(summary["axe"].as_array().map(Vec::len), Some(28), "{summary}");
    assert_eq!(summary["keyboardReply"], true, "{summary}");
    assert_eq!(summary["converted"], true, "{summary}");
    assert_eq!(submissions(&system).await, 3);

    // The keyboard's visitor has the reply, in Swedish, from the canned answer.
    let reply_marker = format!("REPLY-{marker}");
    let mails = system.storage.wait_for_mails(3).await;
    let reply = mails.iter().find(|m| crate::support::readable(m).contains(&reply_marker)).expect("the reply mail");
    assert!(crate::support::recipient(reply).contains("besokare@example.fi"), "{reply}");
    assert!(crate::support::readable(reply).contains("Boka en tid"), "{reply}");
    // The converted question's visitor is invited, accepts with Suomi.fi and finds the question
    // as the workspace's first message; the workspace is the named guide's.
    let invitation = mails
        .iter()
        .find(|m| {
            crate::support::recipient(m).contains("toinen@example.fi")
                && crate::support::readable(m).contains("/invitations/")
        })
        .expect("the invitation mail");
    let token = crate::support::token_in(invitation);
    let mut visitor = ohjaus_integration_tests::Browser::new(&system);
    let accepted = crate::support::accept(&mut visitor, &token, "010280-952L").await;
    let workspace = accepted.body["id"].as_str().expect("the workspace").to_owned();
    let shown = visitor.get(&format!("/api/v1/workspaces/{workspace}")).await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body["owner_id"], org.people["olli.ohjaaja"].as_str(), "{:?}", shown.body);
    let messages = visitor.get(&format!("/api/v1/workspaces/{workspace}/messages")).await;
    assert_eq!(messages.status, 200, "{:?}", messages.body);
    assert!(
        messages.body["items"][0]["body"].as_str().unwrap_or_default().contains("FORMS-MARKER-4c1d"),
        "{:?}",
        messages.body
    );
}

async fn a_guide_turns_a_submission_into_a_workspace_the_visitor_joins(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let org = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let form = published_form(&system, &org).await;
    let proof = solved(&system, &form).await;
    let (status, _, page) = post_form(&system, &form, &answers(&proof, "visitor@example.fi"), &[]).await;
    assert_eq!(status, 200, "{page}");
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let queue = olli.get(&format!("/api/v1/organizations/{}/submissions", org.id)).await;
    assert_eq!(queue.status, 200, "{:?}", queue.body);
    let id = queue.body["items"][0]["id"].as_str().unwrap().to_owned();

    let mails_before = system.storage.mails().len();
    let csrf = olli.csrf();
    let url = system.url(&format!("/api/v1/submissions/{id}/convert"));
    let headers = [("x-csrf-token", csrf), ("if-match", "\"1\"".to_owned())];
    let converted = olli.request(Method::POST, &url, Some(json!({})), &headers).await;
    assert_eq!(converted.status, 200, "{:?}", converted.body);
    assert_eq!(converted.body["status"], "converted");
    let workspace = converted.body["workspace_id"].as_str().unwrap().to_owned();
    let again = olli
        .request(Method::POST, &url, Some(json!({})), &[headers[0].clone(), ("if-match", "\"2\"".to_owned())])
        .await;
    assert_eq!(again.status, 409, "converted once: {:?}", again.body);

    // The visitor gets the invitation by the address they gave, and accepts with Suomi.fi.
    let mails = system.storage.wait_for_mails(mails_before + 1).await;
    let mail = mails
        .iter()
        .find(|m| {
            crate::support::recipient(m).contains("visitor@example.fi")
                && crate::support::readable(m).contains("/invitations/")
        })
        .expect("the invitation mail");
    let token = crate::support::token_in(mail);
    let mut visitor = ohjaus_integration_tests::Browser::new(&system);
    crate::support::accept(&mut visitor, &token, "010280-952L").await;
    let messages = visitor.get(&format!("/api/v1/workspaces/{workspace}/messages")).await;
    assert_eq!(messages.status, 200, "{:?}", messages.body);
    let first = &messages.body["items"][0];
    assert!(first["body"].as_str().unwrap().contains("FORMS-MARKER-4c1d"), "{first}");

    // A converted submission follows the workspace's retention, not the form's.
    system.clock.advance(chrono::Duration::days(200));
    crate::retention::run(&system, false).await;
    let db = ohjaus_platform::db::Db::connect(&system.storage.settings(&[]), "forms").await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let n: i64 = db.query(sql).fetch_one(&db).await.unwrap().get("n").unwrap();
            n
        }
    };
    assert_eq!(count("SELECT COUNT(*) AS n FROM submissions").await, 1);
    // When the workspace is deleted (notice, closing, archiving, a year archived), the
    // submission goes with it, its key first.
    for _ in 0..8 {
        system.clock.advance(chrono::Duration::days(120));
        crate::retention::run(&system, false).await;
    }
    assert_eq!(count("SELECT COUNT(*) AS n FROM submissions").await, 0);
    assert_eq!(count("SELECT COUNT(*) AS n FROM submission_reads").await, 0);
    let keyring = crate::support::keyring_db(&system, "forms").await;
    let keys: i64 =
        keyring.query("SELECT COUNT(*) AS n FROM data_keys").fetch_one(&keyring).await.unwrap().get("n").unwrap();
    assert_eq!(keys, 0, "its key went first");
    db.close().await;
}

/// New questions are announced to the receiving organisation's advisors by a mail with no
/// content and a link to the queue: one mail for the questions of one window, the next after the
/// window; guides and main users get none.
async fn advisors_are_told_of_new_questions_once_a_window_without_content(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let staff = [
        ("Maija Pääkäyttäjä", "maija.paakayttaja", "admin"),
        ("Olli Ohjaaja", "olli.ohjaaja", "guide"),
        ("Noora Neuvoja", "noora.neuvoja", "advisor"),
    ];
    let org = organisation_with(&system, BUSINESS_IDS[0], &staff).await;
    let form = published_form(&system, &org).await;
    // The forms service learns who the advisors are from the registry's events.
    let db = ohjaus_platform::db::Db::connect(&system.storage.settings(&[]), "forms").await.unwrap();
    for _ in 0..200 {
        let n: i64 =
            db.query("SELECT COUNT(*) AS n FROM queue_advisors").fetch_one(&db).await.unwrap().get("n").unwrap();
        if n == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let to_noora = |mails: &[String]| {
        mails
            .iter()
            .filter(|m| crate::support::recipient(m).contains("noora.neuvoja@demo.fi"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let send = || async {
        let proof = solved(&system, &form).await;
        let (status, _, page) = post_form(&system, &form, &answers(&proof, ""), &[]).await;
        assert_eq!(status, 200, "{page}");
    };
    send().await;
    send().await;
    let mails = system.storage.wait_for_mails(1).await;
    let announced = to_noora(&mails);
    assert_eq!(announced.len(), 1, "{mails:?}");
    let readable = crate::support::readable(&announced[0]);
    assert!(readable.contains(&format!("/app/organisations/{}/queue", org.id)), "{readable}");
    assert!(!readable.contains("FORMS-MARKER"), "no content: {readable}");
    assert!(!mails.iter().any(|m| !crate::support::recipient(m).contains("noora.neuvoja")), "{mails:?}");

    // Another question inside the window waits for it to pass.
    send().await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(to_noora(&system.storage.mails()).len(), 1);
    system.clock.advance(chrono::Duration::minutes(11));
    let mails = system.storage.wait_for_mails(2).await;
    assert_eq!(to_noora(&mails).len(), 2, "{mails:?}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(to_noora(&system.storage.mails()).len(), 2, "one mail a window");
    db.close().await;
}
