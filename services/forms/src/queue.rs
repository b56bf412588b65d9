//! The advisors' queue: the receiving organisation's advisors and guides list submissions,
//! read one (each read logged), claim it, note, change its topic, close it, and reply by email in
//! the visitor's language. Supervisors read; main users do not see what visitors send.

use ohjaus_platform::{
    auth::Principal,
    crypto::DataKey,
    error::{ErrorCode, FieldViolation, Violations},
    grpc::timestamp,
    html::escape,
    ids::{PageRequest, new_id, parse_uuid},
    mail::Mail,
    proto::{forms::v1 as pb, tenants::v1 as tenants_pb},
    service::{ServiceError, ServiceResult},
    types::{Email, Text, Topic},
};
use uuid::Uuid;

use crate::{
    Forms,
    domain::{
        Status, Submission, SubmissionId,
        answers::Content,
        content_aad,
        queue::{self, Filters, TEXT_MAX},
    },
    grpc::key_owner,
    store::{self, SealedEntry},
};

fn note_aad(submission: SubmissionId, id: Uuid) -> Vec<u8> {
    format!("submission:{submission}:note:{id}").into_bytes()
}

fn reply_aad(submission: SubmissionId, id: Uuid) -> Vec<u8> {
    format!("submission:{submission}:reply:{id}").into_bytes()
}

#[track_caller]
fn seal(key: &DataKey, plain: &[u8], aad: &[u8]) -> ServiceResult<Vec<u8>> {
    key.seal(plain, aad).map_err(|e| ServiceError::corrupt(format!("sealing: {e}")))
}

#[track_caller]
fn open(key: &DataKey, sealed: &[u8], aad: &[u8], what: &str) -> ServiceResult<Vec<u8>> {
    key.open(sealed, aad).map_err(|_| ServiceError::corrupt(format!("{what} does not open")))
}

fn text_of(plain: Vec<u8>, what: &str) -> ServiceResult<String> {
    String::from_utf8(plain).map_err(|_| ServiceError::corrupt(format!("{what} is not text")))
}

/// What a list shows: ids, state and times, no content.
pub(crate) fn summary(s: &Submission) -> pb::Submission {
    pb::Submission {
        id: s.id.to_string(),
        organization_id: s.organization_id.to_string(),
        form_id: s.form_id.to_string(),
        form_version: s.form_version,
        office_id: s.office_id.to_string(),
        topic: s.topic.clone(),
        status: s.status.as_str().to_owned(),
        language: s.language.code().to_owned(),
        has_email: s.has_email,
        assignee_id: s.assignee_id.map(|id| id.to_string()).unwrap_or_default(),
        workspace_id: s.workspace_id.map(|id| id.to_string()).unwrap_or_default(),
        version: s.version,
        created_at: Some(timestamp(s.created_at)),
        updated_at: Some(timestamp(s.updated_at)),
        answers: Vec::new(),
        notes: Vec::new(),
        replies: Vec::new(),
    }
}

impl Forms {
    pub(crate) async fn list_submissions(
        &self,
        principal: &Principal,
        request: pb::ListSubmissionsRequest,
    ) -> ServiceResult<pb::ListSubmissionsResponse> {
        let organization = parse_uuid("organization_id", &request.organization_id).map_err(|_| ErrorCode::NotFound)?;
        queue::access(principal, organization)?;
        let mut v = Violations::new();
        let filters = Filters::parse(&mut v, &request);
        let page = v.check(PageRequest::parse(request.page_size, &request.page_token));
        v.finish().map_err(ServiceError::Refused)?;
        let page = page.ok_or_else(|| ServiceError::corrupt("page"))?;
        let rows = store::list_submissions(self.db(), organization, &filters, page).await?;
        let (rows, next_page_token) = page.finish(rows, |s| s.id.as_uuid());
        Ok(pb::ListSubmissionsResponse { submissions: rows.iter().map(summary).collect(), next_page_token })
    }

    /// A submission with its content, the read logged in the same transaction.
    pub(crate) async fn get_submission(
        &self,
        principal: &Principal,
        request: pb::GetSubmissionRequest,
    ) -> ServiceResult<pb::Submission> {
        let submission = self.visible(principal, &request.submission_id).await?;
        let reader = match principal {
            Principal::Expert { person_id, .. } => *person_id,
            _ => return Err(ServiceError::not_found()),
        };
        let mut tx = self.db().begin().await?;
        store::log_read(&mut tx, submission.id, reader, self.core().now()).await?;
        tx.commit().await?;
        self.shown(&submission).await
    }

    pub(crate) async fn claim_submission(
        &self,
        principal: &Principal,
        request: pb::SubmissionActionRequest,
    ) -> ServiceResult<pb::Submission> {
        self.change(principal, &request.submission_id, request.expected_version, |s, me| {
            if matches!(s.status, Status::Closed | Status::Converted) {
                return Err(ErrorCode::WrongState.into());
            }
            s.assignee_id = Some(me);
            if s.status == Status::New {
                s.status = Status::InProgress;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn close_submission(
        &self,
        principal: &Principal,
        request: pb::SubmissionActionRequest,
    ) -> ServiceResult<pb::Submission> {
        self.change(principal, &request.submission_id, request.expected_version, |s, _| {
            if s.status == Status::Converted {
                return Err(ErrorCode::WrongState.into());
            }
            s.status = Status::Closed;
            Ok(())
        })
        .await
    }

    pub(crate) async fn set_submission_topic(
        &self,
        principal: &Principal,
        request: pb::SetSubmissionTopicRequest,
    ) -> ServiceResult<pb::Submission> {
        let topic = Topic::parse("topic", &request.topic).map_err(|v| ServiceError::invalid(vec![v]))?;
        self.change(principal, &request.submission_id, request.expected_version, |s, _| {
            s.topic = topic.as_str().to_owned();
            Ok(())
        })
        .await
    }

    pub(crate) async fn add_submission_note(
        &self,
        principal: &Principal,
        request: pb::AddSubmissionNoteRequest,
    ) -> ServiceResult<pb::Submission> {
        let text = Text::parse("text", &request.text, TEXT_MAX).map_err(|v| ServiceError::invalid(vec![v]))?;
        let submission = self.visible(principal, &request.submission_id).await?;
        let author = queue::may_act(principal, submission.organization_id)?;
        let key = self.key_of(submission.id).await?;
        let id = new_id();
        let note = SealedEntry {
            id,
            by: author,
            sealed: seal(&key, text.as_str().as_bytes(), &note_aad(submission.id, id))?,
            at: self.core().now(),
        };
        let mut tx = self.db().begin().await?;
        store::insert_note(&mut tx, submission.id, &note).await?;
        tx.commit().await?;
        self.shown(&submission).await
    }

    /// Sends the reply to the visitor's address in the visitor's language; kept with the sender
    /// once the mail is on its way.
    pub(crate) async fn reply_to_submission(
        &self,
        principal: &Principal,
        request: pb::ReplyToSubmissionRequest,
    ) -> ServiceResult<pb::Submission> {
        let mut v = Violations::new();
        let text = v.check(Text::parse("text", &request.text, TEXT_MAX));
        let expected = v.check(crate::domain::parse_version(request.expected_version));
        v.finish().map_err(ServiceError::Refused)?;
        let (text, expected) = text.zip(expected).ok_or_else(|| ServiceError::corrupt("reply"))?;
        let current = self.visible(principal, &request.submission_id).await?;
        let sender = queue::may_act(principal, current.organization_id)?;
        if current.version != expected {
            return Err(ErrorCode::VersionMismatch.into());
        }
        if current.status == Status::Converted {
            return Err(ErrorCode::WrongState.into());
        }
        let key = self.key_of(current.id).await?;
        let content = self.content(&current, &key)?;
        let Some(address) = content.email.as_deref().and_then(|a| Email::parse("email", a).ok()) else {
            return Err(FieldViolation::new("submission_id", "no-reply-address").into());
        };
        let now = self.core().now();
        let id = new_id();
        let reply = SealedEntry {
            id,
            by: sender,
            sealed: seal(&key, text.as_str().as_bytes(), &reply_aad(current.id, id))?,
            at: now,
        };
        let changed =
            Submission { status: Status::Answered, version: current.version + 1, updated_at: now, ..current.clone() };
        let mut tx = self.db().begin().await?;
        if !store::update_submission(&mut tx, &changed, expected).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        store::insert_reply(&mut tx, current.id, &reply).await?;
        let organization = self.organization_name(current.organization_id, current.language).await?;
        let language = current.language;
        let paragraphs: Vec<&str> = text.as_str().split("\n\n").collect();
        let mut html = format!("<!doctype html><html lang=\"{}\"><body>", language.code());
        for paragraph in &paragraphs {
            html.push_str(&format!("<p>{}</p>", escape(paragraph).replace('\n', "<br>")));
        }
        html.push_str("</body></html>");
        let mail = Mail {
            to: address,
            subject: language.text_with("forms-mail-reply-subject", &[("organization", &organization)]),
            text: text.as_str().to_owned(),
            html,
            language: language.code().to_owned(),
        };
        self.inner().mailer.send(&mail).await.map_err(|e| ServiceError::peer("mail", e))?;
        tx.commit().await?;
        self.shown(&changed).await
    }

    /// A submission the caller may see (any role of the queue); to anyone else it does not exist.
    pub(crate) async fn visible(&self, principal: &Principal, id: &str) -> ServiceResult<Submission> {
        let id = SubmissionId::parse_ref(id)?;
        let submission = store::find_submission(self.db(), id).await?.ok_or_else(ServiceError::not_found)?;
        queue::access(principal, submission.organization_id)?;
        Ok(submission)
    }

    /// Changes a submission by `apply` for an advisor or a guide, if it is still at `expected`.
    async fn change(
        &self,
        principal: &Principal,
        id: &str,
        expected: i64,
        apply: impl FnOnce(&mut Submission, Uuid) -> ServiceResult<()>,
    ) -> ServiceResult<pb::Submission> {
        let expected = crate::domain::parse_version(expected).map_err(|v| ServiceError::invalid(vec![v]))?;
        let current = self.visible(principal, id).await?;
        let me = queue::may_act(principal, current.organization_id)?;
        if current.version != expected {
            return Err(ErrorCode::VersionMismatch.into());
        }
        let mut changed = current.clone();
        apply(&mut changed, me)?;
        changed.version = current.version + 1;
        changed.updated_at = self.core().now();
        let mut tx = self.db().begin().await?;
        if !store::update_submission(&mut tx, &changed, expected).await? {
            return Err(ErrorCode::VersionMismatch.into());
        }
        tx.commit().await?;
        Ok(summary(&changed))
    }

    pub(crate) async fn key_of(&self, id: SubmissionId) -> ServiceResult<DataKey> {
        self.inner()
            .keyring
            .find(key_owner(id))
            .await?
            .ok_or_else(|| ServiceError::corrupt(format!("submission {id} has no key")))
    }

    pub(crate) fn content(&self, submission: &Submission, key: &DataKey) -> ServiceResult<Content> {
        let plain = open(key, &submission.sealed, &content_aad(submission.id), "submission")?;
        serde_json::from_slice(&plain).map_err(|_| ServiceError::corrupt("submission content"))
    }

    /// The submission with its answers (labelled as the version answered had them), notes and
    /// replies, opened with its key.
    async fn shown(&self, submission: &Submission) -> ServiceResult<pb::Submission> {
        let key = self.key_of(submission.id).await?;
        let content = self.content(submission, &key)?;
        let definition = store::find_definition(self.db(), submission.form_id, submission.form_version).await?;
        let label = |answer_key: &str| {
            definition
                .as_ref()
                .and_then(|d| d.fields.iter().find(|f| f.key == answer_key))
                .map(|f| {
                    let label = f.label.get(submission.language);
                    if label.is_empty() { f.label.fi.clone() } else { label.to_owned() }
                })
                .unwrap_or_else(|| answer_key.to_owned())
        };
        let mut shown = summary(submission);
        shown.answers = content
            .answers
            .iter()
            .map(|a| pb::ShownAnswer { key: a.key.clone(), label: label(&a.key), value: a.value.clone() })
            .collect();
        for note in store::notes(self.db(), submission.id).await? {
            let text = text_of(open(&key, &note.sealed, &note_aad(submission.id, note.id), "note")?, "note")?;
            shown.notes.push(pb::Note {
                id: note.id.to_string(),
                author_id: note.by.to_string(),
                text,
                created_at: Some(timestamp(note.at)),
            });
        }
        for reply in store::replies(self.db(), submission.id).await? {
            let text = text_of(open(&key, &reply.sealed, &reply_aad(submission.id, reply.id), "reply")?, "reply")?;
            shown.replies.push(pb::Reply {
                id: reply.id.to_string(),
                sender_id: reply.by.to_string(),
                text,
                sent_at: Some(timestamp(reply.at)),
            });
        }
        Ok(shown)
    }

    /// The organisation's name in `language` from the registry (its public profile).
    pub(crate) async fn organization_name(
        &self,
        organization: Uuid,
        language: ohjaus_platform::i18n::Language,
    ) -> ServiceResult<String> {
        let request = tenants_pb::GetPublicProfileRequest { id: organization.to_string() };
        let profile = self
            .inner()
            .tenants
            .clone()
            .get_public_profile(tonic::Request::new(request))
            .await
            .map_err(|s| ohjaus_platform::service::peer_refusal("tenants", &s))?
            .into_inner();
        let name = profile.display_name.map(|t| match language {
            ohjaus_platform::i18n::Language::Fi => t.fi,
            ohjaus_platform::i18n::Language::Sv => {
                if t.sv.is_empty() {
                    t.fi
                } else {
                    t.sv
                }
            }
            ohjaus_platform::i18n::Language::En => {
                if t.en.is_empty() {
                    t.fi
                } else {
                    t.en
                }
            }
        });
        Ok(name.filter(|n| !n.is_empty()).unwrap_or(profile.official_name))
    }
}
