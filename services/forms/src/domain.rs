//! Forms and the rules about them, without I/O.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, FieldViolation, Violations},
    i18n::Language,
    id_type,
    ids::parse_uuid,
    proto::forms::v1 as pb,
    service::{RequestKey, ServiceError},
    types::{HttpsUrl, Text, Topic},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod answers;
pub mod proof;
pub mod queue;

id_type!(
    /// A contact form.
    FormId
);
id_type!(
    /// What a visitor sent through a form.
    SubmissionId
);

/// Longest form name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest title and field label.
pub const LABEL_MAX: usize = 300;
/// Longest intro and help text.
pub const HELP_MAX: usize = 2000;
/// Most fields of a form, choices of a field, origins of a form.
pub const FIELDS_MAX: usize = 30;
pub const CHOICES_MAX: usize = 30;
pub const ORIGINS_MAX: usize = 20;
/// Longest key of a field or a choice.
pub const KEY_MAX: usize = 40;

/// A form as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub id: FormId,
    pub organization_id: Uuid,
    pub name: String,
    pub published: bool,
    /// Counts every change (the ETag).
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The current definition and the version it was made in; none while the form has only a name.
    pub definition: Option<(i64, Definition)>,
}

/// A text in each language a form offers (empty where it offers none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    #[serde(default)]
    pub fi: String,
    #[serde(default)]
    pub sv: String,
    #[serde(default)]
    pub en: String,
}

impl Localized {
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Fi => &self.fi,
            Language::Sv => &self.sv,
            Language::En => &self.en,
        }
    }

    fn set(&mut self, language: Language, value: String) {
        match language {
            Language::Fi => self.fi = value,
            Language::Sv => self.sv = value,
            Language::En => self.en = value,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fi.is_empty() && self.sv.is_empty() && self.en.is_empty()
    }

    /// The text in each of `languages`, required or not; a text in another language is dropped.
    fn parse(
        v: &mut Violations,
        field: &str,
        given: Option<&pb::LocalizedText>,
        languages: &[Language],
        max: usize,
        required: bool,
    ) -> Localized {
        let given = given.cloned().unwrap_or_default();
        let mut parsed = Localized::default();
        for &language in languages {
            let value = match language {
                Language::Fi => &given.fi,
                Language::Sv => &given.sv,
                Language::En => &given.en,
            };
            let name = format!("{field}.{}", language.code());
            if value.trim().is_empty() && !required {
                continue;
            }
            if let Some(text) = v.check(Text::parse(&name, value, max)) {
                parsed.set(language, text.into_string());
            }
        }
        parsed
    }

    pub fn to_pb(&self) -> pb::LocalizedText {
        pb::LocalizedText { fi: self.fi.clone(), sv: self.sv.clone(), en: self.en.clone() }
    }
}

/// What a field asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    ShortText,
    LongText,
    Choice,
    Email,
    Consent,
}

impl FieldKind {
    fn parse(field: &str, value: i32) -> Result<Self, FieldViolation> {
        match pb::FieldKind::try_from(value) {
            Ok(pb::FieldKind::ShortText) => Ok(FieldKind::ShortText),
            Ok(pb::FieldKind::LongText) => Ok(FieldKind::LongText),
            Ok(pb::FieldKind::Choice) => Ok(FieldKind::Choice),
            Ok(pb::FieldKind::Email) => Ok(FieldKind::Email),
            Ok(pb::FieldKind::Consent) => Ok(FieldKind::Consent),
            Ok(pb::FieldKind::Unspecified) | Err(_) => Err(FieldViolation::new(field, "invalid-field-kind")),
        }
    }

    pub fn to_pb(self) -> pb::FieldKind {
        match self {
            FieldKind::ShortText => pb::FieldKind::ShortText,
            FieldKind::LongText => pb::FieldKind::LongText,
            FieldKind::Choice => pb::FieldKind::Choice,
            FieldKind::Email => pb::FieldKind::Email,
            FieldKind::Consent => pb::FieldKind::Consent,
        }
    }

    /// The longest answer, in characters.
    pub fn max_chars(self) -> usize {
        match self {
            FieldKind::ShortText => 200,
            FieldKind::LongText => 5000,
            FieldKind::Email => 254,
            FieldKind::Choice => KEY_MAX,
            FieldKind::Consent => 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub key: String,
    pub label: Localized,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub key: String,
    pub kind: FieldKind,
    pub required: bool,
    pub label: Localized,
    #[serde(default)]
    pub help: Localized,
    #[serde(default)]
    pub choices: Vec<Choice>,
}

/// A form's definition: what it asks, in which languages, and where what it receives goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub languages: Vec<Language>,
    pub title: Localized,
    #[serde(default)]
    pub intro: Localized,
    pub fields: Vec<Field>,
    pub topic: String,
    pub office_id: Uuid,
    pub origins: Vec<String>,
    #[serde(default)]
    pub privacy_url: Localized,
}

impl Definition {
    /// Parses a definition, every violation named at once (`definition.fields[2].label.sv`).
    pub fn parse(v: &mut Violations, given: &pb::Definition) -> Option<Definition> {
        let languages = parse_languages(v, &given.languages);
        let langs = languages.clone().unwrap_or_else(|| vec![Language::Fi]);
        let title = Localized::parse(v, "definition.title", given.title.as_ref(), &langs, LABEL_MAX, true);
        let intro = Localized::parse(v, "definition.intro", given.intro.as_ref(), &langs, HELP_MAX, false);
        let fields = parse_fields(v, &given.fields, &langs);
        let topic = v.check(Topic::parse("definition.topic", &given.topic));
        let office_id = v.check(parse_uuid("definition.office_id", &given.office_id));
        let origins = parse_origins(v, &given.origins);
        let privacy_url = parse_privacy(v, given.privacy_url.as_ref(), &langs);
        Some(Definition {
            languages: languages?,
            title,
            intro,
            fields: fields?,
            topic: topic?.as_str().to_owned(),
            office_id: office_id?,
            origins: origins?,
            privacy_url: privacy_url?,
        })
    }

    pub fn to_pb(&self) -> pb::Definition {
        pb::Definition {
            languages: self.languages.iter().map(|l| l.code().to_owned()).collect(),
            title: Some(self.title.to_pb()),
            intro: Some(self.intro.to_pb()),
            fields: self
                .fields
                .iter()
                .map(|f| pb::Field {
                    key: f.key.clone(),
                    kind: f.kind.to_pb().into(),
                    required: f.required,
                    label: Some(f.label.to_pb()),
                    help: Some(f.help.to_pb()),
                    choices: f
                        .choices
                        .iter()
                        .map(|c| pb::Choice { key: c.key.clone(), label: Some(c.label.to_pb()) })
                        .collect(),
                })
                .collect(),
            topic: self.topic.clone(),
            office_id: self.office_id.to_string(),
            origins: self.origins.clone(),
            privacy_url: Some(self.privacy_url.to_pb()),
        }
    }

    pub fn offers(&self, language: Language) -> bool {
        self.languages.contains(&language)
    }

    /// The field the reply goes to, if the form asks for an address.
    pub fn email_field(&self) -> Option<&Field> {
        self.fields.iter().find(|f| f.kind == FieldKind::Email)
    }
}

fn parse_languages(v: &mut Violations, given: &[String]) -> Option<Vec<Language>> {
    let mut languages = Vec::new();
    let mut valid = true;
    for (i, code) in given.iter().enumerate() {
        match v.check(Language::parse_field(&format!("definition.languages[{i}]"), code.trim())) {
            Some(language) if !languages.contains(&language) => languages.push(language),
            Some(_) => {}
            None => valid = false,
        }
    }
    if !languages.contains(&Language::Fi) {
        v.push(FieldViolation::new("definition.languages", "finnish-required"));
        return None;
    }
    // The order of the platform's languages, whatever order they came in.
    languages.sort_by_key(|l| Language::ALL.iter().position(|a| a == l));
    valid.then_some(languages)
}

fn parse_key(field: &str, value: &str) -> Result<String, FieldViolation> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldViolation::new(field, "field-required"));
    }
    if value.len() > KEY_MAX || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(FieldViolation::new(field, "invalid-key"));
    }
    Ok(value.to_owned())
}

fn parse_fields(v: &mut Violations, given: &[pb::Field], languages: &[Language]) -> Option<Vec<Field>> {
    if given.is_empty() {
        v.push(FieldViolation::new("definition.fields", "field-required"));
        return None;
    }
    if given.len() > FIELDS_MAX {
        v.push(FieldViolation::new("definition.fields", "too-many"));
        return None;
    }
    let mut fields = Vec::new();
    let mut keys = BTreeSet::new();
    let mut emails = 0;
    let mut valid = true;
    for (i, field) in given.iter().enumerate() {
        let name = format!("definition.fields[{i}]");
        let key = v.check(parse_key(&format!("{name}.key"), &field.key));
        if let Some(key) = &key
            && !keys.insert(key.clone())
        {
            v.push(FieldViolation::new(format!("{name}.key"), "duplicate-key"));
            valid = false;
        }
        let kind = v.check(FieldKind::parse(&format!("{name}.kind"), field.kind));
        let label = Localized::parse(v, &format!("{name}.label"), field.label.as_ref(), languages, LABEL_MAX, true);
        let help = Localized::parse(v, &format!("{name}.help"), field.help.as_ref(), languages, HELP_MAX, false);
        let choices = match kind {
            Some(FieldKind::Choice) => parse_choices(v, &name, &field.choices, languages),
            Some(_) if !field.choices.is_empty() => {
                v.push(FieldViolation::new(format!("{name}.choices"), "choices-only-for-choice"));
                None
            }
            _ => Some(Vec::new()),
        };
        if kind == Some(FieldKind::Email) {
            emails += 1;
            if emails > 1 {
                v.push(FieldViolation::new(format!("{name}.kind"), "one-email-field"));
                valid = false;
            }
        }
        match (key, kind, choices) {
            (Some(key), Some(kind), Some(choices)) => {
                fields.push(Field { key, kind, required: field.required, label, help, choices });
            }
            _ => valid = false,
        }
    }
    valid.then_some(fields)
}

fn parse_choices(v: &mut Violations, field: &str, given: &[pb::Choice], languages: &[Language]) -> Option<Vec<Choice>> {
    if given.is_empty() || given.len() > CHOICES_MAX {
        v.push(FieldViolation::new(format!("{field}.choices"), "choice-count"));
        return None;
    }
    let mut choices = Vec::new();
    let mut keys = BTreeSet::new();
    let mut valid = true;
    for (j, choice) in given.iter().enumerate() {
        let name = format!("{field}.choices[{j}]");
        let key = v.check(parse_key(&format!("{name}.key"), &choice.key));
        if let Some(key) = &key
            && !keys.insert(key.clone())
        {
            v.push(FieldViolation::new(format!("{name}.key"), "duplicate-key"));
            valid = false;
        }
        let label = Localized::parse(v, &format!("{name}.label"), choice.label.as_ref(), languages, LABEL_MAX, true);
        match key {
            Some(key) => choices.push(Choice { key, label }),
            None => valid = false,
        }
    }
    valid.then_some(choices)
}

/// A website origin allowed to embed a form: `https://host[:port]`; plain `http` only for the
/// machine itself (development and tests).
pub fn parse_origin(field: &str, value: &str) -> Result<String, FieldViolation> {
    let invalid = || FieldViolation::new(field, "invalid-origin");
    let url = url::Url::parse(value.trim()).map_err(|_| invalid())?;
    let host = url.host_str().ok_or_else(invalid)?;
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !scheme_ok || !bare {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

fn parse_origins(v: &mut Violations, given: &[String]) -> Option<Vec<String>> {
    if given.len() > ORIGINS_MAX {
        v.push(FieldViolation::new("definition.origins", "too-many"));
        return None;
    }
    let mut origins: Vec<String> = Vec::new();
    let mut valid = true;
    for (i, origin) in given.iter().enumerate() {
        match v.check(parse_origin(&format!("definition.origins[{i}]"), origin)) {
            Some(origin) if !origins.contains(&origin) => origins.push(origin),
            Some(_) => {}
            None => valid = false,
        }
    }
    valid.then_some(origins)
}

fn parse_privacy(v: &mut Violations, given: Option<&pb::LocalizedText>, languages: &[Language]) -> Option<Localized> {
    let given = given.cloned().unwrap_or_default();
    let mut parsed = Localized::default();
    let mut valid = true;
    for &language in languages {
        let value = match language {
            Language::Fi => &given.fi,
            Language::Sv => &given.sv,
            Language::En => &given.en,
        };
        if value.trim().is_empty() {
            continue;
        }
        match v.check(HttpsUrl::parse(&format!("definition.privacy_url.{}", language.code()), value)) {
            Some(url) => parsed.set(language, url.as_str().to_owned()),
            None => valid = false,
        }
    }
    valid.then_some(parsed)
}

/// Where a submission is in the advisors' queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    New,
    InProgress,
    Answered,
    Closed,
    /// A workspace was opened from it; it follows the workspace's retention.
    Converted,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::New, Status::InProgress, Status::Answered, Status::Closed, Status::Converted];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InProgress => "in_progress",
            Status::Answered => "answered",
            Status::Closed => "closed",
            Status::Converted => "converted",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// A submission as stored: its answers sealed with its own data key, everything else ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub id: SubmissionId,
    pub form_id: FormId,
    pub form_version: i64,
    pub organization_id: Uuid,
    pub office_id: Uuid,
    pub topic: String,
    pub language: Language,
    pub status: Status,
    pub has_email: bool,
    /// [`answers::Content`] as JSON, sealed.
    pub sealed: Vec<u8>,
    pub assignee_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a submission's sealed content is bound to: it opens as this submission's only.
pub fn content_aad(id: SubmissionId) -> Vec<u8> {
    format!("submission:{id}:content").into_bytes()
}

/// `CreateForm`, parsed: every field violation is reported at once.
#[derive(Clone, Debug)]
pub struct CreateForm {
    pub organization_id: Uuid,
    pub name: Text,
    pub key: RequestKey,
}

impl CreateForm {
    pub fn parse(request: &pb::CreateFormRequest) -> Result<Self, ServiceError> {
        let mut v = Violations::new();
        let organization_id = v.check(parse_uuid("organization_id", &request.organization_id));
        let name = v.check(Text::parse("name", &request.name, NAME_MAX));
        let key = v.check(RequestKey::parse("create_form", request, |r| &mut r.request_id));
        Ok(v.finish_with(|| Some(Self { organization_id: organization_id?, name: name?, key: key? }))?)
    }
}

/// `UpdateForm`, parsed: a new version of the name and definition.
#[derive(Clone, Debug)]
pub struct UpdateForm {
    pub form_id: FormId,
    pub name: Text,
    pub definition: Definition,
    pub expected_version: i64,
}

impl UpdateForm {
    pub fn parse(request: &pb::UpdateFormRequest) -> Result<Self, ServiceError> {
        let form_id = FormId::parse_ref(&request.form_id)?;
        let mut v = Violations::new();
        let name = v.check(Text::parse("name", &request.name, NAME_MAX));
        let definition = match &request.definition {
            Some(definition) => Definition::parse(&mut v, definition),
            None => {
                v.push(FieldViolation::new("definition", "field-required"));
                None
            }
        };
        let expected_version = v.check(parse_version(request.expected_version));
        Ok(v.finish_with(|| {
            Some(Self { form_id, name: name?, definition: definition?, expected_version: expected_version? })
        })?)
    }
}

pub fn parse_version(value: i64) -> Result<i64, FieldViolation> {
    if value < 1 { Err(FieldViolation::new("expected_version", "invalid-version")) } else { Ok(value) }
}

/// Only the organisation's main users manage its forms; to anyone else they do not exist.
pub fn may_manage(principal: &Principal, organization: Uuid) -> Result<(), ErrorCode> {
    if principal.has_role(organization, Role::Admin) { Ok(()) } else { Err(ErrorCode::NotFound) }
}

#[cfg(test)]
mod tests {
    use ohjaus_platform::auth::Membership;

    use super::*;

    #[test]
    fn every_violation_is_reported_at_once() {
        let request =
            pb::CreateFormRequest { organization_id: "x".into(), name: " ".into(), request_id: String::new() };
        let Err(ServiceError::Refused(failure)) = CreateForm::parse(&request) else { panic!("expected a refusal") };
        let fields: Vec<_> = failure.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["organization_id", "name"]);
    }

    #[test]
    fn only_main_users_of_the_organisation_manage_forms() {
        let org = Uuid::now_v7();
        let expert = |roles: Vec<Role>| Principal::Expert {
            person_id: Uuid::now_v7(),
            memberships: vec![Membership { tenant_id: org, roles }],
        };
        assert!(may_manage(&expert(vec![Role::Admin]), org).is_ok());
        assert_eq!(may_manage(&expert(vec![Role::Guide, Role::Advisor]), org), Err(ErrorCode::NotFound));
        assert_eq!(may_manage(&expert(vec![Role::Admin]), Uuid::now_v7()), Err(ErrorCode::NotFound));
        assert_eq!(may_manage(&Principal::Operator { subject: "op".into() }, org), Err(ErrorCode::NotFound));
    }

    #[test]
    fn origins_are_bare_https_origins_or_this_machine() {
        assert_eq!(parse_origin("o", "https://www.example.fi/").unwrap(), "https://www.example.fi");
        assert_eq!(parse_origin("o", "https://Example.fi:8443").unwrap(), "https://example.fi:8443");
        assert_eq!(parse_origin("o", "http://127.0.0.1:9000").unwrap(), "http://127.0.0.1:9000");
        for bad in ["http://example.fi", "https://example.fi/page", "example.fi", "https://a@example.fi", "*"] {
            assert!(parse_origin("o", bad).is_err(), "{bad}");
        }
    }

    fn text(fi: &str) -> Option<pb::LocalizedText> {
        Some(pb::LocalizedText { fi: fi.into(), sv: String::new(), en: String::new() })
    }

    #[test]
    fn a_definition_names_every_problem_with_its_path() {
        let mut v = Violations::new();
        let given = pb::Definition {
            languages: vec!["sv".into(), "de".into()],
            title: None,
            intro: None,
            fields: vec![
                pb::Field { key: "q".into(), kind: 2, required: true, label: text("Kysymys"), ..Default::default() },
                pb::Field { key: "q".into(), kind: 0, required: false, label: text(""), ..Default::default() },
            ],
            topic: "cooking".into(),
            office_id: "nope".into(),
            origins: vec!["http://example.fi".into()],
            privacy_url: None,
        };
        assert!(Definition::parse(&mut v, &given).is_none());
        let failure = v.into_failure();
        let fields: Vec<_> = failure.violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("definition.languages[1]", "invalid-language"),
                ("definition.languages", "finnish-required"),
                ("definition.title.fi", "field-required"),
                ("definition.fields[1].key", "duplicate-key"),
                ("definition.fields[1].kind", "invalid-field-kind"),
                ("definition.fields[1].label.fi", "field-required"),
                ("definition.topic", "invalid-topic"),
                ("definition.office_id", "invalid-id"),
                ("definition.origins[0]", "invalid-origin"),
            ]
        );
    }
}
