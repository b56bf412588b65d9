//! One retention run: the sweeps, the deletion decisions, the deletions themselves, the login
//! audit. Memory stays flat however much is due: everything moves in keyset batches, and a dry
//! run keeps at most [`MAX_PLANNED`] planned actions in its report (the counts stay exact).

use std::{collections::BTreeMap, time::Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use ohjaus_platform::{
    auth::Principal,
    grpc::{Transport, from_timestamp, timestamp},
    ids::new_id,
    proto::{
        consent::v1::{DeleteWorkspaceLedgerRequest, consent_service_client::ConsentServiceClient},
        forms::v1::{
            DeleteStaleSubmissionsRequest, DeleteWorkspaceSubmissionsRequest, forms_service_client::FormsServiceClient,
        },
        identity::v1::{
            DeleteCustomerAccountRequest, PurgeLoginAuditRequest, identity_service_client::IdentityServiceClient,
        },
        retention::v1 as pb,
        surveys::v1::{DeleteWorkspaceAnswersRequest, surveys_service_client::SurveysServiceClient},
        workspaces::v1::{
            CustomerWorkspacesRequest, RetentionAction, RetentionRequest, SweepRetentionRequest,
            workspaces_service_client::WorkspacesServiceClient,
        },
    },
    service::{ServiceError, ServiceResult},
};
use tonic::Request;
use uuid::Uuid;

pub use crate::domain::Periods;
use crate::{
    SERVICE,
    domain::{RULE_ARCHIVED, RULE_CUSTOMER, RULE_LOGIN_AUDIT, RULE_SUBMISSIONS, SweepStep},
    events::DeletionRequested,
    grpc::Retention,
    store::{self, DeletionRow},
};

/// The most planned actions a dry run lists.
pub const MAX_PLANNED: usize = 10_000;

/// How many claimed deletions a run carries out at once (their steps stay in order).
const DELETIONS_AT_ONCE: usize = 8;

/// The services retention asks, and in which order a deletion asks them. A service that comes
/// to hold data about a workspace (forms' submissions, surveys' answers) is one more step.
pub struct Peers {
    pub workspaces: Transport,
    pub consent: Transport,
    pub surveys: Transport,
    pub identity: Transport,
    pub forms: Transport,
}

/// The steps of a workspace's deletion, in order: its content (rows, files, key), its consents
/// and ledger, its survey rounds, the contact-form submissions converted into it, then the
/// account of each customer for whom it was the last workspace.
pub const WORKSPACE_STEPS: [&str; 4] = ["workspaces", "consent", "surveys", "forms"];
pub const IDENTITY_STEP: &str = "identity";

fn as_retention<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(Principal::Service { name: SERVICE.to_owned() });
    request
}

/// What a run did, as it goes.
struct Tally {
    counts: BTreeMap<(&'static str, &'static str), i64>,
    planned: Vec<pb::PlannedAction>,
}

impl Tally {
    fn add(&mut self, rule: &'static str, action: &'static str, n: i64) {
        *self.counts.entry((rule, action)).or_default() += n;
    }

    fn plan(&mut self, workspace: &str, rule: &str, action: &str, since: DateTime<Utc>, due_at: DateTime<Utc>) {
        if self.planned.len() < MAX_PLANNED {
            self.planned.push(pb::PlannedAction {
                workspace_id: workspace.to_owned(),
                rule: rule.to_owned(),
                action: action.to_owned(),
                since: Some(timestamp(since)),
                due_at: Some(timestamp(due_at)),
            });
        }
    }
}

fn peer(service: &'static str) -> impl Fn(tonic::Status) -> ServiceError {
    move |status| ServiceError::peer(service, status.code())
}

impl Retention {
    /// Contact-form submissions that led to no workspace, once their last change is older than
    /// `retention.submission_days`: the forms service deletes them with everything about them
    /// (their keys first) and answers with counts.
    async fn delete_stale_submissions(&self, now: DateTime<Utc>, tally: &mut Tally) -> ServiceResult<()> {
        let before = now - self.periods().submissions;
        let deleted = FormsServiceClient::new(self.peers().forms.clone())
            .delete_stale_submissions(as_retention(DeleteStaleSubmissionsRequest { before: Some(timestamp(before)) }))
            .await
            .map_err(peer("forms"))?
            .into_inner();
        tally.add(RULE_SUBMISSIONS, "delete", deleted.deleted.get("submissions").copied().unwrap_or(0));
        Ok(())
    }

    /// Runs every rule once at the clock's time.
    pub async fn run(&self, dry_run: bool) -> ServiceResult<pb::RunReport> {
        let started = Instant::now();
        let now = self.core().now();
        let mut tally = Tally { counts: BTreeMap::new(), planned: Vec::new() };
        let periods = self.periods();
        let mut phases = std::collections::HashMap::new();
        let mut phase = Instant::now();
        let mut lap = |name: &str, phases: &mut std::collections::HashMap<String, i64>| {
            phases.insert(name.to_owned(), i64::try_from(phase.elapsed().as_millis()).unwrap_or(i64::MAX));
            phase = Instant::now();
        };
        for step in periods.sweeps(now) {
            let started = Instant::now();
            self.sweep(&step, dry_run, &mut tally).await?;
            let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            phases.insert(format!("sweep-{}", step.action), ms);
        }
        lap("sweep", &mut phases);
        self.decide_deletions(now, dry_run, &mut tally).await?;
        lap("decide", &mut phases);
        if !dry_run {
            self.carry_out_deletions(now, &mut tally).await?;
            lap("delete", &mut phases);
            let before = now - periods.login_audit;
            let purged = IdentityServiceClient::new(self.peers().identity.clone())
                .purge_login_audit(as_retention(PurgeLoginAuditRequest { before: Some(timestamp(before)) }))
                .await
                .map_err(peer("identity"))?
                .into_inner();
            tally.add(RULE_LOGIN_AUDIT, "purge", purged.deleted.get("audit_log").copied().unwrap_or(0));
            self.delete_stale_submissions(now, &mut tally).await?;
            lap("audit", &mut phases);
        }
        let oldest = store::oldest_unfinished(self.db()).await?;
        let overdue = oldest.map(|due| (now - due).num_seconds().max(0)).unwrap_or(0);
        let duration = started.elapsed();
        if !dry_run {
            for ((rule, action), n) in &tally.counts {
                metrics::counter!("ohjaus_retention_actions_total", "rule" => *rule, "action" => *action)
                    .increment(u64::try_from(*n).unwrap_or(0));
            }
            metrics::histogram!("ohjaus_retention_run_duration_seconds").record(duration.as_secs_f64());
            let finished_at = self.core().now();
            let run = store::RunRow {
                id: new_id(),
                started_at: now,
                finished_at,
                duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
                counts: tally.counts.iter().map(|((rule, action), n)| (format!("{rule}/{action}"), *n)).collect(),
            };
            store::record_run(self.db(), &run).await?;
            crate::metrics::publish(self.db(), finished_at).await?;
        }
        let summary: Vec<String> = tally.counts.iter().map(|((r, a), n)| format!("{r}/{a}={n}")).collect();
        tracing::info!(dry_run, duration_ms = duration.as_millis() as u64, overdue, counts = %summary.join(" "), "retention run");
        Ok(pb::RunReport {
            counts: tally
                .counts
                .into_iter()
                .map(|((rule, action), count)| pb::RuleCount { rule: rule.into(), action: action.into(), count })
                .collect(),
            planned: tally.planned,
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            oldest_overdue_seconds: overdue,
            phase_ms: phases,
        })
    }

    /// One rule over every workspace, batch by batch in id order.
    async fn sweep(&self, step: &SweepStep, dry_run: bool, tally: &mut Tally) -> ServiceResult<()> {
        let mut workspaces = WorkspacesServiceClient::new(self.peers().workspaces.clone());
        let mut after = String::new();
        loop {
            let request = SweepRetentionRequest {
                action: step.request as i32,
                due_before: Some(timestamp(step.due_before)),
                notice_before: Some(timestamp(step.notice_before)),
                after_id: after.clone(),
                limit: self.batch_size(),
                dry_run,
                notice_days: i32::try_from(step.notice_days).unwrap_or(i32::MAX),
            };
            let answer =
                workspaces.sweep_retention(as_retention(request)).await.map_err(peer("workspaces"))?.into_inner();
            tally.add(step.rule, step.action, i64::try_from(answer.workspaces.len()).unwrap_or(i64::MAX));
            if dry_run {
                for due in &answer.workspaces {
                    let since = due.since.as_ref().and_then(from_timestamp).unwrap_or_default();
                    tally.plan(&due.workspace_id, step.rule, step.action, since, since + step.period);
                }
            }
            if answer.next_after_id.is_empty() {
                return Ok(());
            }
            after = answer.next_after_id;
        }
    }

    /// Records a deletion for each archived workspace past its period (once per workspace,
    /// however many runs see it), with its steps, and publishes the deletion request.
    async fn decide_deletions(&self, now: DateTime<Utc>, dry_run: bool, tally: &mut Tally) -> ServiceResult<()> {
        let periods = self.periods();
        let mut workspaces = WorkspacesServiceClient::new(self.peers().workspaces.clone());
        let mut after = String::new();
        loop {
            let request = SweepRetentionRequest {
                action: RetentionAction::ListDeletable as i32,
                due_before: Some(timestamp(periods.delete_before(now))),
                notice_before: None,
                after_id: after.clone(),
                limit: self.batch_size(),
                dry_run: true,
                notice_days: 0,
            };
            let answer =
                workspaces.sweep_retention(as_retention(request)).await.map_err(peer("workspaces"))?.into_inner();
            let mut due = Vec::with_capacity(answer.workspaces.len());
            for found in &answer.workspaces {
                let since = found.since.as_ref().and_then(from_timestamp).unwrap_or_default();
                let due_at = since + periods.archived_for;
                if dry_run {
                    tally.add(RULE_ARCHIVED, "delete", 1);
                    tally.plan(&found.workspace_id, RULE_ARCHIVED, "delete", since, due_at);
                    continue;
                }
                let Ok(workspace) = Uuid::parse_str(&found.workspace_id) else {
                    return Err(ServiceError::peer("workspaces", "a malformed workspace id"));
                };
                due.push((workspace, due_at));
            }
            // A few decisions at a time: each waits on a round trip and a commit.
            let decided: Vec<ServiceResult<bool>> = futures::stream::iter(due)
                .map(|(workspace, due_at)| {
                    let this = self.clone();
                    async move { this.decide(workspace, due_at, now).await }
                })
                .buffer_unordered(DELETIONS_AT_ONCE)
                .collect()
                .await;
            for outcome in decided {
                if outcome? {
                    tally.add(RULE_ARCHIVED, "decide-delete", 1);
                }
            }
            if answer.next_after_id.is_empty() {
                return Ok(());
            }
            after = answer.next_after_id;
        }
    }

    /// Records the deletion of `workspace` with one step per service (the customers' accounts
    /// as they are now), and its deletion request in the outbox; whether it was new.
    async fn decide(&self, workspace: Uuid, due_at: DateTime<Utc>, now: DateTime<Utc>) -> ServiceResult<bool> {
        let customers = WorkspacesServiceClient::new(self.peers().workspaces.clone())
            .list_retention_customers(as_retention(RetentionRequest {
                workspace_id: workspace.to_string(),
                deletion_id: String::new(),
            }))
            .await
            .map_err(peer("workspaces"))?
            .into_inner()
            .customer_ids;
        let mut steps: Vec<(&str, Uuid)> = WORKSPACE_STEPS.iter().map(|s| (*s, workspace)).collect();
        for customer in &customers {
            let Ok(customer) = Uuid::parse_str(customer) else {
                return Err(ServiceError::peer("workspaces", "a malformed customer id"));
            };
            steps.push((IDENTITY_STEP, customer));
        }
        let decision = DeletionRow {
            id: new_id(),
            subject_kind: "workspace".into(),
            subject_id: workspace,
            rule: RULE_ARCHIVED.into(),
            due_at,
            decided_at: now,
            completed_at: None,
        };
        let mut tx = self.db().begin().await?;
        if !store::decide(&mut tx, &decision, &steps).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        let event = DeletionRequested {
            deletion_id: decision.id.to_string(),
            subject_kind: decision.subject_kind.clone(),
            subject_id: workspace.to_string(),
            rule: decision.rule.clone(),
        };
        self.emit(&mut tx, event).await?;
        self.core().commit(tx).await?;
        Ok(true)
    }

    /// Asks every service of every unfinished deletion this run can claim, batch by batch.
    async fn carry_out_deletions(&self, now: DateTime<Utc>, tally: &mut Tally) -> ServiceResult<()> {
        let until = now + self.lease();
        let mut after = Uuid::nil();
        loop {
            let claimed = store::claim(self.db(), now, until, after, i64::from(self.batch_size())).await?;
            let Some(last) = claimed.last() else { return Ok(()) };
            after = last.id;
            // A few deletions at a time: each waits mostly on other services' round trips.
            let outcomes: Vec<_> = futures::stream::iter(claimed)
                .map(|deletion| {
                    let this = self.clone();
                    async move {
                        let mut own = Tally { counts: BTreeMap::new(), planned: Vec::new() };
                        let outcome = this.carry_out(&deletion, &mut own).await;
                        (deletion, outcome, own)
                    }
                })
                .buffer_unordered(DELETIONS_AT_ONCE)
                .collect()
                .await;
            for (deletion, outcome, own) in outcomes {
                for ((rule, action), n) in own.counts {
                    tally.add(rule, action, n);
                }
                match outcome {
                    Ok(true) => tally.add(RULE_ARCHIVED, "delete", 1),
                    Ok(false) => store::release(self.db(), deletion.id).await?,
                    Err(error) => {
                        // Ids only: the next run asks again.
                        tracing::warn!(deletion = %deletion.id, %error, "a deletion step failed; retried next run");
                        store::release(self.db(), deletion.id).await?;
                    }
                }
            }
        }
    }

    /// Asks each service whose step is pending, in order; whether the deletion is complete.
    async fn carry_out(&self, deletion: &DeletionRow, tally: &mut Tally) -> ServiceResult<bool> {
        let workspace = deletion.subject_id.to_string();
        let deletion_id = deletion.id.to_string();
        for step in store::steps(self.db(), deletion.id).await? {
            if step.outcome != "pending" {
                continue;
            }
            store::count_attempt(self.db(), deletion.id, &step.service, step.target_id).await?;
            let (outcome, counts): (&str, BTreeMap<String, i64>) = match step.service.as_str() {
                "workspaces" => {
                    let request =
                        RetentionRequest { workspace_id: workspace.clone(), deletion_id: deletion_id.clone() };
                    match WorkspacesServiceClient::new(self.peers().workspaces.clone())
                        .delete_workspace(as_retention(request))
                        .await
                    {
                        Ok(answer) => ("deleted", answer.into_inner().deleted.into_iter().collect()),
                        // Gone already, without this decision's receipt: nothing left to delete.
                        Err(status) if status.code() == tonic::Code::NotFound => ("deleted", BTreeMap::new()),
                        Err(status) => return Err(peer("workspaces")(status)),
                    }
                }
                "consent" => {
                    let answer = ConsentServiceClient::new(self.peers().consent.clone())
                        .delete_workspace_ledger(as_retention(DeleteWorkspaceLedgerRequest {
                            workspace_id: workspace.clone(),
                            deletion_id: deletion_id.clone(),
                        }))
                        .await
                        .map_err(peer("consent"))?
                        .into_inner();
                    ("deleted", BTreeMap::from([("ledger_entries".to_owned(), answer.deleted_entries)]))
                }
                "surveys" => {
                    let answer = SurveysServiceClient::new(self.peers().surveys.clone())
                        .delete_workspace_answers(as_retention(DeleteWorkspaceAnswersRequest {
                            workspace_id: workspace.clone(),
                            deletion_id: deletion_id.clone(),
                        }))
                        .await
                        .map_err(peer("surveys"))?
                        .into_inner();
                    ("deleted", answer.deleted.into_iter().collect())
                }
                "forms" => {
                    let answer = FormsServiceClient::new(self.peers().forms.clone())
                        .delete_workspace_submissions(as_retention(DeleteWorkspaceSubmissionsRequest {
                            workspace_id: workspace.clone(),
                            deletion_id: deletion_id.clone(),
                        }))
                        .await
                        .map_err(peer("forms"))?
                        .into_inner();
                    ("deleted", answer.deleted.into_iter().collect())
                }
                IDENTITY_STEP => {
                    // Checked just before acting: a customer who joined another workspace since
                    // the decision keeps her account.
                    let still = WorkspacesServiceClient::new(self.peers().workspaces.clone())
                        .count_customer_workspaces(as_retention(CustomerWorkspacesRequest {
                            customer_id: step.target_id.to_string(),
                        }))
                        .await
                        .map_err(peer("workspaces"))?
                        .into_inner()
                        .workspaces;
                    if still > 0 {
                        ("kept", BTreeMap::new())
                    } else {
                        let request = DeleteCustomerAccountRequest {
                            customer_id: step.target_id.to_string(),
                            deletion_id: deletion_id.clone(),
                        };
                        let answer = IdentityServiceClient::new(self.peers().identity.clone())
                            .delete_customer_account(as_retention(request))
                            .await
                            .map_err(peer("identity"))?
                            .into_inner();
                        ("deleted", answer.deleted.into_iter().collect())
                    }
                }
                other => return Err(ServiceError::corrupt(format!("a deletion step of unknown service {other}"))),
            };
            let now = self.core().now();
            store::complete_step(self.db(), deletion.id, &step.service, step.target_id, outcome, &counts, now).await?;
            if step.service == IDENTITY_STEP {
                tally.add(RULE_CUSTOMER, if outcome == "kept" { "keep-account" } else { "delete-account" }, 1);
            }
        }
        store::complete(self.db(), deletion.id, self.core().now()).await
    }
}
