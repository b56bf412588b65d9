//! Feedback on guidance: a few statements rated 1–5 and an optional free text. Voluntary, at
//! any time (and when a workspace closes); never shown to anyone as the customer's own.

use std::collections::BTreeMap;

use ohjaus_platform::{
    error::{FieldViolation, Violations},
    ids::parse_canonical,
    proto::surveys::v1 as pb,
    service::ServiceError,
};
use uuid::Uuid;

use super::reports::Band;

/// The longest free text, in characters.
pub const TEXT_MAX: usize = 2000;

/// A statement of the feedback form: number, key and its texts (fi, sv, en).
pub struct Statement {
    pub number: u32,
    pub key: &'static str,
    pub fi: &'static str,
    pub sv: &'static str,
    pub en: &'static str,
}

/// The statements, in the order the form shows them.
pub const STATEMENTS: &[Statement] = &[
    Statement {
        number: 1,
        key: "listened",
        fi: "Minua kuunneltiin",
        sv: "Jag blev lyssnad på",
        en: "I was listened to",
    },
    Statement {
        number: 2,
        key: "helped",
        fi: "Ohjaus auttoi minua eteenpäin",
        sv: "Vägledningen hjälpte mig vidare",
        en: "The guidance helped me move forward",
    },
    Statement {
        number: 3,
        key: "informed",
        fi: "Sain tarvitsemani tiedon",
        sv: "Jag fick den information jag behövde",
        en: "I got the information I needed",
    },
    Statement {
        number: 4,
        key: "recommend",
        fi: "Suosittelisin tätä ohjausta muille",
        sv: "Jag skulle rekommendera den här vägledningen till andra",
        en: "I would recommend this guidance to others",
    },
];

/// The bands of a rating: 1–2 disagree, 3 neither, 4–5 agree.
pub fn bands() -> Vec<Band> {
    vec![
        Band { key: "disagree".into(), from: 1, to: 2 },
        Band { key: "neither".into(), from: 3, to: 3 },
        Band { key: "agree".into(), from: 4, to: 5 },
    ]
}

pub fn statements_pb() -> Vec<pb::FeedbackStatement> {
    STATEMENTS
        .iter()
        .map(|s| pb::FeedbackStatement {
            number: s.number,
            key: s.key.to_owned(),
            text: Some(pb::Localized { fi: s.fi.to_owned(), sv: s.sv.to_owned(), en: s.en.to_owned() }),
        })
        .collect()
}

/// `GiveFeedback`, parsed: at least one rating or a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GiveFeedback {
    pub workspace_id: Uuid,
    pub ratings: BTreeMap<u32, u32>,
    pub text: Option<String>,
}

impl GiveFeedback {
    /// A malformed workspace id is not found; every field problem is named at once.
    pub fn parse(request: &pb::GiveFeedbackRequest) -> Result<Self, ServiceError> {
        let workspace_id = parse_canonical(request.workspace_id.trim()).ok_or_else(ServiceError::not_found)?;
        let mut v = Violations::new();
        let mut ratings = BTreeMap::new();
        for (i, rating) in request.ratings.iter().enumerate() {
            if !STATEMENTS.iter().any(|s| s.number == rating.statement) {
                v.push(FieldViolation::new(format!("ratings[{i}].statement"), "invalid-feedback-statement"));
            } else if ratings.insert(rating.statement, rating.value).is_some() {
                v.push(FieldViolation::new(format!("ratings[{i}].statement"), "repeated-feedback-statement"));
            }
            if !(1..=5).contains(&rating.value) {
                v.push(FieldViolation::new(format!("ratings[{i}].value"), "invalid-feedback-rating"));
            }
        }
        let text: String = request.text.trim().chars().filter(|c| !c.is_control() || *c == '\n').collect();
        if text.chars().count() > TEXT_MAX {
            v.push(FieldViolation::new("text", "too-long"));
        }
        if request.ratings.is_empty() && text.is_empty() {
            v.push(FieldViolation::new("ratings", "field-required"));
        }
        v.finish()?;
        Ok(Self { workspace_id, ratings, text: Some(text).filter(|t| !t.is_empty()) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_problem_at_once() {
        let request = pb::GiveFeedbackRequest {
            workspace_id: Uuid::now_v7().to_string(),
            ratings: vec![
                pb::FeedbackRating { statement: 9, value: 0 },
                pb::FeedbackRating { statement: 1, value: 5 },
                pb::FeedbackRating { statement: 1, value: 4 },
            ],
            text: "x".repeat(TEXT_MAX + 1),
        };
        let ServiceError::Refused(failure) = GiveFeedback::parse(&request).unwrap_err() else { panic!() };
        let reasons: Vec<&str> = failure.violations.iter().map(|v| v.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["invalid-feedback-statement", "invalid-feedback-rating", "repeated-feedback-statement", "too-long"]
        );
    }

    #[test]
    fn a_text_alone_will_do() {
        let request = pb::GiveFeedbackRequest {
            workspace_id: Uuid::now_v7().to_string(),
            ratings: vec![],
            text: "  Kiitos  ".into(),
        };
        assert_eq!(GiveFeedback::parse(&request).unwrap().text.as_deref(), Some("Kiitos"));
    }
}
