//! The customer's own copy of a workspace: `workspace.json` (everything about them there, for
//! machines), `workspace.html` (the same for people) and `files/…` (the attachments they can
//! see). Parts are produced one at a time into a bounded channel, so a large workspace is
//! streamed, never held in memory whole; attachments are opened chunk by chunk.

use futures::StreamExt;
use ohjaus_platform::{
    auth::Principal,
    error::ErrorCode,
    grpc::from_timestamp,
    html::escape,
    ids::PageRequest,
    proto::workspaces::v1::{self as pb, export_part},
    service::{ServiceError, ServiceResult},
};
use serde_json::{Value, json};
use tokio::sync::mpsc::Sender;
use tonic::Status;

use crate::{
    domain::{Actor, MemberRole, WorkspaceId, guidance::ItemKind, sight::Sight},
    files::open_chunks,
    grpc::PartStream,
    service::{Opened, Reader, Workspaces},
    store::{self, FileRow},
};

const PART: usize = 64 * 1024;

/// Where an attachment lies in the archive.
fn archive_path(file: &pb::File) -> String {
    let safe: String =
        file.name.chars().map(|c| if c.is_alphanumeric() || ".-_ ".contains(c) { c } else { '_' }).collect();
    format!("files/{}-{}", file.id, safe.trim())
}

impl Workspaces {
    pub(crate) async fn export_workspace(
        &self,
        principal: &Principal,
        msg: pb::ExportWorkspaceRequest,
    ) -> ServiceResult<PartStream<pb::ExportPart>> {
        let id = WorkspaceId::parse_ref(&msg.workspace_id)?;
        let mut tx = self.db().begin().await?;
        let Reader { opened, role, actor, sight } = self.readable(&mut tx, principal, id).await?;
        // The download is the customer's right to their data; staff have the workspace itself.
        if role != Some(MemberRole::Customer) {
            return Err(ErrorCode::PermissionDenied.into());
        }
        self.log_read(&mut tx, &opened.workspace, actor, role, "export").await?;
        tx.commit().await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(error) = service.produce(&opened, &sight, &sender).await {
                tracing::error!(%error, "export failed");
                let _ = sender.send(Err(Status::internal("the export could not be completed"))).await;
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver)))
    }

    async fn produce(
        &self,
        opened: &Opened,
        sight: &Sight,
        out: &Sender<Result<pb::ExportPart, Status>>,
    ) -> ServiceResult<()> {
        let db = self.db();
        let workspace = &opened.workspace;
        let actor = sight.actor;
        let names = self.member_names(opened).await?;
        let members: Vec<Value> = store::members_of(db, workspace.id)
            .await?
            .into_iter()
            // In a group the customer sees the staff and themselves, not the other customers.
            .filter(|m| sight.sees_member(m.actor))
            .map(|m| {
                json!({
                    "kind": m.actor.kind(),
                    "role": m.role.as_str(),
                    "name": names.get(&m.actor).map(|c| c.name.clone()).unwrap_or_default(),
                    "you": m.actor == actor,
                })
            })
            .collect();

        let mut messages = Vec::new();
        for row in &all_pages(
            |page| async move { store::messages_page(db, workspace.id, sight, &page, false).await },
            |r| r.id.as_uuid(),
        )
        .await?
        {
            messages.push(self.message_to_pb(opened, row).await?);
        }
        let files: Vec<(pb::File, FileRow)> = all_pages(
            |page| async move { store::files_page(db, workspace.id, sight, &page).await },
            |r| r.id.as_uuid(),
        )
        .await?
        .into_iter()
        .map(|row| Ok((self.file_to_pb(opened, &row)?, row)))
        .collect::<ServiceResult<_>>()?;
        let mut guidance = serde_json::Map::new();
        for kind in [ItemKind::Phase, ItemKind::Task, ItemKind::Event, ItemKind::Note] {
            let rows = all_pages(
                |page| async move { store::items_page(db, workspace.id, kind, sight, &page).await },
                |r| r.id.as_uuid(),
            )
            .await?;
            let items = rows
                .iter()
                .map(|row| Ok(item_json(&self.item_to_pb(opened, row)?)))
                .collect::<ServiceResult<Vec<_>>>()?;
            guidance.insert(format!("{}s", kind.as_str()), Value::Array(items));
        }
        let summary = store::find_summary(db, workspace.id)
            .await?
            .map(|row| self.summary_to_pb(opened, Some(&row)))
            .transpose()?
            .map_or(Value::Null, |s| {
                json!({ "text": s.text, "written_by": s.updated_by_name, "updated_at": time(s.updated_at.as_ref()) })
            });
        let access =
            all_pages(|page| async move { store::access_page(db, workspace.id, sight, &page).await }, |r| r.id).await?;

        let file_json = |f: &pb::File| {
            json!({
                "id": f.id, "name": f.name, "content_type": f.content_type, "size": f.size,
                "uploaded_by": f.uploaded_by, "created_at": time(f.created_at.as_ref()), "path": archive_path(f),
            })
        };
        let name_of = |kind: &str, id: &str| {
            let actor = uuid::Uuid::parse_str(id)
                .ok()
                .map(|u| if kind == "expert" { Actor::Expert(u) } else { Actor::Customer(u) });
            actor.and_then(|a| names.get(&a)).map(|c| c.name.clone()).unwrap_or_default()
        };
        let document = json!({
            "format": "ohjaus-workspace-export/1",
            "exported_at": self.core().now().to_rfc3339(),
            "workspace": {
                "id": workspace.id.to_string(),
                "title": workspace.title.as_str(),
                "kind": workspace.kind.as_str(),
                "state": workspace.state.as_str(),
                "topics": workspace.topics.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "organization_id": workspace.organization_id.to_string(),
                "office_id": workspace.office_id.to_string(),
                "created_at": workspace.created_at.to_rfc3339(),
                "closed_at": workspace.closed_at.map(|t| t.to_rfc3339()),
            },
            "members": members,
            "messages": messages.iter().map(|m| json!({
                "id": m.id, "author_kind": m.author_kind, "author_name": m.author_name, "body": m.body,
                "created_at": time(m.created_at.as_ref()), "edited_at": time(m.edited_at.as_ref()), "deleted": m.deleted,
                "attachments": m.attachments.iter().map(file_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "files": files.iter().map(|(f, _)| file_json(f)).collect::<Vec<_>>(),
            "guidance": guidance,
            "summary": summary,
            "access_log": access.iter().map(|a| json!({
                "at": a.at.to_rfc3339(), "actor_kind": a.actor_kind, "actor_name": name_of(&a.actor_kind, &a.actor_id),
                "actor_role": a.actor_role, "what": a.what,
            })).collect::<Vec<_>>(),
        });
        let json_bytes = serde_json::to_vec_pretty(&document).map_err(|e| ServiceError::corrupt(e.to_string()))?;
        entry(out, "workspace.json", &json_bytes).await?;
        let html = render_document(&document);
        entry(out, "workspace.html", html.as_bytes()).await?;
        for (file, row) in files {
            if !send(out, export_part::Part::Entry(archive_path(&file))).await {
                return Ok(());
            }
            // Unbounded here: a chunk stream cut short would put a short file into the archive.
            let mut chunks = open_chunks(self.inner().files.clone(), opened.clone(), row, None).await?;
            while let Some(chunk) = chunks.next().await {
                match chunk {
                    Ok(bytes) => {
                        if !send(out, export_part::Part::Chunk(bytes)).await {
                            return Ok(());
                        }
                    }
                    Err(status) => {
                        let _ = out.send(Err(status)).await;
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

/// A guidance item in the archive: what its kind has, nothing empty.
fn item_json(item: &pb::Item) -> Value {
    let mut value = json!({
        "id": item.id, "title": item.title, "body": item.body, "author_name": item.author_name,
        "created_at": time(item.created_at.as_ref()), "updated_at": time(item.updated_at.as_ref()),
    });
    let extra = match pb::ItemKind::try_from(item.kind) {
        Ok(pb::ItemKind::Phase) => json!({ "status": pb::PhaseStatus::try_from(item.phase_status)
            .map(|s| s.as_str_name().trim_start_matches("PHASE_STATUS_").to_ascii_lowercase()).unwrap_or_default() }),
        Ok(pb::ItemKind::Task) => json!({
            "due_on": (!item.due_on.is_empty()).then_some(&item.due_on),
            "for": pb::Assignee::try_from(item.assignee)
                .map(|a| a.as_str_name().trim_start_matches("ASSIGNEE_").to_ascii_lowercase()).unwrap_or_default(),
            "done_at": time(item.completed_at.as_ref()),
        }),
        Ok(pb::ItemKind::Event) => json!({
            "starts_at": time(item.starts_at.as_ref()), "ends_at": time(item.ends_at.as_ref()), "location": item.location,
        }),
        _ => json!({}),
    };
    if let (Some(value), Value::Object(extra)) = (value.as_object_mut(), extra) {
        value.extend(extra);
    }
    value
}

/// Every row a paged query gives, page after page.
async fn all_pages<T, F, Fut>(fetch: F, id_of: impl Fn(&T) -> uuid::Uuid) -> ServiceResult<Vec<T>>
where
    F: Fn(PageRequest) -> Fut,
    Fut: std::future::Future<Output = ServiceResult<Vec<T>>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let rows = fetch(PageRequest { size: PageRequest::MAX_SIZE, after }).await?;
        let full = rows.len() >= PageRequest::MAX_SIZE as usize;
        after = rows.last().map(&id_of);
        all.extend(rows);
        if !full {
            return Ok(all);
        }
    }
}

fn time(t: Option<&prost_types::Timestamp>) -> Value {
    t.and_then(from_timestamp).map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

/// Sends one part; `false` when the receiver has gone (the download was cancelled).
async fn send(out: &Sender<Result<pb::ExportPart, Status>>, part: export_part::Part) -> bool {
    out.send(Ok(pb::ExportPart { part: Some(part) })).await.is_ok()
}

async fn entry(out: &Sender<Result<pb::ExportPart, Status>>, path: &str, bytes: &[u8]) -> ServiceResult<()> {
    if !send(out, export_part::Part::Entry(path.to_owned())).await {
        return Ok(());
    }
    for chunk in bytes.chunks(PART) {
        if !send(out, export_part::Part::Chunk(chunk.to_vec())).await {
            return Ok(());
        }
    }
    Ok(())
}

/// The human-readable copy: one printable HTML page, everything escaped.
fn render_document(doc: &Value) -> String {
    let text = |v: &Value| escape(v.as_str().unwrap_or_default());
    let w = &doc["workspace"];
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Ohjaus</title>\
         <style>body{font-family:sans-serif;max-width:50em;margin:2em auto}.meta{color:#555;font-size:90%}\
         article{border-top:1px solid #ccc;padding:.5em 0}table{border-collapse:collapse}td,th{padding:.2em .6em;text-align:left}</style>\
         </head><body>",
    );
    html.push_str(&format!("<h1>{}</h1>", text(&w["title"])));
    html.push_str(&format!(
        "<p class=\"meta\">{} · {} · {}</p>",
        text(&w["kind"]),
        text(&w["state"]),
        text(&w["created_at"])
    ));
    html.push_str("<h2>Members / Jäsenet / Medlemmar</h2><ul>");
    for m in doc["members"].as_array().into_iter().flatten() {
        html.push_str(&format!("<li>{} ({})</li>", text(&m["name"]), text(&m["role"])));
    }
    html.push_str("</ul><h2>Messages / Viestit / Meddelanden</h2>");
    for m in doc["messages"].as_array().into_iter().flatten() {
        html.push_str(&format!(
            "<article><p class=\"meta\">{} · {}</p><p>{}</p>",
            text(&m["author_name"]),
            text(&m["created_at"]),
            text(&m["body"]).replace('\n', "<br>")
        ));
        for a in m["attachments"].as_array().into_iter().flatten() {
            html.push_str(&format!("<p>📎 <a href=\"{}\">{}</a></p>", text(&a["path"]), text(&a["name"])));
        }
        html.push_str("</article>");
    }
    let sections = [
        ("phases", "Phases / Vaiheet / Faser"),
        ("tasks", "Tasks / Tehtävät / Uppgifter"),
        ("events", "Events / Tapahtumat / Händelser"),
        ("notes", "Notes / Muistiinpanot / Anteckningar"),
    ];
    for (key, heading) in sections {
        let items = doc["guidance"][key].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            continue;
        }
        html.push_str(&format!("<h2>{heading}</h2>"));
        for i in &items {
            let when = ["status", "due_on", "done_at", "starts_at", "ends_at", "location"]
                .iter()
                .filter_map(|k| i[*k].as_str().filter(|v| !v.is_empty()).map(|v| format!("{k}: {}", escape(v))))
                .collect::<Vec<_>>()
                .join(" · ");
            html.push_str(&format!(
                "<article><h3>{}</h3><p class=\"meta\">{} · {}</p><p>{}</p></article>",
                text(&i["title"]),
                text(&i["author_name"]),
                when,
                text(&i["body"]).replace('\n', "<br>")
            ));
        }
    }
    if let Some(summary) = doc["summary"]["text"].as_str() {
        html.push_str(&format!(
            "<h2>Summary / Yhteenveto / Sammanfattning</h2><p class=\"meta\">{}</p><p>{}</p>",
            text(&doc["summary"]["written_by"]),
            escape(summary).replace('\n', "<br>")
        ));
    }
    html.push_str("<h2>Access log / Käyttöloki / Åtkomstlogg</h2><table>");
    for a in doc["access_log"].as_array().into_iter().flatten() {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&a["at"]),
            text(&a["actor_name"]),
            text(&a["actor_role"]),
            text(&a["what"])
        ));
    }
    html.push_str("</table></body></html>");
    html
}
