//! The surveys service: the 3X10D life-situation meter, feedback on guidance and the
//! anonymised reports that tell an organisation whether its guidance helps.
//!
//! Today the instruments: versioned data (`instruments/*.toml`, embedded in the binary and
//! stored at start), read by anyone signed in, a new version loaded by the operator
//! (`LoadInstrument`); a version once stored never changes. Each load is announced by an event
//! (ids only) in the same transaction. `domain::disclosure` is the reports' disclosure control.

pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use ohjaus_platform::db::Migrations;

pub use grpc::Surveys;

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "surveys";

/// The instrument files shipped with the binary, stored at start: 3X10D® Diak, version 1.
pub const EMBEDDED_INSTRUMENTS: &[&str] = &[include_str!("../instruments/3x10d.v1.toml")];

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/surveys/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/surveys/sqlite"),
    }
}
