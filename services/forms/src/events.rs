//! Events the forms service publishes (declared with their subjects in `ohjaus-proto`).
//! Identifiers only, never a form's texts or a visitor's question.

pub use ohjaus_platform::proto::events::v1::{
    FormCreated, FormPublished, FormUpdated, SubmissionConverted, SubmissionReceived,
};
