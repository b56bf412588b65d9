//! Customer accounts: made when a customer accepts a workspace invitation, known by the keyed
//! hash of their identity code.

use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, Failure, Violations},
    proto::identity::v1 as pb,
    service::ServiceResult,
    types::PersonalIdentityCode,
};

use super::Identity;
use crate::domain::CustomerId;

/// EnsureCustomerAccount as a command.
struct EnsureCustomerAccount {
    code: PersonalIdentityCode,
}

impl EnsureCustomerAccount {
    fn parse(msg: &pb::EnsureCustomerAccountRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let code = v.check(PersonalIdentityCode::parse("personal_identity_code", &msg.personal_identity_code));
        v.finish_with(|| Some(Self { code: code? }))
    }
}

impl Identity {
    /// For the workspaces service: the customer account of an identity code, made if there is none.
    pub(crate) async fn ensure_customer_account(
        &self,
        principal: &Principal,
        msg: pb::EnsureCustomerAccountRequest,
    ) -> ServiceResult<pb::CustomerAccount> {
        if !matches!(principal, Principal::Service { .. }) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        let EnsureCustomerAccount { code } = EnsureCustomerAccount::parse(&msg)?;
        let (id, created): (CustomerId, bool) =
            crate::store::ensure_customer(self.db(), &self.inner.hasher.hash(&code), self.now()).await?;
        Ok(pb::CustomerAccount { id: id.to_string(), created })
    }
}
