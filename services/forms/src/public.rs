//! What visitors reach through the gateway: a published form, its proof-of-work challenge, and
//! sending it. Only the gateway calls these (its service principal); an unpublished or unknown
//! form does not exist.

use ohjaus_platform::{
    auth::Principal,
    error::{Failure, FieldViolation, Violations},
    html::escape,
    i18n::Language,
    mail::Mail,
    proto::forms::v1 as pb,
    service::{ServiceError, ServiceResult, service_only},
    types::Email,
};

use crate::{
    Forms,
    domain::{Definition, Form, FormId, Status, Submission, SubmissionId, answers::Answers, content_aad, proof},
    events,
    grpc::key_owner,
    store,
};

/// The only caller of the public RPCs.
const GATEWAY: &str = "gateway";

impl Forms {
    pub(crate) async fn get_public_form(
        &self,
        principal: &Principal,
        request: pb::GetPublicFormRequest,
    ) -> ServiceResult<pb::PublicForm> {
        service_only(principal, GATEWAY)?;
        let (form, version, definition) = self.published(&request.form_id).await?;
        Ok(pb::PublicForm {
            id: form.id.to_string(),
            organization_id: form.organization_id.to_string(),
            version,
            definition: Some(definition.to_pb()),
        })
    }

    pub(crate) async fn issue_challenge(
        &self,
        principal: &Principal,
        request: pb::IssueChallengeRequest,
    ) -> ServiceResult<pb::Challenge> {
        service_only(principal, GATEWAY)?;
        let (form, _, _) = self.published(&request.form_id).await?;
        let config = &self.inner().config;
        Ok(proof::issue(
            &config.proof_key,
            form.id,
            self.core().now(),
            config.challenge_valid,
            config.challenge_max_number,
        ))
    }

    /// Accepts a visitor's answers: valid for the version the page showed, with a proof of work
    /// that holds and was not used before. Sealed with the submission's own data key.
    pub(crate) async fn submit_form(
        &self,
        principal: &Principal,
        request: pb::SubmitFormRequest,
    ) -> ServiceResult<pb::SubmitFormResponse> {
        service_only(principal, GATEWAY)?;
        let (form, current_version, current) = self.published(&request.form_id).await?;
        // The answers are read against the version the page showed (a page served before a
        // change still sends what the visitor saw); the current version says where they go.
        let (version, definition) = match request.version {
            requested if requested == current_version => (current_version, current.clone()),
            requested => match store::find_definition(self.db(), form.id, requested).await? {
                Some(shown) => (requested, shown),
                None => (current_version, current.clone()),
            },
        };
        let now = self.core().now();
        let config = &self.inner().config;
        let mut v = Violations::new();
        let answers = Answers::parse(&mut v, &definition, &request.language, &request.answers);
        v.finish().map_err(ServiceError::Refused)?;
        let answers = answers.ok_or_else(|| ServiceError::Refused(Failure::invalid(Vec::new())))?;
        let verified = proof::verify(&config.proof_key, &request.proof, form.id, now, config.min_fill)
            .map_err(|violation| ServiceError::invalid(vec![violation]))?;

        let mut tx = self.db().begin().await?;
        if !store::use_challenge(&mut tx, &verified.challenge, verified.expires_at).await? {
            return Err(ServiceError::invalid(vec![FieldViolation::new(proof::FIELD, "proof-used")]));
        }
        let id = SubmissionId::new();
        let key = self.inner().keyring.create(key_owner(id)).await?;
        let sealed = serde_json::to_vec(&answers.content)
            .map_err(|e| ServiceError::corrupt(e.to_string()))
            .and_then(|plain| key.seal(&plain, &content_aad(id)).map_err(|e| ServiceError::corrupt(e.to_string())))?;
        let submission = Submission {
            id,
            form_id: form.id,
            form_version: version,
            organization_id: form.organization_id,
            office_id: current.office_id,
            topic: current.topic.clone(),
            language: answers.language,
            status: Status::New,
            has_email: answers.content.email.is_some(),
            sealed,
            assignee_id: None,
            workspace_id: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let written = async {
            store::insert_submission(&mut tx, &submission).await?;
            // Its organisation's advisors are told (batched, without content).
            store::announce_later(&mut tx, form.organization_id, now).await?;
            let event = events::SubmissionReceived {
                organization_id: form.organization_id.to_string(),
                form_id: form.id.to_string(),
                submission_id: id.to_string(),
                office_id: current.office_id.to_string(),
            };
            self.core().emit(&mut tx, form.organization_id, event).await?;
            self.core().commit(tx).await
        }
        .await;
        if let Err(error) = written {
            // Nothing was stored: the key goes too.
            if let Err(key_error) = self.inner().keyring.delete(key_owner(id)).await {
                tracing::warn!(submission = %id, error = %key_error, "the key of a submission not made stays");
            }
            return Err(error);
        }
        if let Some(address) = answers.content.email.as_deref() {
            self.send_receipt(form.organization_id, answers.language, address).await;
        }
        Ok(pb::SubmitFormResponse { submission_id: id.to_string(), has_email: submission.has_email })
    }

    /// The receipt mail: that the question arrived, nothing of what it says. A mail that cannot
    /// go now is not a reason to lose the question, so a failure is only logged and counted.
    async fn send_receipt(&self, organization: uuid::Uuid, language: Language, address: &str) {
        let Ok(to) = Email::parse("email", address) else { return };
        let name = match self.organization_name(organization, language).await {
            Ok(name) => name,
            Err(error) => {
                tracing::warn!(%error, "no receipt mail: the organisation's name is not available");
                return;
            }
        };
        let args = [("organization", name.as_str())];
        let text = language.text_with("forms-mail-receipt-body", &args);
        let mut html = format!("<!doctype html><html lang=\"{}\"><body>", language.code());
        for paragraph in text.split("\n\n") {
            html.push_str(&format!("<p>{}</p>", escape(paragraph)));
        }
        html.push_str("</body></html>");
        let mail = Mail {
            to,
            subject: language.text_with("forms-mail-receipt-subject", &args),
            text,
            html,
            language: language.code().to_owned(),
        };
        if let Err(error) = self.inner().mailer.send(&mail).await {
            tracing::warn!(%error, "a receipt mail was not sent");
            metrics::counter!("ohjaus_forms_receipt_mail_failed_total").increment(1);
        }
    }

    /// A published form with its current definition and that definition's version.
    async fn published(&self, id: &str) -> ServiceResult<(Form, i64, Definition)> {
        let form = self.form(FormId::parse_ref(id)?).await?;
        match form.definition.clone() {
            Some((version, definition)) if form.published => Ok((form, version, definition)),
            _ => Err(ServiceError::not_found()),
        }
    }
}
