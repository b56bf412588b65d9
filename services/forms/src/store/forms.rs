//! Forms and their versions.

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    db::{DbError, DbResult, Row, Source, Tx},
    ids::PageRequest,
};
use uuid::Uuid;

use crate::domain::{Definition, Form, FormId};

pub async fn insert_form(tx: &mut Tx, form: &Form) -> DbResult<()> {
    tx.query(
        "INSERT INTO forms (id, organization_id, name, published, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(form.id.as_uuid())
    .bind(form.organization_id)
    .bind(form.name.clone())
    .bind(form.published)
    .bind(form.version)
    .bind(form.created_at)
    .bind(form.updated_at)
    .execute(tx)
    .await?;
    Ok(())
}

const COLUMNS: &str = "f.id, f.organization_id, f.name, f.published, f.version, f.created_at, f.updated_at, \
     v.version AS definition_version, v.definition";
/// The form with its newest definition, if it has one.
const FROM: &str = "FROM forms f LEFT JOIN form_versions v ON v.form_id = f.id \
     AND v.version = (SELECT MAX(w.version) FROM form_versions w WHERE w.form_id = f.id)";

pub async fn find_form<'c>(conn: impl Source<'c>, id: FormId) -> DbResult<Option<Form>> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE f.id = $1");
    let row = conn.query(&sql).bind(id.as_uuid()).fetch_optional(conn).await?;
    row.as_ref().map(form).transpose()
}

/// A page of the organisation's forms in id order.
pub async fn list_forms<'c>(conn: impl Source<'c>, organization: Uuid, page: PageRequest) -> DbResult<Vec<Form>> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE f.organization_id = $1 AND f.id > $2 ORDER BY f.id LIMIT $3");
    let rows = conn
        .query(&sql)
        .bind(organization)
        .bind(page.after.unwrap_or(Uuid::nil()))
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    rows.iter().map(form).collect()
}

/// Writes a changed form if it is still at `expected` (false: someone changed it first).
pub async fn update_form(tx: &mut Tx, form: &Form, expected: i64) -> DbResult<bool> {
    let changed = tx
        .query(
            "UPDATE forms SET name = $1, published = $2, version = $3, updated_at = $4 WHERE id = $5 AND version = $6",
        )
        .bind(form.name.clone())
        .bind(form.published)
        .bind(form.version)
        .bind(form.updated_at)
        .bind(form.id.as_uuid())
        .bind(expected)
        .execute(tx)
        .await?;
    Ok(changed == 1)
}

pub async fn insert_definition(
    tx: &mut Tx,
    form: FormId,
    version: i64,
    definition: &Definition,
    at: DateTime<Utc>,
) -> DbResult<()> {
    let json = serde_json::to_string(definition).map_err(|e| DbError::Sqlx(sqlx::Error::Encode(e.into())))?;
    tx.query("INSERT INTO form_versions (form_id, version, definition, created_at) VALUES ($1, $2, $3, $4)")
        .bind(form.as_uuid())
        .bind(version)
        .bind(json)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

/// A version of a form's definition (the one a submission answered).
pub async fn find_definition<'c>(conn: impl Source<'c>, form: FormId, version: i64) -> DbResult<Option<Definition>> {
    let row = conn
        .query("SELECT definition FROM form_versions WHERE form_id = $1 AND version = $2")
        .bind(form.as_uuid())
        .bind(version)
        .fetch_optional(conn)
        .await?;
    row.map(|row| parse_definition(&row.get::<String>("definition")?)).transpose()
}

fn parse_definition(json: &str) -> DbResult<Definition> {
    serde_json::from_str(json).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into())))
}

fn form(row: &Row) -> DbResult<Form> {
    let created_at: DateTime<Utc> = row.get("created_at")?;
    let definition = match row.get::<Option<String>>("definition")? {
        Some(json) => Some((row.get::<i64>("definition_version")?, parse_definition(&json)?)),
        None => None,
    };
    Ok(Form {
        id: FormId(row.get("id")?),
        organization_id: row.get("organization_id")?,
        name: row.get("name")?,
        published: row.get("published")?,
        version: row.get("version")?,
        created_at,
        updated_at: row.get::<Option<DateTime<Utc>>>("updated_at")?.unwrap_or(created_at),
        definition,
    })
}
