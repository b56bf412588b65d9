//! The forms service: an organisation's contact forms, through which visitors ask questions
//! anonymously from the organisation's own website, and what they send.
//!
//! A main user of an organisation defines its forms (`forms`): fields, languages, topic, the
//! office that receives them, the websites allowed to embed them; each change is a new version
//! and a submission keeps the version it answered. The gateway serves a published form to
//! visitors (`public`): a proof-of-work challenge, then the answers, sealed with a data key of
//! the submission's own in the service's key store. The retention worker deletes submissions
//! that led to no workspace once they are old enough (`retention`). To anyone but the
//! organisation's main users its forms' definitions do not exist. Each change is announced by an
//! event (ids only) in the same transaction.

mod canned;
mod convert;
pub mod domain;
pub mod events;
mod forms;
pub mod grpc;
mod public;
mod queue;
mod retention;
pub mod store;

use ohjaus_platform::db::Migrations;

pub use grpc::{Forms, FormsConfig, Peers};

// contact forms: new submissions announced to the organisation's advisors
mod announce;
pub use announce::{AdvisorDirectory, Announcements, run_announcer};

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "forms";

/// The kind of owner of the data keys in the service's key store.
pub const KEY_OWNER: &str = "submission";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/forms/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/forms/sqlite"),
    }
}
