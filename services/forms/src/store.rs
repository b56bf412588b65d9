//! The forms service's SQL: one text for PostgreSQL and SQLite.

use ohjaus_platform::db::{DbResult, Row, Source, Tx};

use crate::domain::{Form, FormId};

pub async fn insert_form(tx: &mut Tx, form: &Form) -> DbResult<()> {
    tx.query(
        "INSERT INTO forms (id, organization_id, name, published, version, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(form.id.as_uuid())
    .bind(form.organization_id)
    .bind(form.name.clone())
    .bind(form.published)
    .bind(form.version)
    .bind(form.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn find_form<'c>(conn: impl Source<'c>, id: FormId) -> DbResult<Option<Form>> {
    let row = conn
        .query("SELECT id, organization_id, name, published, version, created_at FROM forms WHERE id = $1")
        .bind(id.as_uuid())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(form).transpose()
}

fn form(row: &Row) -> DbResult<Form> {
    Ok(Form {
        id: FormId(row.get("id")?),
        organization_id: row.get("organization_id")?,
        name: row.get("name")?,
        published: row.get("published")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
    })
}
