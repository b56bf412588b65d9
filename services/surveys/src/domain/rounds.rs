//! Rounds and answers: who may ask, answer and see them, the answers parsed against their
//! instrument version, and the change between two rounds. No I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ohjaus_platform::{
    auth::Principal,
    error::{ErrorCode, FieldViolation, Violations},
    id_type,
    ids::parse_uuid,
    proto::surveys::v1 as pb,
    service::{RequestKey, ServiceError},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Instrument;

id_type!(
    /// A round: one customer's answers to one instrument version.
    RoundId
);

/// The instrument a round asks when the guide names none.
pub const DEFAULT_INSTRUMENT: &str = "3x10d";

/// When in the guidance the round is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Start,
    Along,
    End,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Along => "along",
            Kind::End => "end",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        match value {
            "start" => Ok(Kind::Start),
            "along" => Ok(Kind::Along),
            "end" => Ok(Kind::End),
            "" => Err(FieldViolation::new(field, "field-required")),
            _ => Err(FieldViolation::new(field, "invalid-round-kind")),
        }
    }
}

/// A caller's place in a workspace, as the workspaces service tells it (`CheckMembership`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The owner guide or another guide of the workspace.
    Guide,
    /// An expert who joined by the customer's consent, seeing what the consents let them see.
    ConsentedExpert(ExpertSight),
    Customer,
    Stranger,
}

/// What the consents in force show an expert: the consenting customers' rounds, and with a
/// "from now on only" consent only those asked since it was accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpertSight {
    pub customers: Vec<Uuid>,
    pub from: Option<DateTime<Utc>>,
}

impl Standing {
    /// From `CheckMembership`'s role (and, for an expert, the sight it answered with).
    pub fn from_role(member: bool, role: &str, sight: ExpertSight) -> Self {
        match (member, role) {
            (true, "owner" | "guide") => Standing::Guide,
            (true, "expert") => Standing::ConsentedExpert(sight),
            (true, "customer") => Standing::Customer,
            _ => Standing::Stranger,
        }
    }
}

/// A round as stored, its answers opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    pub id: RoundId,
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub kind: Kind,
    pub instrument_id: String,
    pub instrument_version: u32,
    pub asked_by: Uuid,
    pub asked_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub answers: Answers,
    pub version: i64,
}

/// The values given, by item number; an item not here has no answer (never 0).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers(pub BTreeMap<u32, u32>);

impl Answers {
    /// The request's answers checked against the instrument: every violation at once.
    pub fn parse(instrument: &Instrument, answers: &[pb::AnswerValue]) -> Result<Self, Vec<FieldViolation>> {
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            if !instrument.items.iter().any(|item| item.number == answer.item) {
                problems.push(FieldViolation::new(format!("answers[{i}].item"), "invalid-item"));
            } else if values.contains_key(&answer.item) {
                problems.push(FieldViolation::new(format!("answers[{i}].item"), "repeated-item"));
            }
            if !instrument.on_scale(answer.value) {
                problems.push(FieldViolation::new(format!("answers[{i}].value"), "invalid-scale-value"));
            }
            values.insert(answer.item, answer.value);
        }
        if problems.is_empty() { Ok(Self(values)) } else { Err(problems) }
    }
}

/// `AskRound`, parsed: every field violation at once.
#[derive(Clone, Debug)]
pub struct AskRound {
    pub workspace_id: Uuid,
    pub customer_id: Uuid,
    pub kind: Kind,
    pub instrument_id: String,
    pub key: RequestKey,
}

impl AskRound {
    pub fn parse(request: &pb::AskRoundRequest) -> Result<Self, ServiceError> {
        let mut v = Violations::new();
        let workspace_id = v.check(parse_uuid("workspace_id", &request.workspace_id));
        let customer_id = v.check(parse_uuid("customer_id", &request.customer_id));
        let kind = v.check(Kind::parse("kind", &request.kind));
        let instrument_id = match request.instrument_id.trim() {
            "" => DEFAULT_INSTRUMENT.to_owned(),
            named => named.to_owned(),
        };
        let key = v.check(RequestKey::parse("ask_round", request, |r| &mut r.request_id));
        Ok(v.finish_with(|| {
            Some(Self { workspace_id: workspace_id?, customer_id: customer_id?, kind: kind?, instrument_id, key: key? })
        })?)
    }
}

/// Only a guide of the workspace asks; to anyone else the workspace is not there.
pub fn may_ask(standing: &Standing) -> Result<(), ErrorCode> {
    if *standing == Standing::Guide { Ok(()) } else { Err(ErrorCode::NotFound) }
}

/// Who sees a round: its customer (in a group workspace each customer only her own), the
/// workspace's guides, and an expert by the consent's sight rules (the consenting customers'
/// rounds, and with "from now on only" those asked since).
pub fn may_see(principal: &Principal, standing: &Standing, round: &Round) -> bool {
    match standing {
        Standing::Guide => true,
        Standing::ConsentedExpert(sight) => {
            sight.customers.contains(&round.customer_id) && sight.from.is_none_or(|from| round.asked_at >= from)
        }
        Standing::Customer => {
            matches!(principal, Principal::Customer { customer_id } if *customer_id == round.customer_id)
        }
        Standing::Stranger => false,
    }
}

/// Only the round's customer answers, and only until she submits.
pub fn may_answer(principal: &Principal, round: &Round) -> Result<(), ErrorCode> {
    match principal {
        Principal::Customer { customer_id } if *customer_id == round.customer_id => {
            if round.submitted_at.is_some() {
                Err(ErrorCode::WrongState)
            } else {
                Ok(())
            }
        }
        _ => Err(ErrorCode::NotFound),
    }
}

/// One item in two rounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemChange {
    pub item: u32,
    pub key: String,
    pub from: Option<(u32, String)>,
    pub to: Option<(u32, String)>,
    /// `to − from` when both rounds have a value.
    pub change: Option<i64>,
}

/// The change per item between two rounds of one instrument (items matched by key, so that
/// versions may differ). Rounds of different instruments or customers are not comparable.
pub fn compare(from: (&Round, &Instrument), to: (&Round, &Instrument)) -> Result<Vec<ItemChange>, FieldViolation> {
    let ((from_round, from_instrument), (to_round, to_instrument)) = (from, to);
    if from_round.instrument_id != to_round.instrument_id
        || from_round.customer_id != to_round.customer_id
        || from_round.workspace_id != to_round.workspace_id
    {
        return Err(FieldViolation::new("to_round_id", "rounds-not-comparable"));
    }
    let value = |round: &Round, instrument: &Instrument, key: &str| {
        let item = instrument.items.iter().find(|i| i.key == key)?;
        let value = *round.answers.0.get(&item.number)?;
        let band = instrument.band_of(value).map(|b| b.key.clone()).unwrap_or_default();
        Some((value, band))
    };
    Ok(to_instrument
        .items
        .iter()
        .map(|item| {
            let before = value(from_round, from_instrument, &item.key);
            let after = value(to_round, to_instrument, &item.key);
            let change = match (&before, &after) {
                (Some((a, _)), Some((b, _))) => Some(i64::from(*b) - i64::from(*a)),
                _ => None,
            };
            ItemChange { item: item.number, key: item.key.clone(), from: before, to: after, change }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EMBEDDED_INSTRUMENTS;

    fn meter() -> Instrument {
        Instrument::parse(EMBEDDED_INSTRUMENTS[0]).unwrap()
    }

    fn round(customer: Uuid, answers: &[(u32, u32)]) -> Round {
        Round {
            id: RoundId::new(),
            workspace_id: Uuid::nil(),
            customer_id: customer,
            kind: Kind::Start,
            instrument_id: "3x10d".into(),
            instrument_version: 1,
            asked_by: Uuid::now_v7(),
            asked_at: Utc::now(),
            submitted_at: None,
            answers: Answers(answers.iter().copied().collect()),
            version: 1,
        }
    }

    #[test]
    fn answers_off_the_scale_or_the_instrument_are_named_at_once() {
        let given = |item, value| pb::AnswerValue { item, value };
        let refused = Answers::parse(&meter(), &[given(1, 11), given(11, 3), given(2, 4), given(2, 5)]).unwrap_err();
        let fields: Vec<(&str, &str)> = refused.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("answers[0].value", "invalid-scale-value"),
                ("answers[1].item", "invalid-item"),
                ("answers[3].item", "repeated-item")
            ]
        );
        let skipped = Answers::parse(&meter(), &[given(1, 0), given(10, 10)]).unwrap();
        assert_eq!(skipped.0.len(), 2, "a 0 is a value; an item left out has none");
        assert_eq!(skipped.0.get(&1), Some(&0));
        assert_eq!(skipped.0.get(&5), None);
    }

    #[test]
    fn the_change_per_item_has_both_values_with_their_bands() {
        let customer = Uuid::now_v7();
        let first = round(customer, &[(1, 3), (2, 7), (3, 9)]);
        let second = round(customer, &[(1, 8), (3, 9), (4, 5)]);
        let changes = compare((&first, &meter()), (&second, &meter())).unwrap();
        assert_eq!(changes.len(), 10);
        assert_eq!(changes[0].from, Some((3, "dissatisfied".into())));
        assert_eq!(changes[0].to, Some((8, "satisfied".into())));
        assert_eq!(changes[0].change, Some(5));
        assert_eq!((changes[1].to.clone(), changes[1].change), (None, None), "skipped later: no change");
        assert_eq!(changes[2].change, Some(0));
        assert_eq!((changes[3].from.clone(), changes[3].change), (None, None));
        let someone_else = round(Uuid::now_v7(), &[]);
        assert!(compare((&first, &meter()), (&someone_else, &meter())).is_err());
    }

    #[test]
    fn a_customer_sees_and_answers_only_her_own_round() {
        let her = Uuid::now_v7();
        let mut mine = round(her, &[]);
        let me = Principal::Customer { customer_id: her };
        let other = Principal::Customer { customer_id: Uuid::now_v7() };
        assert!(may_see(&me, &Standing::Customer, &mine));
        assert!(!may_see(&other, &Standing::Customer, &mine), "another customer of a group workspace");
        assert!(!may_see(&me, &Standing::Stranger, &mine));
        assert_eq!(may_answer(&other, &mine), Err(ErrorCode::NotFound));
        assert_eq!(may_answer(&me, &mine), Ok(()));
        mine.submitted_at = Some(Utc::now());
        assert_eq!(may_answer(&me, &mine), Err(ErrorCode::WrongState));
        assert_eq!(may_ask(&Standing::ConsentedExpert(ExpertSight::default())), Err(ErrorCode::NotFound));
        assert_eq!(may_ask(&Standing::Guide), Ok(()));
    }

    #[test]
    fn a_consented_expert_sees_the_consenting_customers_rounds_by_the_consents_floor() {
        let (her, another) = (Uuid::now_v7(), Uuid::now_v7());
        let expert = Principal::Expert { person_id: Uuid::now_v7(), memberships: vec![] };
        let before = round(her, &[(1, 5)]);
        let mut since = round(her, &[(1, 6)]);
        since.asked_at = before.asked_at + chrono::Duration::days(2);
        let accepted = before.asked_at + chrono::Duration::days(1);
        let everything = Standing::ConsentedExpert(ExpertSight { customers: vec![her], from: None });
        assert!(may_see(&expert, &everything, &before) && may_see(&expert, &everything, &since));
        let from_now_on = Standing::ConsentedExpert(ExpertSight { customers: vec![her], from: Some(accepted) });
        assert!(!may_see(&expert, &from_now_on, &before), "asked before the consent");
        assert!(may_see(&expert, &from_now_on, &since));
        let other_customers = round(another, &[(1, 2)]);
        assert!(!may_see(&expert, &everything, &other_customers), "a group's customer who gave no consent");
        assert!(may_see(&expert, &Standing::Guide, &other_customers), "the workspace's guides see every round");
    }
}
