//! The forms service's SQL: one text for PostgreSQL and SQLite, one file per feature.

mod forms;
mod submissions;

pub use forms::*;
pub use submissions::*;
