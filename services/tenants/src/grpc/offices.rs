//! Offices (toimipisteet) of an organisation, managed by its main users.

use ohjaus_platform::{
    auth::Principal,
    error::{Failure, Violations},
    grpc::timestamp,
    ids::PageRequest,
    proto::tenants::v1 as pb,
    service::{NextAction, RequestKey, ServiceError, ServiceResult},
    types::Text,
};

use super::Tenants;
use crate::{
    domain::{self, Action, Office, OfficeId, OrganizationId},
    events as ev, store,
};

/// CreateOffice as a command, apart from the organisation it names.
struct CreateOffice {
    name: Text,
    key: RequestKey,
}

impl CreateOffice {
    fn parse(msg: &pb::CreateOfficeRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let key = v.check(RequestKey::parse("create_office", msg, |m| &mut m.request_id));
        let name = v.check(Text::parse("name", &msg.name, domain::OFFICE_NAME_MAX));
        v.finish_with(|| Some(Self { name: name?, key: key? }))
    }
}

/// UpdateOffice as a command.
struct UpdateOffice {
    org: OrganizationId,
    office: OfficeId,
    name: Text,
    expected_version: i64,
}

impl UpdateOffice {
    fn parse(msg: &pb::UpdateOfficeRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let org = v.check(OrganizationId::parse("organization_id", &msg.organization_id));
        let office = v.check(OfficeId::parse("office_id", &msg.office_id));
        let name = v.check(Text::parse("name", &msg.name, domain::OFFICE_NAME_MAX));
        v.finish_with(|| Some(Self { org: org?, office: office?, name: name?, expected_version: msg.expected_version }))
    }
}

/// DeleteOffice as a command.
struct DeleteOffice {
    org: OrganizationId,
    office: OfficeId,
}

impl DeleteOffice {
    fn parse(msg: &pb::DeleteOfficeRequest) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let org = v.check(OrganizationId::parse("organization_id", &msg.organization_id));
        let office = v.check(OfficeId::parse("office_id", &msg.office_id));
        v.finish_with(|| Some(Self { org: org?, office: office? }))
    }
}

impl Tenants {
    pub(crate) async fn create_office(
        &self,
        principal: &Principal,
        msg: pb::CreateOfficeRequest,
    ) -> ServiceResult<pb::Office> {
        let org = OrganizationId::parse("organization_id", &msg.organization_id)?;
        let command = CreateOffice::parse(&msg);
        self.authorized(self.db(), principal, org, Action::Administer).await?;
        let CreateOffice { name, key } = command?;
        let mut tx = match key.begin(self.db(), principal).await? {
            NextAction::Proceed(tx) => tx,
            NextAction::Replay(id) => {
                let office = store::find_office(self.db(), org, OfficeId(id)).await?;
                return Ok(office_to_pb(&office.ok_or_else(ServiceError::not_found)?));
            }
        };
        self.authorized(&mut tx, principal, org, Action::Administer).await?;
        let now = self.core().now();
        let office = Office { id: OfficeId::new(), organization_id: org, name, version: 1, created_at: now };
        store::insert_office(&mut tx, &office).await?;
        self.core()
            .emit(
                &mut tx,
                org,
                ev::OfficeCreated { organization_id: org.to_string(), office_id: office.id.to_string() },
            )
            .await?;
        key.remember(&mut tx, principal, office.id.as_uuid(), now).await?;
        self.core().commit(tx).await?;
        Ok(office_to_pb(&office))
    }

    pub(crate) async fn list_offices(
        &self,
        principal: &Principal,
        msg: pb::ListOfficesRequest,
    ) -> ServiceResult<pb::ListOfficesResponse> {
        let org = OrganizationId::parse("organization_id", &msg.organization_id)?;
        self.authorized(self.db(), principal, org, Action::Read).await?;
        let page = PageRequest::parse(msg.page_size, &msg.page_token)?;
        let rows = store::offices_page(self.db(), org, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |o| o.id.as_uuid());
        Ok(pb::ListOfficesResponse { offices: rows.iter().map(office_to_pb).collect(), next_page_token })
    }

    pub(crate) async fn update_office(
        &self,
        principal: &Principal,
        msg: pb::UpdateOfficeRequest,
    ) -> ServiceResult<pb::Office> {
        let UpdateOffice { org, office, name, expected_version } = UpdateOffice::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        self.authorized(&mut tx, principal, org, Action::Administer).await?;
        let mut office = store::find_office(&mut tx, org, office).await?.ok_or_else(ServiceError::not_found)?;
        domain::check_version(expected_version, office.version)?;
        office.name = name;
        office.version += 1;
        store::rename_office(&mut tx, &office).await?;
        self.core()
            .emit(
                &mut tx,
                org,
                ev::OfficeRenamed { organization_id: org.to_string(), office_id: office.id.to_string() },
            )
            .await?;
        self.core().commit(tx).await?;
        Ok(office_to_pb(&office))
    }

    pub(crate) async fn delete_office(
        &self,
        principal: &Principal,
        msg: pb::DeleteOfficeRequest,
    ) -> ServiceResult<pb::DeleteOfficeResponse> {
        let DeleteOffice { org, office } = DeleteOffice::parse(&msg)?;
        let mut tx = self.db().begin().await?;
        self.authorized(&mut tx, principal, org, Action::Administer).await?;
        store::find_office(&mut tx, org, office).await?.ok_or_else(ServiceError::not_found)?;
        store::delete_office(&mut tx, office).await?;
        self.core()
            .emit(&mut tx, org, ev::OfficeDeleted { organization_id: org.to_string(), office_id: office.to_string() })
            .await?;
        self.core().commit(tx).await?;
        Ok(pb::DeleteOfficeResponse {})
    }
}

fn office_to_pb(office: &Office) -> pb::Office {
    pb::Office {
        id: office.id.to_string(),
        organization_id: office.organization_id.to_string(),
        name: office.name.as_str().to_owned(),
        version: office.version,
        created_at: Some(timestamp(office.created_at)),
    }
}
