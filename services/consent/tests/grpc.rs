//! The ledger's RPCs through the in-process transport (principal tokens signed and verified as
//! between services): who may verify, export and delete a workspace's ledger.

use std::time::Duration;

use ohjaus_consent::{Consent, domain::WorkspaceId};
use ohjaus_platform::{
    auth::{Membership, Principal, Role},
    grpc::{self, Transport},
    proto::consent::v1::{self as pb, consent_service_client::ConsentServiceClient},
};
use tonic::{Code, Request, Status};
use uuid::Uuid;

use crate::support::{TestEnv, on_both_backends};

on_both_backends!(the_controller_and_the_customer_export_and_nobody_else, only_retention_deletes_a_ledger);

pub fn client(env: &TestEnv, consent: &Consent) -> ConsentServiceClient<Transport> {
    ConsentServiceClient::new(grpc::in_process(consent.server(), &env.token_keys(), Duration::from_secs(10)))
}

fn as_<T>(principal: &Principal, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(principal.clone());
    request
}

fn ledger_of(workspace: WorkspaceId) -> pb::WorkspaceLedgerRequest {
    pb::WorkspaceLedgerRequest { workspace_id: workspace.to_string() }
}

pub async fn delete(
    client: &ConsentServiceClient<Transport>,
    principal: &Principal,
    workspace: WorkspaceId,
    deletion: Uuid,
) -> Result<pb::DeleteWorkspaceLedgerResponse, Status> {
    let request =
        pb::DeleteWorkspaceLedgerRequest { workspace_id: workspace.to_string(), deletion_id: deletion.to_string() };
    client.clone().delete_workspace_ledger(as_(principal, request)).await.map(|r| r.into_inner())
}

fn expert(organization: Uuid, roles: Vec<Role>) -> Principal {
    Principal::Expert { person_id: Uuid::now_v7(), memberships: vec![Membership { tenant_id: organization, roles }] }
}

async fn the_controller_and_the_customer_export_and_nobody_else(env: TestEnv) {
    let organization = Uuid::now_v7();
    let (workspace, customer) = env.workspace_with_chain(organization, 4).await;
    let consent = env.consent();
    let mut client = client(&env, &consent);

    let admin = expert(organization, vec![Role::Admin]);
    let export = client.export_ledger(as_(&admin, ledger_of(workspace))).await.unwrap().into_inner();
    assert_eq!(export.organization_id, organization.to_string());
    let seqs: Vec<i64> = export.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let purposes: Vec<&str> = export.entries.iter().map(|e| e.purpose.as_str()).collect();
    assert_eq!(purposes, ["Purpose number 0", "Purpose number 1", "Purpose number 2", "Purpose number 3"]);
    assert_eq!(export.entries[1].action, "accepted");
    assert!(export.entries[1].visible_from.is_some());
    assert_eq!(export.entries[1].prev_mac, export.entries[0].mac);
    assert!(export.verification.as_ref().is_some_and(|v| v.ok && v.entries == 4));

    let me = Principal::Customer { customer_id: customer };
    let mine = client.export_ledger(as_(&me, ledger_of(workspace))).await.unwrap().into_inner();
    assert_eq!(mine.entries.len(), 4);
    assert!(mine.entries.iter().all(|e| e.customer_id == customer.to_string()));
    let verified = client.verify_ledger(as_(&me, ledger_of(workspace))).await.unwrap().into_inner();
    assert!(verified.ok);

    // A guide of the organisation, another organisation's main user, another customer, an
    // operator, and a workspace that does not exist: nothing is there.
    let strangers = [
        expert(organization, vec![Role::Guide]),
        expert(Uuid::now_v7(), vec![Role::Admin]),
        Principal::Customer { customer_id: Uuid::now_v7() },
        Principal::Operator { subject: "ops".into() },
    ];
    for stranger in &strangers {
        let status = client.export_ledger(as_(stranger, ledger_of(workspace))).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{stranger:?}");
        let status = client.verify_ledger(as_(stranger, ledger_of(workspace))).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{stranger:?}");
    }
    let status = client.export_ledger(as_(&admin, ledger_of(WorkspaceId::new()))).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client.export_ledger(Request::new(ledger_of(workspace))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // A tampered chain is reported through the API as well.
    env.db
        .query("DELETE FROM ledger_entries WHERE workspace_id = $1 AND seq = 2")
        .bind(workspace.as_uuid())
        .execute(&env.db)
        .await
        .unwrap();
    let verified = client.verify_ledger(as_(&admin, ledger_of(workspace))).await.unwrap().into_inner();
    assert!(!verified.ok);
    assert_eq!((verified.bad_seq, verified.problem), (2, pb::LedgerProblem::Missing as i32));
}

async fn only_retention_deletes_a_ledger(env: TestEnv) {
    let organization = Uuid::now_v7();
    let (workspace, customer) = env.workspace_with_chain(organization, 3).await;
    let consent = env.consent();
    let client = client(&env, &consent);
    for refused in [
        expert(organization, vec![Role::Admin]),
        Principal::Customer { customer_id: customer },
        Principal::Service { name: "workspaces".into() },
    ] {
        let status = delete(&client, &refused, workspace, Uuid::now_v7()).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    let retention = Principal::Service { name: "retention".into() };
    let malformed = pb::DeleteWorkspaceLedgerRequest { workspace_id: workspace.to_string(), deletion_id: "x".into() };
    let status = client.clone().delete_workspace_ledger(as_(&retention, malformed)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "a deletion names its decision");
    let deletion = Uuid::now_v7();
    assert_eq!(delete(&client, &retention, workspace, deletion).await.unwrap().deleted_entries, 3);
    // The same decision again (retention retries after a crash): the same answer, nothing twice.
    assert_eq!(delete(&client, &retention, workspace, deletion).await.unwrap().deleted_entries, 3);
    // Another decision finds nothing left and is not refused.
    assert_eq!(delete(&client, &retention, workspace, Uuid::now_v7()).await.unwrap().deleted_entries, 0);
    let admin = expert(organization, vec![Role::Admin]);
    let status = client.clone().export_ledger(as_(&admin, ledger_of(workspace))).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}
