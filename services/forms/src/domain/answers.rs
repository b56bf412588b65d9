//! A visitor's answers, parsed against the form's definition: every problem named by its field
//! (`answers.<key>`) at once, so the page can show each beside its field.

use std::collections::BTreeMap;

use ohjaus_platform::{
    error::{FieldViolation, Violations},
    i18n::Language,
    proto::forms::v1 as pb,
    types::{Email, Text},
};
use serde::{Deserialize, Serialize};

use super::{Definition, FieldKind};

/// The value a ticked consent box sends.
pub const CONSENT_GIVEN: &str = "yes";

/// What is sealed with the submission's key: the answers in the form's order and the address
/// a reply goes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub answers: Vec<StoredAnswer>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    pub key: String,
    pub value: String,
}

/// A submission's answers, valid for the form's definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    pub language: Language,
    pub content: Content,
}

impl Answers {
    pub fn parse(v: &mut Violations, definition: &Definition, language: &str, given: &[pb::Answer]) -> Option<Self> {
        let language = match Language::parse_field("language", language.trim()) {
            Ok(language) if definition.offers(language) => Some(language),
            Ok(_) => {
                v.push(FieldViolation::new("language", "invalid-language"));
                None
            }
            Err(violation) => {
                v.push(violation);
                None
            }
        };
        let mut values: BTreeMap<&str, &str> = BTreeMap::new();
        for answer in given {
            let known = definition.fields.iter().any(|f| f.key == answer.key);
            let name = format!("answers.{}", answer.key.chars().take(super::KEY_MAX).collect::<String>());
            if !known {
                v.push(FieldViolation::new(name, "unknown-field"));
            } else if values.insert(answer.key.as_str(), answer.value.as_str()).is_some() {
                v.push(FieldViolation::new(name, "duplicate-key"));
            }
        }
        let mut answers = Vec::new();
        let mut email = None;
        for field in &definition.fields {
            let name = format!("answers.{}", field.key);
            let value = values.get(field.key.as_str()).map_or("", |value| value.trim());
            if value.is_empty() {
                if field.required {
                    let reason = if field.kind == FieldKind::Consent { "consent-required" } else { "field-required" };
                    v.push(FieldViolation::new(name, reason));
                }
                continue;
            }
            let parsed = match field.kind {
                FieldKind::ShortText | FieldKind::LongText => {
                    Text::parse(&name, value, field.kind.max_chars()).map(Text::into_string)
                }
                FieldKind::Email => Email::parse(&name, value).map(|e| {
                    email = Some(e.as_str().to_owned());
                    e.as_str().to_owned()
                }),
                FieldKind::Choice => match field.choices.iter().find(|c| c.key == value) {
                    Some(choice) => Ok(choice.key.clone()),
                    None => Err(FieldViolation::new(&name, "invalid-choice")),
                },
                FieldKind::Consent if value == CONSENT_GIVEN => Ok(CONSENT_GIVEN.to_owned()),
                FieldKind::Consent => Err(FieldViolation::new(&name, "consent-required")),
            };
            if let Some(value) = v.check(parsed) {
                answers.push(StoredAnswer { key: field.key.clone(), value });
            }
        }
        Some(Answers { language: language?, content: Content { answers, email } })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::domain::{Choice, Field, Localized};

    fn definition() -> Definition {
        let label = |fi: &str| Localized { fi: fi.into(), ..Default::default() };
        let field = |key: &str, kind, required| Field {
            key: key.into(),
            kind,
            required,
            label: label(key),
            help: Localized::default(),
            choices: Vec::new(),
        };
        let mut topic = field("aihe", FieldKind::Choice, true);
        topic.choices = vec![Choice { key: "velat".into(), label: label("Velat") }];
        Definition {
            languages: vec![Language::Fi, Language::En],
            title: label("Kysy"),
            intro: Localized::default(),
            fields: vec![
                field("kysymys", FieldKind::LongText, true),
                field("sahkoposti", FieldKind::Email, false),
                topic,
                field("suostumus", FieldKind::Consent, true),
            ],
            topic: "finances".into(),
            office_id: Uuid::now_v7(),
            origins: vec![],
            privacy_url: Localized::default(),
        }
    }

    fn answer(key: &str, value: &str) -> pb::Answer {
        pb::Answer { key: key.into(), value: value.into() }
    }

    #[test]
    fn valid_answers_keep_the_forms_order_and_the_reply_address() {
        let mut v = Violations::new();
        let given = [
            answer("suostumus", "yes"),
            answer("aihe", "velat"),
            answer("kysymys", "  Voinko saada apua?  "),
            answer("sahkoposti", "maija@example.fi"),
        ];
        let parsed = Answers::parse(&mut v, &definition(), "en", &given).unwrap();
        assert!(v.is_empty());
        assert_eq!(parsed.language, Language::En);
        assert_eq!(parsed.content.email.as_deref(), Some("maija@example.fi"));
        let keys: Vec<_> = parsed.content.answers.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["kysymys", "sahkoposti", "aihe", "suostumus"]);
        assert_eq!(parsed.content.answers[0].value, "Voinko saada apua?");
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let mut v = Violations::new();
        let given = [
            answer("kysymys", &"x".repeat(5001)),
            answer("sahkoposti", "not an address"),
            answer("aihe", "ruoka"),
            answer("suostumus", "on"),
            answer("kentta", "?"),
        ];
        Answers::parse(&mut v, &definition(), "sv", &given);
        let failure = v.into_failure();
        let fields: Vec<_> = failure.violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("language", "invalid-language"),
                ("answers.kentta", "unknown-field"),
                ("answers.kysymys", "field-too-long"),
                ("answers.sahkoposti", "invalid-email"),
                ("answers.aihe", "invalid-choice"),
                ("answers.suostumus", "consent-required"),
            ]
        );
    }

    #[test]
    fn required_fields_left_empty_are_named() {
        let mut v = Violations::new();
        Answers::parse(&mut v, &definition(), "fi", &[answer("kysymys", "   ")]);
        let failure = v.into_failure();
        let fields: Vec<_> = failure.violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("answers.kysymys", "field-required"),
                ("answers.aihe", "field-required"),
                ("answers.suostumus", "consent-required"),
            ]
        );
    }
}
