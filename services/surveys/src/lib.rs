//! The surveys service: the 3X10D life-situation meter, feedback on guidance and the
//! anonymised reports that tell an organisation whether its guidance helps.
//!
//! Today the instruments: versioned data (`instruments/*.toml`, embedded in the binary and
//! stored at start), read by anyone signed in, a new version loaded by the operator
//! (`LoadInstrument`); a version once stored never changes. And the rounds of a workspace: a
//! guide asks a customer (the workspaces service tells who is a member: `CheckMembership`), she
//! answers and submits, and both see the change per item; the answers are sealed with the
//! workspace's data key in this service's key store. Each change is announced by an event (ids
//! only) in the same transaction. Retention deletes a deleted workspace's rounds and its key
//! (`retention`). `domain::disclosure` is the reports' disclosure control.

pub mod domain;
pub mod events;
pub mod grpc;
mod peers;
mod retention;
mod rounds;
pub mod store;
// Feedback and reports (issue 15).
mod feedback;
mod reports;

use ohjaus_platform::db::Migrations;

pub use grpc::Surveys;

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "surveys";

/// The owner kind of the data keys in this service's key store: a workspace's answers are
/// sealed with a key of that workspace's own.
pub const KEY_OWNER: &str = "workspace";

/// The instrument files shipped with the binary, stored at start: 3X10D® Diak, version 1.
pub const EMBEDDED_INSTRUMENTS: &[&str] = &[include_str!("../instruments/3x10d.v1.toml")];

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/surveys/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/surveys/sqlite"),
    }
}
