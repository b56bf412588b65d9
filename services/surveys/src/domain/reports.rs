//! The reports, without I/O: the period asked, who may read which scope, and the report itself
//! computed from de-identified facts (place, customer pseudonym, time, item, value) with one
//! disclosure-control pattern per item over the whole place hierarchy of the report.
//!
//! A cell is a place (the platform, an organisation, an office) in the period. Its customers
//! are the distinct customers with an answer to the item there; each customer counts with her
//! latest value (mean and band shares). Impact is her latest minus her first value in the
//! period, for customers with at least two answers there; its customers are counted in a table
//! of their own and suppressed by its own pattern, and impact is shown only where both the
//! cell and its impact pass (publishing less than a safe pattern allows never reveals more).
//! No total score: items are never added together.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use ohjaus_platform::{
    auth::{Principal, Role},
    error::{ErrorCode, FieldViolation},
    ids::parse_canonical,
    proto::surveys::v1 as pb,
    service::ServiceError,
};
use uuid::Uuid;

use super::disclosure::{self, Hierarchy, Pattern, Table, Threshold};

/// The period of a report: its kind and its first and last month (`YYYY-MM`, inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub text: String,
    pub kind: &'static str,
    pub first: String,
    pub last: String,
}

impl Period {
    /// "2026-03", "2026-Q1", "2026" or a range of months "2025-01/2026-12".
    pub fn parse(text: &str) -> Result<Self, FieldViolation> {
        let text = text.trim();
        let invalid = || FieldViolation::new("period", "invalid-report-period");
        let year = |s: &str| s.parse::<i32>().ok().filter(|y| (2000..=9999).contains(y) && s.len() == 4);
        let month = |s: &str| -> Option<(i32, u32)> {
            let (y, m) = s.split_once('-')?;
            let m = m.parse::<u32>().ok().filter(|m| (1..=12).contains(m) && s.len() == 7)?;
            Some((year(y)?, m))
        };
        let month_text = |(y, m): (i32, u32)| format!("{y:04}-{m:02}");
        if let Some((from, to)) = text.split_once('/') {
            let (from, to) = (month(from).ok_or_else(invalid)?, month(to).ok_or_else(invalid)?);
            if from > to || to.0 - from.0 > 10 {
                return Err(invalid());
            }
            return Ok(Self { text: text.to_owned(), kind: "range", first: month_text(from), last: month_text(to) });
        }
        if let Some((y, q)) = text.split_once("-Q") {
            let y = year(y).ok_or_else(invalid)?;
            let q = q.parse::<u32>().ok().filter(|q| (1..=4).contains(q) && text.len() == 7).ok_or_else(invalid)?;
            return Ok(Self {
                text: text.to_owned(),
                kind: "quarter",
                first: month_text((y, q * 3 - 2)),
                last: month_text((y, q * 3)),
            });
        }
        if let Some(m) = month(text) {
            return Ok(Self { text: text.to_owned(), kind: "month", first: month_text(m), last: month_text(m) });
        }
        let y = year(text).ok_or_else(invalid)?;
        Ok(Self { text: text.to_owned(), kind: "year", first: month_text((y, 1)), last: month_text((y, 12)) })
    }

    /// Whether a monthly report's month has ended at `now` (then it is published and frozen).
    pub fn is_closed_month(&self, now: DateTime<Utc>) -> bool {
        self.kind == "month" && month_of(now) > self.last
    }
}

/// The month (`YYYY-MM`, UTC) a time falls in.
pub fn month_of(at: DateTime<Utc>) -> String {
    let date: NaiveDate = at.date_naive();
    format!("{:04}-{:02}", date.year(), date.month())
}

/// Whose report: one organisation, or the whole platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Platform,
    Organization(Uuid),
}

impl Scope {
    pub fn key(self) -> String {
        match self {
            Scope::Platform => "platform".to_owned(),
            Scope::Organization(id) => id.to_string(),
        }
    }
}

/// `GetReport`, parsed and authorized.
#[derive(Clone, Debug)]
pub struct GetReport {
    pub scope: Scope,
    pub instrument_id: String,
    pub period: Period,
}

impl GetReport {
    /// The platform's report is the operator's; an organisation's is its supervisors' and main
    /// users' (and the operator's). An organisation the caller does not belong to is not found.
    pub fn parse(principal: &Principal, request: &pb::GetReportRequest) -> Result<Self, ServiceError> {
        let scope = if request.organization_id.trim().is_empty() {
            if !principal.is_operator() {
                return Err(ErrorCode::PermissionDenied.into());
            }
            Scope::Platform
        } else {
            let id = parse_canonical(request.organization_id.trim()).ok_or_else(ServiceError::not_found)?;
            if !principal.is_operator() {
                if !principal.belongs_to(id) || matches!(principal, Principal::IntegrationClient { .. }) {
                    return Err(ServiceError::not_found());
                }
                if !(principal.has_role(id, Role::Supervisor) || principal.has_role(id, Role::Admin)) {
                    return Err(ErrorCode::PermissionDenied.into());
                }
            }
            Scope::Organization(id)
        };
        let period = Period::parse(&request.period).map_err(ServiceError::from)?;
        let instrument_id = match request.instrument_id.trim() {
            "" => "3x10d".to_owned(),
            id => id.to_owned(),
        };
        Ok(Self { scope, instrument_id, period })
    }
}

/// One answered item (or one rated feedback statement) as the reports see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fact {
    pub organization: Uuid,
    pub office: Uuid,
    /// A one-way pseudonym of the customer.
    pub customer: i64,
    /// Orders one customer's answers (microseconds since the epoch).
    pub at: i64,
    /// The item's (the statement's) number.
    pub item: u32,
    pub value: u32,
}

/// A band of values reported together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Band {
    pub key: String,
    pub from: u32,
    pub to: u32,
}

/// What the report is about: items (or statements) with their keys, and the bands.
#[derive(Clone, Debug)]
pub struct Measure {
    pub items: Vec<(u32, String)>,
    pub bands: Vec<Band>,
    /// Whether impact (change within the period) is reported.
    pub impact: bool,
}

/// The places of a report, parents before children.
#[derive(Clone, Debug)]
pub struct Places {
    pub nodes: Vec<pb::ReportNode>,
    hierarchy: Hierarchy,
    /// Each office's node and its ancestors (the office first).
    chains: HashMap<Uuid, Vec<usize>>,
}

impl Places {
    /// The scope's root and, below it, the organisations (platform) and offices where any fact is.
    pub fn new<'a>(scope: Scope, facts: impl IntoIterator<Item = &'a Fact>) -> Result<Self, disclosure::TableError> {
        let mut offices: Vec<(Uuid, Uuid)> = facts.into_iter().map(|f| (f.organization, f.office)).collect();
        offices.sort_unstable();
        offices.dedup();
        let mut places = Self { nodes: Vec::new(), hierarchy: Hierarchy::new(), chains: HashMap::new() };
        let root = places.add(scope.key(), if scope == Scope::Platform { "platform" } else { "organization" }, None)?;
        let mut organization: Option<(Uuid, usize)> = None;
        for (org, office) in offices {
            let org_node = match (scope, organization) {
                (Scope::Organization(_), _) => root,
                (Scope::Platform, Some((id, node))) if id == org => node,
                (Scope::Platform, _) => {
                    let node = places.add(org.to_string(), "organization", Some(root))?;
                    organization = Some((org, node));
                    node
                }
            };
            let node = places.add(office.to_string(), "office", Some(org_node))?;
            let chain = if org_node == root { vec![node, root] } else { vec![node, org_node, root] };
            places.chains.insert(office, chain);
        }
        Ok(places)
    }

    fn add(&mut self, id: String, kind: &str, parent: Option<usize>) -> Result<usize, disclosure::TableError> {
        let node = self.hierarchy.add(id.clone(), parent)?;
        let parent = parent.and_then(|p| self.nodes.get(p)).map(|p| p.id.clone()).unwrap_or_default();
        self.nodes.push(pb::ReportNode { id, kind: kind.to_owned(), parent });
        Ok(node)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn suppress(&self, counts: &[u64], threshold: Threshold) -> Result<Pattern, disclosure::TableError> {
        let mut table = Table::new(vec![self.hierarchy.clone()])?;
        for (node, count) in counts.iter().enumerate() {
            table.set(&[node], *count)?;
        }
        Ok(disclosure::suppress(&table, threshold))
    }

    /// The nodes of an office's chain, the office first.
    pub fn chain(&self, office: Uuid) -> &[usize] {
        self.chains.get(&office).map_or(&[], Vec::as_slice)
    }
}

/// One customer's answers to one item under one place.
#[derive(Clone, Copy, Debug)]
struct Track {
    first: (i64, u32),
    latest: (i64, u32),
    answers: u32,
}

/// The cells of every item (statement): statistics under one disclosure pattern per item.
pub fn cells(
    places: &Places,
    measure: &Measure,
    facts: &[Fact],
    threshold: Threshold,
) -> Result<Vec<(u32, String, Vec<pb::ReportCell>)>, disclosure::TableError> {
    let mut by_item: HashMap<u32, Vec<&Fact>> = HashMap::new();
    for fact in facts {
        by_item.entry(fact.item).or_default().push(fact);
    }
    let mut out = Vec::with_capacity(measure.items.len());
    for (item, key) in &measure.items {
        let mut tracks: Vec<HashMap<i64, Track>> = vec![HashMap::new(); places.len()];
        for fact in by_item.get(item).map_or(&[][..], Vec::as_slice) {
            for node in places.chain(fact.office) {
                tracks[*node]
                    .entry(fact.customer)
                    .and_modify(|t| {
                        t.answers += 1;
                        if (fact.at, fact.value) < t.first {
                            t.first = (fact.at, fact.value);
                        }
                        if (fact.at, fact.value) > t.latest {
                            t.latest = (fact.at, fact.value);
                        }
                    })
                    .or_insert(Track { first: (fact.at, fact.value), latest: (fact.at, fact.value), answers: 1 });
            }
        }
        let counts: Vec<u64> = tracks.iter().map(|t| t.len() as u64).collect();
        let changes: Vec<Vec<i64>> = tracks
            .iter()
            .map(|t| {
                t.values().filter(|t| t.answers >= 2).map(|t| i64::from(t.latest.1) - i64::from(t.first.1)).collect()
            })
            .collect();
        let pattern = places.suppress(&counts, threshold)?;
        let impact_counts: Vec<u64> = changes.iter().map(|c| c.len() as u64).collect();
        let impact_pattern = if measure.impact { Some(places.suppress(&impact_counts, threshold)?) } else { None };
        let cells = places
            .nodes
            .iter()
            .enumerate()
            .map(|(node, place)| {
                if !pattern.is_published(node) {
                    return pb::ReportCell { node: place.id.clone(), suppressed: true, ..Default::default() };
                }
                let latest: Vec<u32> = tracks[node].values().map(|t| t.latest.1).collect();
                let impact = impact_pattern.as_ref().map(|p| impact_cell(p.is_published(node), &changes[node]));
                pb::ReportCell {
                    node: place.id.clone(),
                    suppressed: false,
                    customers: counts[node],
                    mean: mean(latest.iter().map(|v| f64::from(*v))),
                    bands: measure
                        .bands
                        .iter()
                        .map(|b| pb::BandShare {
                            band: b.key.clone(),
                            share: share(latest.iter().filter(|v| (b.from..=b.to).contains(*v)).count(), latest.len()),
                        })
                        .collect(),
                    impact,
                }
            })
            .collect();
        out.push((*item, key.clone(), cells));
    }
    Ok(out)
}

fn impact_cell(published: bool, changes: &[i64]) -> pb::Impact {
    if !published {
        return pb::Impact { suppressed: true, ..Default::default() };
    }
    let n = changes.len();
    pb::Impact {
        suppressed: false,
        customers: n as u64,
        mean_change: mean(changes.iter().map(|c| *c as f64)),
        improved: share(changes.iter().filter(|c| **c > 0).count(), n),
        unchanged: share(changes.iter().filter(|c| **c == 0).count(), n),
        worse: share(changes.iter().filter(|c| **c < 0).count(), n),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { round(sum / n as f64) }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { round(part as f64 / whole as f64) }
}

/// Three decimals: more would only pretend a precision the data does not have.
fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Which node each free text is shown under: the nearest published place at or above its
/// office (by the pattern of distinct feedback givers); `None` when no place above it is
/// published.
pub fn text_places(
    places: &Places,
    givers: &[(Uuid, i64)],
    offices_of_texts: &[Uuid],
    threshold: Threshold,
) -> Result<Vec<Option<usize>>, disclosure::TableError> {
    let mut sets: Vec<std::collections::HashSet<i64>> = vec![Default::default(); places.len()];
    for (office, customer) in givers {
        for node in places.chain(*office) {
            sets[*node].insert(*customer);
        }
    }
    let counts: Vec<u64> = sets.iter().map(|s| s.len() as u64).collect();
    let pattern = places.suppress(&counts, threshold)?;
    Ok(offices_of_texts
        .iter()
        .map(|office| places.chain(*office).iter().copied().find(|n| pattern.is_published(*n)))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn measure() -> Measure {
        Measure {
            items: vec![(1, "health".into())],
            bands: vec![
                Band { key: "low".into(), from: 0, to: 5 },
                Band { key: "mid".into(), from: 6, to: 7 },
                Band { key: "high".into(), from: 8, to: 10 },
            ],
            impact: true,
        }
    }

    fn facts(org: Uuid, office: Uuid, customers: std::ops::Range<i64>, rounds: i64) -> Vec<Fact> {
        customers
            .flat_map(|c| {
                (0..rounds).map(move |r| Fact {
                    organization: org,
                    office,
                    customer: c,
                    at: r,
                    item: 1,
                    value: 4 + u32::try_from(r).unwrap(),
                })
            })
            .collect()
    }

    #[test]
    fn periods() {
        let p = Period::parse("2026-Q2").unwrap();
        assert_eq!((p.kind, p.first.as_str(), p.last.as_str()), ("quarter", "2026-04", "2026-06"));
        let p = Period::parse("2026").unwrap();
        assert_eq!((p.kind, p.first.as_str(), p.last.as_str()), ("year", "2026-01", "2026-12"));
        let p = Period::parse("2025-01/2026-12").unwrap();
        assert_eq!((p.kind, p.first.as_str(), p.last.as_str()), ("range", "2025-01", "2026-12"));
        assert_eq!(Period::parse("2026-03").unwrap().kind, "month");
        for bad in ["", "2026-13", "2026-Q5", "26", "2026-1", "2026-03/2025-01", "x"] {
            assert_eq!(Period::parse(bad).unwrap_err().reason, "invalid-report-period", "{bad}");
        }
    }

    /// 14 customers in one office and 30 in another: the small office is suppressed, and so
    /// is the other (else the organisation minus it would give the small one).
    #[test]
    fn a_small_office_and_its_complement_are_suppressed() {
        let (org, small, large) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut all = facts(org, small, 0..14, 2);
        all.extend(facts(org, large, 100..130, 2));
        let places = Places::new(Scope::Organization(org), &all).unwrap();
        let cells = cells(&places, &measure(), &all, Threshold::default()).unwrap();
        let shown: Vec<bool> = cells[0].2.iter().map(|c| !c.suppressed).collect();
        // The organisation alone is published; both offices are suppressed.
        assert_eq!(shown, [true, false, false]);
        let org_cell = &cells[0].2[0];
        assert_eq!(org_cell.customers, 44);
        assert_eq!(org_cell.mean, 5.0);
        let impact = org_cell.impact.as_ref().unwrap();
        assert_eq!((impact.customers, impact.mean_change, impact.improved), (44, 1.0, 1.0));
    }

    #[test]
    fn fifteen_in_each_office_are_shown() {
        let (org, a, b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut all = facts(org, a, 0..15, 1);
        all.extend(facts(org, b, 100..130, 1));
        let places = Places::new(Scope::Organization(org), &all).unwrap();
        let cells = cells(&places, &measure(), &all, Threshold::default()).unwrap();
        assert!(cells[0].2.iter().all(|c| !c.suppressed));
        // One answer each: no impact, and its empty table suppresses nothing that exists.
        assert_eq!(cells[0].2[1].impact.as_ref().unwrap().customers, 0);
        assert_eq!(cells[0].2[1].bands[0].share, 1.0);
    }
}
