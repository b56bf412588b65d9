//! The events retention publishes: identifiers only.

pub use ohjaus_platform::proto::events::v1::DeletionRequested;
