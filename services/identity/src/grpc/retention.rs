//! Retention's requests: a customer's account and everything about her go after her last
//! workspace, and the login audit goes after its period. Only the retention worker asks.

use ohjaus_platform::{
    auth::Principal,
    error::FieldViolation,
    grpc::from_timestamp,
    ids::parse_uuid,
    proto::identity::v1 as pb,
    receipts,
    service::{ServiceResult, service_only},
};

use super::Identity;
use crate::store::retention as store;

impl Identity {
    pub(crate) async fn delete_customer_account(
        &self,
        principal: &Principal,
        msg: pb::DeleteCustomerAccountRequest,
    ) -> ServiceResult<pb::DeletedCounts> {
        service_only(principal, "retention")?;
        let customer = parse_uuid("customer_id", &msg.customer_id)?;
        let deletion = parse_uuid("deletion_id", &msg.deletion_id)?;
        let db = self.db();
        if let Some(deleted) = receipts::find(db, deletion).await? {
            return Ok(pb::DeletedCounts { deleted: deleted.into_iter().collect() });
        }
        let mut tx = db.begin().await?;
        let deleted = store::delete_customer(&mut tx, customer).await?;
        receipts::remember(&mut tx, deletion, &deleted, self.now()).await?;
        tx.commit().await?;
        db.purge_deleted().await?;
        tracing::info!(deletion = %deletion, "customer account deleted by retention");
        Ok(pb::DeletedCounts { deleted: deleted.into_iter().collect() })
    }

    pub(crate) async fn purge_login_audit(
        &self,
        principal: &Principal,
        msg: pb::PurgeLoginAuditRequest,
    ) -> ServiceResult<pb::DeletedCounts> {
        service_only(principal, "retention")?;
        let before = msg
            .before
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| FieldViolation::new("before", "field-required"))?;
        let deleted = store::purge_before(self.db(), before).await?;
        Ok(pb::DeletedCounts { deleted: deleted.into_iter().collect() })
    }
}
