//! `/admin`: the operator's views of the platform's own records. Only the operator reaches them;
//! to anyone else they answer as the services do (permission denied).

pub mod deletions;

pub const TAG: &str = "admin";
