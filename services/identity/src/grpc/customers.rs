//! Customer accounts: made when a customer accepts a workspace invitation meant for them, known
//! by the keyed hash of their identity code. Until then a person is at most a reference (the id
//! their account will have, to bind an invitation to them) and, after an invitation's login, a
//! pending session.

use ohjaus_platform::{
    auth::Principal,
    error::{Failure, Violations},
    proto::identity::v1 as pb,
    service::{ServiceError, ServiceResult, services_only},
    types::PersonalIdentityCode,
};

use super::Identity;
use crate::{domain::CustomerId, store};

/// A person named by their identity code (EnsureCustomerAccount, ReferCustomer).
struct Person {
    code: PersonalIdentityCode,
}

impl Person {
    fn parse(personal_identity_code: &str) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let code = v.check(PersonalIdentityCode::parse("personal_identity_code", personal_identity_code));
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
        services_only(principal)?;
        let Person { code } = Person::parse(&msg.personal_identity_code)?;
        let (id, created): (CustomerId, bool) =
            store::ensure_customer(self.db(), &self.inner.hasher.hash(&code), self.now()).await?;
        Ok(pb::CustomerAccount { id: id.to_string(), created })
    }

    /// For the workspaces service binding an invitation to a person: their account's id, or the
    /// id it will have. Nothing is written.
    pub(crate) async fn refer_customer(
        &self,
        principal: &Principal,
        msg: pb::ReferCustomerRequest,
    ) -> ServiceResult<pb::CustomerReference> {
        services_only(principal)?;
        let Person { code } = Person::parse(&msg.personal_identity_code)?;
        let hash = self.inner.hasher.hash(&code);
        let (id, exists) = match store::customer_by_identity(self.db(), &hash).await? {
            Some(id) => (id, true),
            None => (CustomerId::of_identity(&hash), false),
        };
        Ok(pb::CustomerReference { id: id.to_string(), exists })
    }

    /// For the workspaces service, when a customer accepts an invitation meant for them: their
    /// account, made now from their pending session if they have none. Not found when there is
    /// neither an account nor a pending session.
    pub(crate) async fn activate_customer_account(
        &self,
        principal: &Principal,
        msg: pb::ActivateCustomerAccountRequest,
    ) -> ServiceResult<pb::CustomerAccount> {
        services_only(principal)?;
        let id = CustomerId::parse_ref(&msg.customer_id)?;
        if store::customer_exists(self.db(), id).await? {
            return Ok(pb::CustomerAccount { id: id.to_string(), created: false });
        }
        let hash = store::pending_identity(self.db(), id).await?.ok_or_else(ServiceError::not_found)?;
        // The session's identity must be the one the id was derived from.
        if CustomerId::of_identity(&hash) != id {
            return Err(ServiceError::corrupt("pending session of another identity"));
        }
        let created = store::activate_customer(self.db(), id, &hash, self.now()).await?;
        Ok(pb::CustomerAccount { id: id.to_string(), created })
    }
}
