//! The forms service's SQL: one text for PostgreSQL and SQLite, one file per feature.

mod forms;
mod queue;
mod submissions;
// contact forms: new submissions announced to advisors
mod announce;
pub use announce::*;

pub use forms::*;
pub use queue::*;
pub use submissions::*;
