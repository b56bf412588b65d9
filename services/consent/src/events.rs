//! Events the consent service publishes (declared with their subjects in `ohjaus-proto`).
//! Identifiers and states only, never the purpose text.

pub use ohjaus_platform::proto::events::v1::{
    ConsentAccepted, ConsentEnded, ConsentRejected, ConsentRequested, ConsentWithdrawn,
};
