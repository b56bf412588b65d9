//! Events the surveys service publishes (declared with their subjects in `ohjaus-proto`).
//! Identifiers only, never an answer or a text.

pub use ohjaus_platform::proto::events::v1::{InstrumentLoaded, RoundAsked, RoundSubmitted};
