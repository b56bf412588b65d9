//! The batched "you have new messages" mail: it counts messages and nothing else, and with two
//! replicas of the workspaces target on one database each batch goes out exactly once.

use std::{sync::Arc, time::Duration};

use ohjaus::{Options, Target};
use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Browser, Caller, Storage, TestSystem};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    proto::workspaces::v1::{CreateInvitationRequest, workspaces_service_client::WorkspacesServiceClient},
};
use reqwest::Method;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{
    Org, accept, items, join, logged_in, open_workspace, organisation, organisation_with, readable, recipient, token_in,
};

on_both_backends!(the_new_message_mail_counts_messages_only);

/// The first lines of the batched mail, singular, by language.
const ONE_NEW_MESSAGE: [&str; 3] =
    ["Sinulle on uusi viesti", "Du har ett nytt meddelande", "There is a new message for you"];

fn mails_to(storage: &Storage, address: &str) -> Vec<String> {
    storage.mails().into_iter().filter(|m| recipient(m).contains(address)).map(|m| readable(&m)).collect()
}

async fn the_new_message_mail_counts_messages_only(backend: Backend) {
    let system = TestSystem::start(backend).await;
    let (org, office) = organisation(&system, BUSINESS_IDS[0]).await;
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let id = open_workspace(
        &mut olli,
        json!({"organization_id": org, "office_id": office, "kind": "personal", "title": "Laskut"}),
    )
    .await
    .id();
    let mut tessa = join(&system, &system.storage, &mut olli, &id, "010280-952L", "tessa@example.fi").await;

    // Tessa's acceptance is a notification in the app, but no message: no mail about it, after
    // more than one round of the mail worker.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(mails_to(&system.storage, "olli.ohjaaja@demo.fi"), Vec::<String>::new());

    // One message from Tessa: one new message, says the mail.
    let posted = tessa
        .send_with_csrf(Method::POST, &format!("/api/v1/workspaces/{id}/messages"), Some(json!({"body": "Hei!"})))
        .await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mail = loop {
        if let Some(mail) = mails_to(&system.storage, "olli.ohjaaja@demo.fi").pop() {
            break mail;
        }
        assert!(std::time::Instant::now() < deadline, "no mail to the guide");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(ONE_NEW_MESSAGE.iter().any(|text| mail.contains(text)), "{mail}");
    assert!(!mail.contains(" 2 "), "{mail}");
    // The app still lists both.
    let notifications = olli.get("/api/v1/notifications").await;
    assert_eq!(notifications.body["unread"], 2, "{:?}", notifications.body);
    let kinds: Vec<String> =
        items(&notifications).iter().map(|n| n["kind"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(kinds, ["message", "invitation-accepted"]);
}

/// How many guides the replicas' batches race for.
const GUIDES: usize = 8;

fn guide_of(org: &Org, n: usize) -> Principal {
    Principal::Expert {
        person_id: org.person_uuid(&format!("ohjaaja.{n}")),
        memberships: vec![Membership { tenant_id: org.uuid(), roles: vec![Role::Guide] }],
    }
}

/// `guide` invites `email` to `workspace`; the invitation's secret from the mail.
async fn invite(system: &TestSystem, guide: &Caller<'_>, workspace: &str, email: &str) -> String {
    let invited = guide.post(&format!("/api/v1/workspaces/{workspace}/invitations"), json!({"email": email})).await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(mail) = system.storage.mails().iter().find(|m| recipient(m).contains(email)) {
            return token_in(mail);
        }
        assert!(std::time::Instant::now() < deadline, "no invitation mail to {email}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts one message from `customer` to each workspace.
async fn post_to_each(customer: &mut Browser<'_>, workspaces: &[String], body: &str) {
    for id in workspaces {
        let path = format!("/api/v1/workspaces/{id}/messages");
        let posted = customer.send_with_csrf(Method::POST, &path, Some(json!({"body": body}))).await;
        assert_eq!(posted.status, 201, "{:?}", posted.body);
    }
}

/// Waits until every address has at least `count` mails.
async fn until_each_has(storage: &Storage, addresses: &[String], count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while addresses.iter().any(|a| mails_to(storage, a).len() < count) {
        assert!(std::time::Instant::now() < deadline, "not every guide got {count} mails");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two replicas of the workspaces target on one PostgreSQL database, each with its own mail
/// worker: every batch is claimed by one of them, so each guide gets each mail once. The
/// replicas are woken at the same moment (by an invitation each), after the batch window
/// passed for all the guides at once, so both go for the same batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_send_each_batched_mail_once() {
    let storage = Arc::new(Storage::new(Backend::Server).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let settings = storage.settings(&[
        ("OHJAUS__SERVICES__TENANTS__ADDRESS", system.grpc.clone()),
        ("OHJAUS__SERVICES__IDENTITY__ADDRESS", system.grpc.clone()),
    ]);
    let replica = ohjaus::start(
        &settings,
        Options { targets: vec![Target::Workspaces], clock: Arc::new(system.clock.clone()), migrate: false },
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let replica_grpc = format!("http://{}", replica.grpc_addr.unwrap());

    let staff: Vec<(String, String)> = (0..GUIDES).map(|n| (format!("Ohjaaja {n}"), format!("ohjaaja.{n}"))).collect();
    let staff: Vec<(&str, &str, &str)> = staff.iter().map(|(name, id)| (name.as_str(), id.as_str(), "guide")).collect();
    let org = organisation_with(&system, BUSINESS_IDS[1], &staff).await;
    let addresses: Vec<String> = (0..GUIDES).map(|n| format!("ohjaaja.{n}@demo.fi")).collect();

    // Each guide opens a workspace and Tessa joins every one of them.
    let mut tessa = Browser::new(&system);
    let mut workspaces = Vec::new();
    for n in 0..GUIDES {
        let guide = system.as_principal(&guide_of(&org, n));
        let input = json!({"organization_id": org.id, "office_id": org.office, "kind": "personal", "title": format!("Tila {n}")});
        let id = guide.post("/api/v1/workspaces", input).await.id();
        let token = invite(&system, &guide, &id, &format!("tessa.{n}@example.fi")).await;
        accept(&mut tessa, &token, "010280-952L").await;
        workspaces.push(id);
    }

    // A first message to each: each guide is mailed and their batch window starts.
    post_to_each(&mut tessa, &workspaces, "Ensimmäinen").await;
    until_each_has(&storage, &addresses, 1).await;
    // A second one, within the window: nobody is mailed yet.
    post_to_each(&mut tessa, &workspaces, "Toinen").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Two workspaces that take invitations, one to be used on each replica.
    let spare =
        |title: &str| json!({"organization_id": org.id, "office_id": org.office, "kind": "group", "title": title});
    let first = system.as_principal(&guide_of(&org, 0));
    let spare_a = first.post("/api/v1/workspaces", spare("Ryhmä A")).await.id();
    let spare_b = first.post("/api/v1/workspaces", spare("Ryhmä B")).await.id();

    // The window passes for everyone at once, and both replicas wake (tokens are made after the
    // clock moved, so they are fresh).
    let channel = tonic::transport::Endpoint::from_shared(replica_grpc).unwrap().connect().await.unwrap();
    system.clock.advance(chrono::Duration::minutes(11));
    let first = system.as_principal(&guide_of(&org, 0));
    let token = format!("Bearer {}", system.service_token(&guide_of(&org, 0)));
    let mut on_replica = WorkspacesServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("authorization", token.parse().unwrap());
        Ok(request)
    });
    let spare_a_invitations = format!("/api/v1/workspaces/{spare_a}/invitations");
    let (on_system, on_replica) = tokio::join!(
        first.post(&spare_a_invitations, json!({"email": "herate.a@example.fi"})),
        on_replica.create_invitation(CreateInvitationRequest {
            workspace_id: spare_b,
            email: "herate.b@example.fi".into(),
            ..Default::default()
        }),
    );
    assert_eq!(on_system.status, 201, "{:?}", on_system.body);
    on_replica.unwrap();

    // Each guide gets the second batch once; each invitation goes out once.
    until_each_has(&storage, &addresses, 2).await;
    storage.wait_for_mails(2 * GUIDES + GUIDES + 2).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let counts: Vec<usize> = addresses.iter().map(|a| mails_to(&storage, a).len()).collect();
    assert_eq!(counts, [2; GUIDES], "mails to each guide");
    for address in ["herate.a@example.fi", "herate.b@example.fi"] {
        assert_eq!(mails_to(&storage, address).len(), 1, "{address}");
    }
    assert_eq!(storage.mails().len(), 2 * GUIDES + GUIDES + 2);
    replica.shutdown();
    replica.wait().await.unwrap();
}
