//! The rules of the privacy notice as data: what each sweep asks of the workspaces service,
//! and when it is due, computed from the run's time and the configured periods.

use chrono::{DateTime, TimeDelta, Utc};
use ohjaus_platform::proto::workspaces::v1::RetentionAction;

/// The configured periods (see `retention.*` and `workspaces.reopen_window_days`).
#[derive(Clone, Copy, Debug)]
pub struct Periods {
    pub close_after: TimeDelta,
    pub close_notice: TimeDelta,
    pub reopen_window: TimeDelta,
    pub archive_notice: TimeDelta,
    pub archived_for: TimeDelta,
    pub login_audit: TimeDelta,
    /// A contact-form submission that led to no workspace is kept this long after its last change.
    pub submissions: TimeDelta,
}

/// Rule names, as metrics and the evidence name them.
pub const RULE_INACTIVE: &str = "workspace-inactive";
pub const RULE_CLOSED: &str = "workspace-closed";
pub const RULE_ARCHIVED: &str = "workspace-archived";
pub const RULE_CUSTOMER: &str = "customer-last-workspace";
pub const RULE_LOGIN_AUDIT: &str = "login-audit";
pub const RULE_SUBMISSIONS: &str = "form-submission";

/// One sweep over the workspaces: the rule, the action, what the workspaces service is asked.
#[derive(Clone, Copy, Debug)]
pub struct SweepStep {
    pub rule: &'static str,
    pub action: &'static str,
    pub request: RetentionAction,
    /// What the rule counts from must be before this.
    pub due_before: DateTime<Utc>,
    /// The notice must have been given before this (closing, archiving).
    pub notice_before: DateTime<Utc>,
    /// How far from `since` the action falls due.
    pub period: TimeDelta,
    /// Notices: the days the mail names.
    pub notice_days: i64,
}

impl Periods {
    /// The sweeps of a run at `now`, in order: notices first, so that a workspace is never
    /// closed or archived before its members were told.
    pub fn sweeps(&self, now: DateTime<Utc>) -> [SweepStep; 4] {
        let step = |rule, action, request, period: TimeDelta, notice: TimeDelta| SweepStep {
            rule,
            action,
            request,
            due_before: now - period,
            notice_before: now - notice,
            period,
            notice_days: notice.num_days(),
        };
        let never = TimeDelta::zero();
        [
            step(
                RULE_INACTIVE,
                "notice-close",
                RetentionAction::CloseNotice,
                (self.close_after - self.close_notice).max(never),
                self.close_notice,
            ),
            step(RULE_INACTIVE, "close", RetentionAction::Close, self.close_after, self.close_notice),
            step(
                RULE_CLOSED,
                "notice-archive",
                RetentionAction::ArchiveNotice,
                (self.reopen_window - self.archive_notice).max(never),
                self.archive_notice,
            ),
            step(RULE_CLOSED, "archive", RetentionAction::Archive, self.reopen_window, self.archive_notice),
        ]
    }

    /// Archived workspaces archived before this are due for deletion.
    pub fn delete_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.archived_for
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn periods() -> Periods {
        Periods {
            close_after: TimeDelta::days(90),
            close_notice: TimeDelta::days(14),
            reopen_window: TimeDelta::days(90),
            archive_notice: TimeDelta::days(30),
            archived_for: TimeDelta::days(365),
            login_audit: TimeDelta::days(730),
            submissions: TimeDelta::days(180),
        }
    }

    #[test]
    fn notices_come_before_their_actions_and_count_back_from_them() {
        let now = Utc::now();
        let [notice, close, archive_notice, archive] = periods().sweeps(now);
        assert_eq!(notice.due_before, now - TimeDelta::days(76));
        assert_eq!(close.due_before, now - TimeDelta::days(90));
        assert_eq!(close.notice_before, now - TimeDelta::days(14));
        assert_eq!(archive_notice.due_before, now - TimeDelta::days(60));
        assert_eq!(archive.due_before, now - TimeDelta::days(90));
        assert_eq!(archive.notice_before, now - TimeDelta::days(30));
        assert_eq!((notice.notice_days, archive_notice.notice_days), (14, 30));
        assert_eq!(periods().delete_before(now), now - TimeDelta::days(365));
    }

    #[test]
    fn a_notice_longer_than_its_period_is_given_at_once() {
        let short = Periods { reopen_window: TimeDelta::days(10), ..periods() };
        let now = Utc::now();
        assert_eq!(short.sweeps(now)[2].due_before, now);
    }
}
