//! The forms service: an organisation's contact forms, through which visitors ask questions
//! anonymously from the organisation's own website, and the advisors' queue of what they ask.
//!
//! Today the skeleton the contact-forms issue builds on: a main user of an organisation creates
//! an unpublished form by name (`CreateForm`). To anyone but that organisation's main users
//! its forms do not exist. Each change is announced by an event (ids only) in the same
//! transaction.

pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use ohjaus_platform::db::Migrations;

pub use grpc::Forms;

/// The service's name: its database schema or file, its subjects, its target.
pub const SERVICE: &str = "forms";

pub fn migrations() -> Migrations {
    Migrations {
        postgres: || sqlx::migrate!("../../migrations/forms/postgres"),
        sqlite: || sqlx::migrate!("../../migrations/forms/sqlite"),
    }
}
