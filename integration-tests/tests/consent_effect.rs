//! What a customer's consent does: an expert of another organisation sees nothing of a
//! workspace until the customer accepts, works in it like a guide afterwards (within what the
//! consent covers), and is out at once — requests refused, live stream ended — when the
//! customer withdraws. Restarts of the consent service, the workspaces service and NATS
//! between a decision and its effect lose nothing and apply nothing twice.

use std::{sync::Arc, time::Duration};

use ohjaus::Target;
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, NatsPeer, Reply, Storage, TestSystem};
use ohjaus_platform::{
    auth::Principal,
    proto::consent::v1::{self as consent_pb, consent_service_client::ConsentServiceClient},
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    EXPERTS, Org, items, join, list_in_directory, listen, logged_in, open_workspace, organisation_with, readable,
    recipient, send,
};

on_both_backends!(
    a_consented_expert_works_in_the_workspace_until_the_customer_withdraws,
    from_now_on_only_in_a_group,
    a_consented_expert_is_mailed_and_outsiders_meet_not_found_in_consent
);

/// Organisation B: Ville, an advisor its main user lists in the directory.
const B_STAFF: [(&str, &str, &str); 1] = [("Ville Valvoja", "ville.valvoja", "advisor")];

const PURPOSE: &str = "Työkokeilun suunnittelu yhdessä TE-palveluiden kanssa";

/// A system with organisation A (whose guide Olli owns the workspaces) and organisation B,
/// whose main user lists Ville in its directory of experts who take consent requests.
async fn two_organisations(backend: Backend, extra: &[(&str, String)]) -> (Arc<Storage>, TestSystem, Org, Org) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), extra).await;
    let a = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let b = organisation_with(&system, BUSINESS_IDS[1], &B_STAFF).await;
    list_in_directory(&system, &b, "ville.valvoja").await;
    (storage, system, a, b)
}

/// The owner guide proposes Ville for `customer`; the request's id.
async fn propose(olli: &mut Browser<'_>, workspace: &str, customer: &str, b: &Org) -> String {
    let body = json!({"customer_id": customer, "expert_id": b.person("ville.valvoja"),
        "expert_organization_id": b.id, "purpose": PURPOSE, "language": "fi"});
    let created = send(olli, Method::POST, &format!("/api/v1/workspaces/{workspace}/consents"), Some(body), None).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.id()
}

/// The customers' ids in `workspace`, as `reader` sees the members.
async fn customer_ids(reader: &mut Browser<'_>, workspace: &str) -> Vec<String> {
    let members = reader.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    items(&members).iter().filter(|m| m["kind"] == "customer").map(|m| m["id"].as_str().unwrap().to_owned()).collect()
}

/// Waits until `path` answers `status` to `browser`, for at most `limit`; how long it took.
async fn until_status(browser: &mut Browser<'_>, path: &str, status: u16, limit: Duration) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let reply = browser.get(path).await;
        if reply.status == status {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{path} still answers {} after {limit:?}: {:?}", reply.status, reply.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn bodies(reply: &Reply) -> Vec<String> {
    items(reply).iter().map(|m| m["body"].as_str().unwrap_or_default().to_owned()).collect()
}

fn log_entries(reply: &Reply, what: &str) -> usize {
    items(reply).iter().filter(|e| e["what"] == what).count()
}

async fn a_consented_expert_works_in_the_workspace_until_the_customer_withdraws(backend: Backend) {
    let (storage, system, a, b) = two_organisations(backend, &[]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;

    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": "Monialainen"}),
    )
    .await
    .id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    let tessa_id = customer_ids(&mut olli, &workspace).await.remove(0);
    let messages = format!("/api/v1/workspaces/{workspace}/messages");
    let posted = send(&mut olli, Method::POST, &messages, Some(json!({"body": "Ennen suostumusta"})), None).await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);

    // Before the customer decides, the workspace does not exist for Ville.
    let here = format!("/api/v1/workspaces/{workspace}");
    let mails_before = storage.mails().len();
    let request = propose(&mut olli, &workspace, &tessa_id, &b).await;
    for path in [here.clone(), messages.clone(), format!("{here}/members"), format!("{here}/files")] {
        assert_eq!(ville.get(&path).await.status, 404, "{path} before acceptance");
    }
    let mine = ville.get("/api/v1/workspaces").await;
    assert!(items(&mine).iter().all(|w| w["id"] != workspace.as_str()), "listed before acceptance");
    let refused = send(&mut ville, Method::POST, &messages, Some(json!({"body": "Hei"})), None).await;
    assert_eq!(refused.status, 404);

    // Tessa is told in the app and by a mail that names no one and gives no reason; both follow
    // the request through the event, a moment after it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let notified = tessa.get("/api/v1/notifications").await;
        if items(&notified).iter().any(|n| n["kind"] == "consent-requested" && n["subject_id"] == request.as_str()) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no consent-requested notification: {:?}", notified.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let consent_mail = |mail: &String| readable(mail).contains("Ohjaajasi ehdottaa");
    let mut mails = storage.wait_for_mails(mails_before + 1).await;
    while !mails.iter().any(consent_mail) {
        assert!(std::time::Instant::now() < deadline, "no consent mail among {} mails", mails.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
        mails = storage.mails();
    }
    let mail = mails.iter().find(|m| consent_mail(m)).unwrap();
    assert!(recipient(mail).contains("tessa@example.fi"), "{mail}");
    for secret in [PURPOSE, "Ville", "Valvoja", "Monialainen"] {
        assert!(!readable(mail).contains(secret), "the mail carries {secret:?}");
    }

    // Tessa accepts; Ville is in as soon as the effect arrives, and sees the earlier message.
    let accepted = send(
        &mut tessa,
        Method::POST,
        &format!("/api/v1/consents/{request}/accept"),
        Some(json!({"from_now_on_only": false})),
        Some("\"1\""),
    )
    .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    until_status(&mut ville, &here, 200, Duration::from_secs(10)).await;
    assert_eq!(bodies(&ville.get(&messages).await), ["Ennen suostumusta"]);
    let mine = ville.get("/api/v1/workspaces").await;
    assert!(items(&mine).iter().any(|w| w["id"] == workspace.as_str()), "not listed after acceptance");
    let reply = send(&mut ville, Method::POST, &messages, Some(json!({"body": "Ville tässä, hei"})), None).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(bodies(&tessa.get(&messages).await), ["Ennen suostumusta", "Ville tässä, hei"]);
    let members = items(&tessa.get(&format!("{here}/members")).await);
    let experts: Vec<&Value> = members.iter().filter(|m| m["role"] == "expert").collect();
    assert_eq!(experts.len(), 1, "{members:?}");
    assert_eq!(experts[0]["name"], "Ville Valvoja");
    let olli_sees = olli.get("/api/v1/notifications").await;
    assert!(items(&olli_sees).iter().any(|n| n["kind"] == "consent-accepted" && n["subject_id"] == request.as_str()));

    // A second expert proposed and rejected changes nothing: Noora (A's other guide) stays out.
    list_in_directory(&system, &a, "noora.neuvoja").await;
    let noora_request = {
        let body = json!({"customer_id": tessa_id, "expert_id": a.person("noora.neuvoja"),
            "expert_organization_id": a.id, "purpose": "Toinen näkökulma", "language": "fi"});
        let created =
            send(&mut olli, Method::POST, &format!("/api/v1/workspaces/{workspace}/consents"), Some(body), None).await;
        created.id()
    };
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    let rejected =
        send(&mut tessa, Method::POST, &format!("/api/v1/consents/{noora_request}/reject"), None, Some("\"1\"")).await;
    assert_eq!(rejected.status, 200, "{:?}", rejected.body);
    let stale = send(
        &mut tessa,
        Method::POST,
        &format!("/api/v1/consents/{noora_request}/accept"),
        Some(json!({"from_now_on_only": false})),
        Some("\"1\""),
    )
    .await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(noora.get(&here).await.status, 404);
    assert_eq!(items(&tessa.get(&format!("{here}/members")).await), members, "a rejection changed the members");

    // Tessa withdraws while Ville has the live stream open: within a second every request of
    // Ville's is refused and her stream ends.
    let mut live = listen(&ville, &workspace).await;
    let withdrawn =
        send(&mut tessa, Method::POST, &format!("/api/v1/consents/{request}/withdraw"), None, Some("\"2\"")).await;
    assert_eq!(withdrawn.status, 200, "{:?}", withdrawn.body);
    let took = until_status(&mut ville, &here, 404, Duration::from_secs(1)).await;
    eprintln!("access ended {took:?} after the withdrawal answered");
    for path in [messages.clone(), format!("{here}/members"), format!("{here}/items?kind=task")] {
        assert_eq!(ville.get(&path).await.status, 404, "{path} after withdrawal");
    }
    assert_eq!(send(&mut ville, Method::POST, &messages, Some(json!({"body": "Vielä"})), None).await.status, 404);
    let ended = tokio::time::timeout(Duration::from_secs(1), async { while live.recv().await.is_some() {} }).await;
    assert!(ended.is_ok(), "Ville's live stream was still open a second after the withdrawal");

    // The access log tells Tessa who came and went, once each.
    let log = tessa.get(&format!("{here}/access-log?page_size=100")).await;
    assert_eq!(log_entries(&log, "consent-joined"), 1, "{:?}", log.body);
    assert_eq!(log_entries(&log, "consent-withdrawn"), 1, "{:?}", log.body);
    let members = items(&tessa.get(&format!("{here}/members")).await);
    assert!(members.iter().all(|m| m["role"] != "expert"), "{members:?}");
}

async fn from_now_on_only_in_a_group(backend: Backend) {
    let (storage, system, a, b) = two_organisations(backend, &[]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": a.id, "office_id": a.office, "kind": "group", "title": "Ryhmä"}),
    )
    .await
    .id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    let mut uolevi = join(&system, &storage, &mut olli, &workspace, "040265-9985", "uolevi@example.fi").await;
    let here = format!("/api/v1/workspaces/{workspace}");
    let messages = format!("{here}/messages");
    let post = |text: &str| Some(json!({"body": text}));
    assert_eq!(send(&mut olli, Method::POST, &messages, post("Tiedote ennen"), None).await.status, 201);
    assert_eq!(send(&mut tessa, Method::POST, &messages, post("Tessa ennen"), None).await.status, 201);
    assert_eq!(send(&mut uolevi, Method::POST, &messages, post("Uolevi ennen"), None).await.status, 201);
    let summary =
        send(&mut olli, Method::PUT, &format!("{here}/summary"), Some(json!({"text": "Yhteenveto ennen"})), None).await;
    assert_eq!(summary.status, 200, "{:?}", summary.body);
    // Time passes between the summary and the decision (the test clock stands still otherwise).
    system.clock.advance(chrono::Duration::minutes(1));
    // In a group each customer's member list names themselves only among the customers.
    let tessa_id = customer_ids(&mut tessa, &workspace).await.remove(0);
    let uolevi_id = customer_ids(&mut uolevi, &workspace).await.remove(0);

    let request = propose(&mut olli, &workspace, &tessa_id, &b).await;
    // Uolevi is not asked and does not see Tessa's request.
    assert!(items(&uolevi.get(&format!("{here}/consents")).await).is_empty());
    let accepted = send(
        &mut tessa,
        Method::POST,
        &format!("/api/v1/consents/{request}/accept"),
        Some(json!({"from_now_on_only": true})),
        Some("\"1\""),
    )
    .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert!(accepted.body["visible_from"].is_string(), "{:?}", accepted.body);
    until_status(&mut ville, &here, 200, Duration::from_secs(10)).await;

    // Nothing from before the acceptance; afterwards the announcements and Tessa's thread only.
    assert!(bodies(&ville.get(&messages).await).is_empty());
    let hidden = ville.get(&format!("{here}/summary")).await;
    assert_eq!(hidden.status, 200, "{:?}", hidden.body);
    assert_eq!(hidden.body["text"], "", "the summary written before the acceptance showed");
    assert_eq!(send(&mut olli, Method::POST, &messages, post("Tiedote jälkeen"), None).await.status, 201);
    assert_eq!(send(&mut uolevi, Method::POST, &messages, post("Uolevi jälkeen"), None).await.status, 201);
    assert_eq!(send(&mut tessa, Method::POST, &messages, post("Tessa jälkeen"), None).await.status, 201);
    assert_eq!(bodies(&ville.get(&messages).await), ["Tiedote jälkeen", "Tessa jälkeen"]);

    // Ville writes to Tessa's thread: Tessa reads it, Uolevi does not; Uolevi's thread is closed.
    assert_eq!(send(&mut ville, Method::POST, &messages, post("Villen vastaus"), None).await.status, 201);
    assert!(bodies(&tessa.get(&messages).await).contains(&"Villen vastaus".to_owned()));
    assert!(!bodies(&uolevi.get(&messages).await).contains(&"Villen vastaus".to_owned()));
    let into_uolevi = json!({"body": "Uoleville", "thread_id": uolevi_id});
    let refused = send(&mut ville, Method::POST, &messages, Some(into_uolevi), None).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let members = items(&ville.get(&format!("{here}/members")).await);
    assert!(members.iter().any(|m| m["id"] == tessa_id.as_str()));
    assert!(members.iter().all(|m| m["id"] != uolevi_id.as_str()), "Ville sees Uolevi: {members:?}");

    // Olli, the owner, ends Ville's participation: Ville is out at once and Tessa is told.
    let ended = send(&mut olli, Method::POST, &format!("/api/v1/consents/{request}/end"), None, Some("\"2\"")).await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);
    until_status(&mut ville, &here, 404, Duration::from_secs(1)).await;
    assert_eq!(ville.get(&messages).await.status, 404);
    let told = tessa.get("/api/v1/notifications").await;
    assert!(items(&told).iter().any(|n| n["kind"] == "consent-ended" && n["subject_id"] == request.as_str()));
    let log = tessa.get(&format!("{here}/access-log?page_size=100")).await;
    assert_eq!(log_entries(&log, "participation-ended"), 1, "{:?}", log.body);
    // Uolevi's access log shows the experts' entries but none of Tessa's reads.
    let uolevi_log = uolevi.get(&format!("{here}/access-log?page_size=100")).await;
    assert!(items(&uolevi_log).iter().all(|e| e["actor_id"] != tessa_id.as_str()), "Uolevi sees Tessa's reads");
}

/// A consented expert is mailed about new messages like the workspace's guides (at the address
/// their own organisation keeps). A customer of another workspace asking for this workspace's
/// consents is answered not-found by the consent service itself, and the check that settles it
/// is not a read of the workspace's customer: her access log does not grow when she lists them.
async fn a_consented_expert_is_mailed_and_outsiders_meet_not_found_in_consent(backend: Backend) {
    let (storage, system, a, b) = two_organisations(backend, &[]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;
    let open =
        |title: &str| json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": title});
    let workspace = open_workspace(&mut olli, open("Monialainen")).await.id();
    let elsewhere = open_workspace(&mut olli, open("Toinen")).await.id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    let mut uolevi = join(&system, &storage, &mut olli, &elsewhere, "040265-9985", "uolevi@example.fi").await;
    let tessa_id = customer_ids(&mut olli, &workspace).await.remove(0);
    let uolevi_id = customer_ids(&mut olli, &elsewhere).await.remove(0);
    let here = format!("/api/v1/workspaces/{workspace}");
    let request = propose(&mut olli, &workspace, &tessa_id, &b).await;
    let accept = json!({"from_now_on_only": false});
    let accepted =
        send(&mut tessa, Method::POST, &format!("/api/v1/consents/{request}/accept"), Some(accept), Some("\"1\""))
            .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    until_status(&mut ville, &here, 200, Duration::from_secs(10)).await;

    // Tessa writes; Ville is told by mail, as Olli is.
    let posted =
        send(&mut tessa, Method::POST, &format!("{here}/messages"), Some(json!({"body": "Hei molemmille"})), None)
            .await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mailed = |address: &str| {
        storage.mails().iter().any(|m| recipient(m).contains(address) && readable(m).contains("viesti"))
    };
    while !(mailed("ville.valvoja@demo.fi") && mailed("olli.ohjaaja@demo.fi")) {
        assert!(std::time::Instant::now() < deadline, "no new-message mail to the consented expert and the guide");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Uolevi, a customer of another workspace, meets not-found: through the API and from the
    // consent service itself.
    for path in [format!("{here}/consents"), format!("{here}/consents/{request}")] {
        assert_eq!(uolevi.get(&path).await.status, 404, "{path}");
    }
    let uolevi_principal = Principal::Customer { customer_id: Uuid::parse_str(&uolevi_id).unwrap() };
    let channel = tonic::transport::Endpoint::from_shared(system.grpc.clone()).unwrap().connect().await.unwrap();
    let header = format!("Bearer {}", system.service_token(&uolevi_principal));
    let mut consent = ConsentServiceClient::with_interceptor(channel, move |mut r: tonic::Request<()>| {
        r.metadata_mut().insert("authorization", header.parse().unwrap());
        Ok(r)
    });
    let asked = consent
        .list_consent_requests(consent_pb::ListConsentRequestsRequest { workspace_id: workspace.clone() })
        .await
        .unwrap_err();
    assert_eq!(asked.code(), tonic::Code::NotFound, "{asked:?}");

    // Tessa lists her consents: the membership check is no read of hers in the access log.
    let log = format!("{here}/access-log?page_size=100");
    let tessas = |reply: &Reply| items(reply).iter().filter(|e| e["actor_id"] == tessa_id.as_str()).count();
    let before = tessas(&olli.get(&log).await);
    let listed = tessa.get(&format!("{here}/consents")).await;
    assert_eq!(items(&listed).len(), 1, "{:?}", listed.body);
    assert_eq!(tessas(&olli.get(&log).await), before);
}

/// Server backend only: the decision's effect travels through NATS. The consent service, the
/// workspaces service and the broker are each stopped between a decision and its effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_between_a_decision_and_its_effect_lose_nothing() {
    // The broker's store lives in a folder of the test's own.
    let store = tempfile::tempdir().unwrap();
    let mut nats = NatsPeer::start(store.path()).await;
    let on_peer = [("OHJAUS__BUS__NATS_URL", nats.url())];
    let (storage, system, a, b) = two_organisations(Backend::Server, &on_peer).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": "Katkoja"}),
    )
    .await
    .id();
    join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    let tessa_id = customer_ids(&mut olli, &workspace).await.remove(0);
    let request = propose(&mut olli, &workspace, &tessa_id, &b).await;
    drop(olli);
    let storage = system.stop().await;

    // The workspaces service is down while Tessa accepts; then the consent service stops too,
    // and so does the broker, before anything reaches workspaces.
    let partial = TestSystem::start_targets(
        storage.clone(),
        vec![Target::Gateway, Target::Identity, Target::Tenants, Target::Consent, Target::Forms],
        &on_peer,
    )
    .await;
    let mut tessa = logged_in(&partial, "customer", "010280-952L").await;
    let accepted = send(
        &mut tessa,
        Method::POST,
        &format!("/api/v1/consents/{request}/accept"),
        Some(json!({"from_now_on_only": false})),
        Some("\"1\""),
    )
    .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    drop(tessa);
    // The outbox relay publishes at once; give it a moment before the consent service stops.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let storage = partial.stop().await;
    nats.restart().await;

    // Everything back: the membership appears, once.
    let system = TestSystem::start_on(storage.clone(), &on_peer).await;
    let here = format!("/api/v1/workspaces/{workspace}");
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;
    until_status(&mut ville, &here, 200, Duration::from_secs(20)).await;
    let mut tessa = logged_in(&system, "customer", "010280-952L").await;
    let experts = |members: &Reply| items(members).iter().filter(|m| m["role"] == "expert").count();
    assert_eq!(experts(&tessa.get(&format!("{here}/members")).await), 1);

    // The broker dies while Tessa withdraws: the decision is kept and takes effect when it is
    // back.
    nats.stop();
    let withdrawn =
        send(&mut tessa, Method::POST, &format!("/api/v1/consents/{request}/withdraw"), None, Some("\"2\"")).await;
    assert_eq!(withdrawn.status, 200, "{:?}", withdrawn.body);
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.restart().await;
    let took = until_status(&mut ville, &here, 404, Duration::from_secs(30)).await;
    eprintln!("withdrawal took effect {took:?} after the broker came back");

    // Once more from the start: nothing is applied again.
    drop((ville, tessa));
    let storage = system.stop().await;
    let system = TestSystem::start_on(storage, &on_peer).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut tessa = logged_in(&system, "customer", "010280-952L").await;
    assert_eq!(experts(&tessa.get(&format!("{here}/members")).await), 0);
    let log = tessa.get(&format!("{here}/access-log?page_size=100")).await;
    assert_eq!(log_entries(&log, "consent-joined"), 1, "{:?}", log.body);
    assert_eq!(log_entries(&log, "consent-withdrawn"), 1, "{:?}", log.body);
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;
    assert_eq!(ville.get(&here).await.status, 404);
}
