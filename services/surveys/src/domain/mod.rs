//! The surveys service's types and rules, without I/O.

pub mod disclosure;
pub mod instrument;
pub mod rounds;
// Feedback and reports (issue 15).
pub mod feedback;
pub mod reports;

use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, Failure, Violations},
    proto::surveys::v1 as pb,
    service::ServiceError,
};

pub use instrument::{Instrument, Loading};

/// `GetInstrument`, parsed: a version of 0 asks for the newest.
#[derive(Clone, Debug)]
pub struct GetInstrument {
    pub id: String,
    pub version: Option<u32>,
}

impl GetInstrument {
    pub fn parse(request: &pb::GetInstrumentRequest) -> Result<Self, ServiceError> {
        let mut v = Violations::new();
        if request.instrument_id.trim().is_empty() {
            v.push(ohjaus_platform::error::FieldViolation::new("instrument_id", "field-required"));
        }
        v.finish()?;
        Ok(Self { id: request.instrument_id.trim().to_owned(), version: Some(request.version).filter(|v| *v > 0) })
    }
}

/// Only the operator loads instruments.
pub fn may_load_instruments(principal: &Principal) -> Result<(), Failure> {
    if principal.is_operator() { Ok(()) } else { Err(Failure::new(ErrorCode::PermissionDenied)) }
}
