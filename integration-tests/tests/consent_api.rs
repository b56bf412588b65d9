//! Consent to multi-professional guidance through HTTP: an owner guide of one organisation
//! proposes an expert of another; the customer sees who, why and that organisation's
//! controller data, and accepts, rejects or withdraws with the version she saw; the owner guide
//! ends a participation; strangers find nothing; bad input stores nothing; the ledger is
//! exported to the customer (her entries) and the controller's main user (all) and verifies.

use std::sync::Arc;

use ohjaus_integration_tests::{BUSINESS_IDS, Backend, Reply, Storage, TestSystem};
use reqwest::Method;
use serde_json::json;

use crate::support::{EXPERTS, items, join, list_in_directory, logged_in, open_workspace, organisation_with, send};

on_both_backends!(a_customer_decides_on_a_proposed_expert_and_the_ledger_keeps_it);

fn assert_problem(reply: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    assert_eq!(reply.body["type"], format!("urn:ohjaus:problem:{code}"), "{what}: {:?}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{what}");
}

async fn a_customer_decides_on_a_proposed_expert_and_the_ledger_keeps_it(backend: Backend) {
    let storage = Arc::new(Storage::new(backend).await);
    let system = TestSystem::start_on(storage.clone(), &[]).await;
    let a = organisation_with(&system, BUSINESS_IDS[0], &EXPERTS).await;
    let b = organisation_with(
        &system,
        BUSINESS_IDS[1],
        &[("Ville Valvoja", "ville.valvoja", "guide"), ("Greta Vieras", "greta.vieras", "advisor")],
    )
    .await;
    // Only experts their organisation lists in its directory can be proposed.
    list_in_directory(&system, &a, "noora.neuvoja").await;
    for expert in ["ville.valvoja", "greta.vieras"] {
        list_in_directory(&system, &b, expert).await;
    }
    let mut olli = logged_in(&system, "expert", "olli.ohjaaja").await;
    let mut noora = logged_in(&system, "expert", "noora.neuvoja").await;
    let mut maija = logged_in(&system, "expert", "maija.paakayttaja").await;
    let mut ville = logged_in(&system, "expert", "ville.valvoja").await;

    let workspace = open_workspace(
        &mut olli,
        json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": "Monialainen"}),
    )
    .await
    .id();
    let other_workspace = open_workspace(
        &mut olli,
        json!({"organization_id": a.id, "office_id": a.office, "kind": "personal", "title": "Toinen"}),
    )
    .await
    .id();
    let mut tessa = join(&system, &storage, &mut olli, &workspace, "010280-952L", "tessa@example.fi").await;
    let mut other_customer =
        join(&system, &storage, &mut olli, &other_workspace, "010675-9981", "toinen@example.fi").await;
    let members = olli.get(&format!("/api/v1/workspaces/{workspace}/members")).await;
    let tessa_id = items(&members).iter().find(|m| m["kind"] == "customer").unwrap()["id"].as_str().unwrap().to_owned();

    let consents = format!("/api/v1/workspaces/{workspace}/consents");
    let proposal = |expert: String, organization: &str, purpose: &str| {
        json!({"customer_id": tessa_id, "expert_id": expert, "expert_organization_id": organization,
               "purpose": purpose, "language": "fi"})
    };
    let purpose = "Työkokeilun suunnittelu yhdessä TE-palveluiden kanssa";

    // Olli, the owner guide, proposes Ville of organisation B; a retry with the same key gives
    // the same request.
    let body = proposal(b.person("ville.valvoja"), &b.id, purpose);
    let key = [("x-csrf-token", olli.csrf()), ("idempotency-key", "propose-ville".to_owned())];
    let created = olli.request(Method::POST, &system.url(&consents), Some(body.clone()), &key).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let first = created.id();
    assert_eq!(created.header("location"), Some(format!("/api/v1/workspaces/{workspace}/consents/{first}").as_str()));
    assert_eq!(created.body["state"], "pending");
    let again = olli.request(Method::POST, &system.url(&consents), Some(body), &key).await;
    assert_eq!((again.status, again.id()), (201, first.clone()), "{:?}", again.body);
    let one = olli.get(&format!("{consents}/{first}")).await;
    assert_eq!((one.status, one.header("etag")), (200, Some("\"1\"")), "{:?}", one.body);

    // To anyone else than the owner guide and the customer asked, none of it exists.
    let accept_first = format!("/api/v1/consents/{first}/accept");
    let decision = Some(json!({"from_now_on_only": false}));
    for (who, browser) in
        [("other guide", &mut noora), ("main user", &mut maija), ("other customer", &mut other_customer)]
    {
        assert_problem(&browser.get(&consents).await, 404, "not-found", &format!("{who} lists"));
        assert_problem(&browser.get(&format!("{consents}/{first}")).await, 404, "not-found", &format!("{who} reads"));
        let refused = send(browser, Method::POST, &accept_first, decision.clone(), Some("\"1\"")).await;
        assert_problem(&refused, 404, "not-found", &format!("{who} accepts"));
        let refused = send(browser, Method::POST, &format!("/api/v1/consents/{first}/end"), None, Some("\"1\"")).await;
        assert_problem(&refused, 404, "not-found", &format!("{who} ends"));
    }
    let operator = system.operator();
    assert_problem(&operator.get(&consents).await, 404, "not-found", "operator lists");
    let refused =
        operator.send(Method::POST, &accept_first, decision.clone(), &[("if-match", "\"1\"".to_owned())]).await;
    assert_problem(&refused, 404, "not-found", "operator accepts");

    // Tessa sees who is proposed, why, and organisation B's controller data before deciding.
    let listed = items(&tessa.get(&consents).await);
    assert_eq!(listed.len(), 1);
    let seen = &listed[0];
    assert_eq!(seen["id"], first.as_str());
    assert_eq!(seen["expert_name"], "Ville Valvoja");
    assert_eq!(seen["expert_roles"], json!(["guide"]));
    assert_eq!(seen["expert_organization_name"]["fi"], "Ohjaamo (fi)");
    assert_eq!(seen["purpose"], purpose);
    assert_eq!(seen["language"], "fi");
    assert_eq!(seen["customer_id"], tessa_id.as_str());
    let controller = &seen["expert_organization"];
    assert_eq!(controller["id"], b.id.as_str());
    assert_eq!(controller["business_id"], BUSINESS_IDS[1]);
    assert_eq!(controller["privacy_notice_url"]["fi"], "https://example.fi/tietosuoja");
    assert_eq!(controller["data_request_url"], "https://example.fi/tietopyynto");
    assert_eq!(controller["data_protection_officer"]["email"], "dpo@example.fi");

    // Deciding needs the version: none is 428, in the caller's language; a stale one is 412.
    tessa.language = "fi";
    let unversioned_fi = send(&mut tessa, Method::POST, &accept_first, decision.clone(), None).await;
    assert_problem(&unversioned_fi, 428, "precondition-required", "accept without If-Match (fi)");
    tessa.language = "en";
    let unversioned_en = send(&mut tessa, Method::POST, &accept_first, decision.clone(), None).await;
    assert_problem(&unversioned_en, 428, "precondition-required", "accept without If-Match (en)");
    assert_eq!(unversioned_en.body["title"], "Version missing");
    assert_ne!(unversioned_fi.body["title"], unversioned_en.body["title"]);
    let stale = send(&mut tessa, Method::POST, &accept_first, decision.clone(), Some("\"7\"")).await;
    assert_problem(&stale, 412, "version-mismatch", "accept with a stale version");
    assert_eq!(items(&tessa.get(&consents).await)[0]["state"], "pending");

    // She accepts with the version she saw; the same version again is stale.
    let accepted = send(&mut tessa, Method::POST, &accept_first, decision.clone(), Some("\"1\"")).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_eq!(accepted.header("etag"), Some("\"2\""));
    assert_eq!((accepted.body["state"].as_str(), accepted.body["version"].as_i64()), (Some("accepted"), Some(2)));
    assert!(accepted.body["decided_at"].is_string());
    let twice = send(&mut tessa, Method::POST, &accept_first, decision.clone(), Some("\"1\"")).await;
    assert_problem(&twice, 412, "version-mismatch", "second accept with the old version");

    // A second proposal (Greta of B) is rejected; nothing else changes.
    let second = send(
        &mut olli,
        Method::POST,
        &consents,
        Some(proposal(b.person("greta.vieras"), &b.id, "Opintojen suunnittelu")),
        None,
    )
    .await;
    assert_eq!(second.status, 201, "{:?}", second.body);
    assert_eq!(second.body["expert_roles"], json!(["advisor"]));
    let second = second.id();
    let before = items(&tessa.get(&consents).await);
    assert_eq!(before.len(), 2);
    let rejected =
        send(&mut tessa, Method::POST, &format!("/api/v1/consents/{second}/reject"), None, Some("\"1\"")).await;
    assert_eq!((rejected.status, rejected.header("etag")), (200, Some("\"2\"")), "{:?}", rejected.body);
    assert_eq!(rejected.body["state"], "rejected");
    let after = items(&tessa.get(&consents).await);
    assert_eq!(after[0], before[0], "the accepted request is untouched");
    assert_eq!(after[1]["state"], "rejected");

    // Tessa withdraws her consent with the version she saw.
    let withdraw = format!("/api/v1/consents/{first}/withdraw");
    let unversioned = send(&mut tessa, Method::POST, &withdraw, None, None).await;
    assert_problem(&unversioned, 428, "precondition-required", "withdraw without If-Match");
    let withdrawn = send(&mut tessa, Method::POST, &withdraw, None, Some("\"2\"")).await;
    assert_eq!((withdrawn.status, withdrawn.header("etag")), (200, Some("\"3\"")), "{:?}", withdrawn.body);
    assert_eq!(withdrawn.body["state"], "withdrawn");
    assert!(withdrawn.body["ended_at"].is_string());

    // Olli proposes Noora of his own organisation (no other controller to show) and ends it.
    let third = send(
        &mut olli,
        Method::POST,
        &consents,
        Some(proposal(a.person("noora.neuvoja"), &a.id, "Asumisen tuki")),
        None,
    )
    .await;
    assert_eq!(third.status, 201, "{:?}", third.body);
    assert!(third.body.get("expert_organization").is_none(), "{:?}", third.body);
    let third = third.id();
    let ended = send(&mut olli, Method::POST, &format!("/api/v1/consents/{third}/end"), None, Some("\"1\"")).await;
    assert_eq!((ended.status, ended.header("etag")), (200, Some("\"2\"")), "{:?}", ended.body);
    assert_eq!(ended.body["state"], "ended");
    let all = items(&olli.get(&consents).await);
    let states: Vec<&str> = all.iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["withdrawn", "rejected", "ended"]);

    // Bad input names the field and stores nothing.
    let ville_id = b.person("ville.valvoja");
    for (what, body, field) in [
        ("purpose too long", proposal(ville_id.clone(), &b.id, &"x".repeat(2001)), "purpose"),
        ("purpose empty", proposal(ville_id.clone(), &b.id, "  "), "purpose"),
        (
            "unknown language",
            {
                let mut body = proposal(ville_id.clone(), &b.id, purpose);
                body["language"] = json!("de");
                body
            },
            "language",
        ),
        (
            "customer id not a uuid",
            {
                let mut body = proposal(ville_id.clone(), &b.id, purpose);
                body["customer_id"] = json!("not-a-uuid");
                body
            },
            "customer_id",
        ),
        ("expert id not a uuid", proposal("12345".to_owned(), &b.id, purpose), "expert_id"),
    ] {
        let refused = send(&mut olli, Method::POST, &consents, Some(body), None).await;
        assert_problem(&refused, 422, "invalid-argument", what);
        assert_eq!(refused.error_fields(), [field], "{what}");
        assert!(refused.body["errors"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
    }
    assert_eq!(items(&olli.get(&consents).await), all, "nothing stored by bad input");

    // The ledger: Tessa's entries for her, every entry for A's main user; both verify.
    let ledger = format!("/api/v1/workspaces/{workspace}/consent-ledger");
    let expected = ["requested", "accepted", "requested", "rejected", "withdrawn", "requested", "ended"];
    for (who, browser) in [("customer", &mut tessa), ("main user", &mut maija)] {
        let export = browser.get(&ledger).await;
        assert_eq!(export.status, 200, "{who}: {:?}", export.body);
        assert_eq!(export.body["workspace_id"], workspace.as_str());
        assert_eq!(export.body["organization_id"], a.id.as_str());
        let entries = export.body["entries"].as_array().unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, expected, "{who}");
        assert!(entries.iter().all(|e| e["customer_id"] == tessa_id.as_str()), "{who}");
        assert_eq!(entries[0]["purpose"], purpose, "{who}");
        assert_eq!(entries[0]["actor_kind"], "expert", "{who}");
        assert_eq!(entries[1]["actor_kind"], "customer", "{who}");
        assert_eq!(export.body["verification"], json!({"ok": true, "entries": 7}), "{who}");
        let verified = browser.get(&format!("{ledger}/verification")).await;
        assert_eq!((verified.status, &verified.body), (200, &json!({"ok": true, "entries": 7})), "{who}");
    }
    // Nobody else exports it, not even the expert it was about.
    for (who, browser) in
        [("B's expert", &mut ville), ("other guide", &mut noora), ("other customer", &mut other_customer)]
    {
        assert_problem(&browser.get(&ledger).await, 404, "not-found", &format!("{who} exports"));
        assert_problem(
            &browser.get(&format!("{ledger}/verification")).await,
            404,
            "not-found",
            &format!("{who} verifies"),
        );
    }
    assert_problem(&operator.get(&ledger).await, 404, "not-found", "operator exports");
}
