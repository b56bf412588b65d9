//! The ledger on both backends: an untouched chain verifies; a changed field, a removed middle
//! entry, a removed last entry and two swapped numbers are each reported; deleting one
//! workspace's ledger leaves another's verifying.

use ohjaus_consent::domain::ledger::{Problem, Verification};
use uuid::Uuid;

use ohjaus_platform::auth::Principal;

use crate::{
    grpc::{client, delete},
    support::{TestEnv, on_both_backends},
};

on_both_backends!(
    an_untouched_chain_verifies,
    a_changed_field_is_reported,
    a_removed_middle_entry_is_reported,
    a_removed_last_entry_is_reported,
    swapped_numbers_are_reported,
    deleting_one_workspace_leaves_the_others_verifying,
);

const ENTRIES: usize = 5;

async fn an_untouched_chain_verifies(env: TestEnv) {
    let (workspace, _) = env.workspace_with_chain(Uuid::now_v7(), ENTRIES).await;
    let consent = env.consent();
    assert_eq!(consent.verify(workspace).await.unwrap(), Verification::Ok { entries: 5 });
}

fn broken(seq: i64, problem: Problem) -> impl Fn(Verification) -> bool {
    move |v| matches!(v, Verification::Broken { seq: s, problem: p, .. } if s == seq && p == problem)
}

async fn a_changed_field_is_reported(env: TestEnv) {
    let (workspace, _) = env.workspace_with_chain(Uuid::now_v7(), ENTRIES).await;
    // Someone with database access names another actor in entry 3.
    let changed = env
        .db
        .query("UPDATE ledger_entries SET actor_id = $1 WHERE workspace_id = $2 AND seq = 3")
        .bind(Uuid::now_v7().to_string())
        .bind(workspace.as_uuid())
        .execute(&env.db)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let verdict = env.consent().verify(workspace).await.unwrap();
    assert!(broken(3, Problem::Changed)(verdict), "{verdict:?}");
    // The sealed purpose is covered too.
    let (other, _) = env.workspace_with_chain(Uuid::now_v7(), ENTRIES).await;
    env.db
        .query("UPDATE ledger_entries SET purpose_sealed = $1 WHERE workspace_id = $2 AND seq = 2")
        .bind(vec![0_u8; 40])
        .bind(other.as_uuid())
        .execute(&env.db)
        .await
        .unwrap();
    let verdict = env.consent().verify(other).await.unwrap();
    assert!(broken(2, Problem::Changed)(verdict), "{verdict:?}");
}

async fn a_removed_middle_entry_is_reported(env: TestEnv) {
    let (workspace, _) = env.workspace_with_chain(Uuid::now_v7(), ENTRIES).await;
    env.db
        .query("DELETE FROM ledger_entries WHERE workspace_id = $1 AND seq = 3")
        .bind(workspace.as_uuid())
        .execute(&env.db)
        .await
        .unwrap();
    let verdict = env.consent().verify(workspace).await.unwrap();
    assert!(broken(3, Problem::Missing)(verdict), "{verdict:?}");
}

async fn a_removed_last_entry_is_reported(env: TestEnv) {
    let (workspace, _) = env.workspace_with_chain(Uuid::now_v7(), ENTRIES).await;
    env.db
        .query("DELETE FROM ledger_entries WHERE workspace_id = $1 AND seq = 5")
        .bind(workspace.as_uuid())
        .execute(&env.db)
        .await
        .unwrap();
    let verdict = env.consent().verify(workspace).await.unwrap();
    assert!(broken(5, Problem::HeadMismatch)(verdict), "{verdict:?}");
}

async fn swapped_numbers_are_reported(env: TestEnv) {
    let (workspace, _) = env.workspace_with_chain(Uuid::now_v7(), ENTRIES).await;
    for (from, to) in [(2, -2), (4, 2), (-2, 4)] {
        env.db
            .query("UPDATE ledger_entries SET seq = $1 WHERE workspace_id = $2 AND seq = $3")
            .bind(to as i64)
            .bind(workspace.as_uuid())
            .bind(from as i64)
            .execute(&env.db)
            .await
            .unwrap();
    }
    let verdict = env.consent().verify(workspace).await.unwrap();
    assert!(broken(2, Problem::OutOfOrder)(verdict), "{verdict:?}");
}

async fn deleting_one_workspace_leaves_the_others_verifying(env: TestEnv) {
    let organization = Uuid::now_v7();
    let (doomed, _) = env.workspace_with_chain(organization, ENTRIES).await;
    let (kept, _) = env.workspace_with_chain(organization, 3).await;
    let (elsewhere, _) = env.workspace_with_chain(Uuid::now_v7(), 2).await;
    let consent = env.consent();
    let client = client(&env, &consent);
    let retention = Principal::Service { name: "retention".into() };
    let deleted = delete(&client, &retention, doomed, Uuid::now_v7()).await.unwrap();
    assert_eq!(deleted.deleted_entries, 5);
    for table in ["ledger_entries", "ledger_heads", "consent_requests", "workspace_keys"] {
        let left = env
            .db
            .query(&format!("SELECT COUNT(*) AS n FROM {table} WHERE workspace_id = $1"))
            .bind(doomed.as_uuid())
            .fetch_one(&env.db)
            .await
            .unwrap()
            .get::<i64>("n")
            .unwrap();
        assert_eq!(left, 0, "{table}");
    }
    assert_eq!(consent.verify(kept).await.unwrap(), Verification::Ok { entries: 3 });
    assert_eq!(consent.verify(elsewhere).await.unwrap(), Verification::Ok { entries: 2 });
    // Nobody but retention deletes.
    let other = Principal::Service { name: "workspaces".into() };
    assert_eq!(delete(&client, &other, kept, Uuid::now_v7()).await.unwrap_err().code(), tonic::Code::PermissionDenied);
    assert_eq!(consent.verify(kept).await.unwrap(), Verification::Ok { entries: 3 });
}
