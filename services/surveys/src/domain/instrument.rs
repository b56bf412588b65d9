//! Instruments as versioned data: a file (TOML) parsed into an [`Instrument`] with every
//! violation collected, the bands of its scale, and the rule that a version never changes.
//!
//! An instrument has no total score: nothing here adds items together, and nothing may.

use ohjaus_platform::error::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};

/// Longest instrument id and item or band key, in characters.
pub const KEY_MAX: usize = 40;
/// Longest text of an instrument (a label, an item, a note), in characters.
pub const TEXT_MAX: usize = 500;
/// Most items an instrument may have.
pub const ITEMS_MAX: usize = 50;
/// Highest value a scale may reach.
pub const SCALE_MAX: u32 = 100;
/// Largest instrument file accepted, in bytes.
pub const DOCUMENT_MAX: usize = 64 * 1024;

/// A text in each of the three languages, none of them blank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    pub fi: String,
    pub sv: String,
    pub en: String,
}

/// A labelled point of the scale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub value: u32,
    pub label: Localized,
}

/// The answer scale: whole numbers `min..=max`, its ends (and any middle) labelled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    pub min: u32,
    pub max: u32,
    pub anchors: Vec<Anchor>,
}

/// A range of the scale reported together; the bands cover the scale without gaps or overlaps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    pub key: String,
    pub from: u32,
    pub to: u32,
    pub label: Localized,
}

/// One question: numbered from 1 in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub number: u32,
    pub key: String,
    pub label: Localized,
    pub text: Localized,
}

/// An instrument version as parsed from its file. Two loads of one `(id, version)` must be equal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub id: String,
    pub version: u32,
    pub name: Localized,
    pub attribution: String,
    pub text_sources: Localized,
    pub prompt: Localized,
    pub scale: Scale,
    pub bands: Vec<Band>,
    pub items: Vec<Item>,
}

impl Instrument {
    /// Parses an instrument file, reporting every violation at once (field paths such as
    /// `items[2].text.sv`). A file that is not TOML of this shape is one `document` violation.
    pub fn parse(document: &str) -> Result<Self, Vec<FieldViolation>> {
        if document.len() > DOCUMENT_MAX {
            return Err(vec![FieldViolation::new("document", "field-too-long")]);
        }
        let raw: raw::Instrument =
            toml::from_str(document).map_err(|_| vec![FieldViolation::new("document", "instrument-unreadable")])?;
        let mut v = Violations::new();
        let id = v.check(key("id", &raw.id));
        let version = v.check(version(raw.version));
        let name = check_localized(&mut v, "name", &raw.name);
        let attribution = v.check(text("attribution", &raw.attribution));
        let text_sources = check_localized(&mut v, "text_sources", &raw.text_sources);
        let prompt = check_localized(&mut v, "prompt", &raw.prompt);
        let scale = scale(&mut v, &raw.scale);
        let bands = bands(&mut v, &raw.bands, scale.as_ref());
        let items = items(&mut v, &raw.items);
        v.finish_with(|| {
            Some(Self {
                id: id?,
                version: version?,
                name: name?,
                attribution: attribution?,
                text_sources: text_sources?,
                prompt: prompt?,
                scale: scale?,
                bands: bands?,
                items: items?,
            })
        })
        .map_err(|failure| failure.violations)
    }

    /// The band a value of the scale falls in; `None` outside the scale.
    pub fn band_of(&self, value: u32) -> Option<&Band> {
        self.bands.iter().find(|b| (b.from..=b.to).contains(&value))
    }

    /// Whether `value` is a point of the scale.
    pub fn on_scale(&self, value: u32) -> bool {
        (self.scale.min..=self.scale.max).contains(&value)
    }
}

/// What loading a version means next to what is stored under the same `(id, version)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loading {
    /// Nothing stored: store it.
    New,
    /// The same content: nothing to do.
    Unchanged,
    /// Other content under a version already loaded: refused, a change is a new version.
    Changed,
}

pub fn loading(stored: Option<&Instrument>, loaded: &Instrument) -> Loading {
    match stored {
        None => Loading::New,
        Some(stored) if stored == loaded => Loading::Unchanged,
        Some(_) => Loading::Changed,
    }
}

/// The violation a changed version is refused with.
pub fn changed_version() -> FieldViolation {
    FieldViolation::new("document", "instrument-version-changed")
}

/// The file's shape: what serde reads before the rules are checked.
mod raw {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Instrument {
        pub id: String,
        pub version: i64,
        pub name: BTreeMap<String, String>,
        pub attribution: String,
        pub text_sources: BTreeMap<String, String>,
        pub prompt: BTreeMap<String, String>,
        pub scale: Scale,
        #[serde(default)]
        pub bands: Vec<Band>,
        #[serde(default)]
        pub items: Vec<Item>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Scale {
        pub min: i64,
        pub max: i64,
        #[serde(default)]
        pub anchors: Vec<Anchor>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Anchor {
        pub value: i64,
        pub label: BTreeMap<String, String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Band {
        pub key: String,
        pub from: i64,
        pub to: i64,
        pub label: BTreeMap<String, String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Item {
        pub number: i64,
        pub key: String,
        pub label: BTreeMap<String, String>,
        pub text: BTreeMap<String, String>,
    }
}

fn key(field: &str, value: &str) -> Result<String, FieldViolation> {
    let well_formed = !value.is_empty()
        && value.chars().count() <= KEY_MAX
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-');
    if well_formed { Ok(value.to_owned()) } else { Err(FieldViolation::new(field, "instrument-key-invalid")) }
}

fn version(value: i64) -> Result<u32, FieldViolation> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| FieldViolation::new("version", "instrument-version-invalid"))
}

fn text(field: &str, value: &str) -> Result<String, FieldViolation> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(FieldViolation::new(field, "field-required"))
    } else if trimmed.chars().count() > TEXT_MAX {
        Err(FieldViolation::new(field, "field-too-long"))
    } else {
        Ok(trimmed.to_owned())
    }
}

fn localized_all(
    field: &str,
    texts: &std::collections::BTreeMap<String, String>,
) -> Result<Localized, Vec<FieldViolation>> {
    let mut problems = Vec::new();
    let mut take = |language: &str| match texts.get(language).map(|t| text(&format!("{field}.{language}"), t)) {
        Some(Ok(t)) => Some(t),
        Some(Err(violation)) => {
            problems.push(violation);
            None
        }
        None => {
            problems.push(FieldViolation::new(format!("{field}.{language}"), "field-required"));
            None
        }
    };
    let (fi, sv, en) = (take("fi"), take("sv"), take("en"));
    for language in texts.keys().filter(|l| !["fi", "sv", "en"].contains(&l.as_str())) {
        problems.push(FieldViolation::new(format!("{field}.{language}"), "invalid-language"));
    }
    match (fi, sv, en) {
        (Some(fi), Some(sv), Some(en)) if problems.is_empty() => Ok(Localized { fi, sv, en }),
        _ => Err(problems),
    }
}

/// Checks every language of a text, each problem its own violation.
fn check_localized(
    v: &mut Violations,
    field: &str,
    texts: &std::collections::BTreeMap<String, String>,
) -> Option<Localized> {
    match localized_all(field, texts) {
        Ok(localized) => Some(localized),
        Err(problems) => {
            for problem in problems {
                v.push(problem);
            }
            None
        }
    }
}

fn point(field: &str, value: i64) -> Result<u32, FieldViolation> {
    u32::try_from(value)
        .ok()
        .filter(|v| *v <= SCALE_MAX)
        .ok_or_else(|| FieldViolation::new(field, "instrument-scale-invalid"))
}

fn scale(v: &mut Violations, raw: &raw::Scale) -> Option<Scale> {
    let min = v.check(point("scale.min", raw.min));
    let max = v.check(point("scale.max", raw.max));
    let range = match (min, max) {
        (Some(min), Some(max)) if min < max => Some((min, max)),
        (Some(_), Some(_)) => {
            v.push(FieldViolation::new("scale.max", "instrument-scale-invalid"));
            None
        }
        _ => None,
    };
    let mut anchors = Vec::new();
    let mut previous: Option<u32> = None;
    let mut complete = true;
    for (i, anchor) in raw.anchors.iter().enumerate() {
        let field = format!("scale.anchors[{i}]");
        let value = v.check(point(&format!("{field}.value"), anchor.value));
        let label = check_localized(v, &format!("{field}.label"), &anchor.label);
        if let Some(value) = value {
            let outside = range.is_some_and(|(min, max)| value < min || value > max);
            if outside || previous.is_some_and(|p| p >= value) {
                v.push(FieldViolation::new(format!("{field}.value"), "instrument-anchor-invalid"));
                complete = false;
            }
            previous = Some(value);
        }
        match (value, label) {
            (Some(value), Some(label)) => anchors.push(Anchor { value, label }),
            _ => complete = false,
        }
    }
    let (min, max) = range?;
    // Both ends of the scale are labelled.
    let labelled = |point: u32| raw.anchors.iter().any(|a| a.value == i64::from(point));
    if !labelled(min) || !labelled(max) {
        v.push(FieldViolation::new("scale.anchors", "instrument-scale-ends-unlabelled"));
        return None;
    }
    complete.then_some(Scale { min, max, anchors })
}

fn bands(v: &mut Violations, raw: &[raw::Band], scale: Option<&Scale>) -> Option<Vec<Band>> {
    if raw.is_empty() {
        v.push(FieldViolation::new("bands", "field-required"));
        return None;
    }
    let mut bands = Vec::new();
    let mut complete = true;
    // The next band starts where the previous one ended (the first at the scale's minimum).
    let mut next_from = scale.map(|s| s.min);
    for (i, band) in raw.iter().enumerate() {
        let field = format!("bands[{i}]");
        let key = v.check(key(&format!("{field}.key"), &band.key));
        if raw[..i].iter().any(|b| b.key == band.key) {
            v.push(FieldViolation::new(format!("{field}.key"), "instrument-key-repeated"));
            complete = false;
        }
        let from = v.check(point(&format!("{field}.from"), band.from));
        let to = v.check(point(&format!("{field}.to"), band.to));
        let label = check_localized(v, &format!("{field}.label"), &band.label);
        match (from, to) {
            (Some(from), Some(to)) => {
                if from > to || next_from.is_some_and(|n| n != from) {
                    v.push(FieldViolation::new(format!("{field}.from"), "instrument-bands-not-contiguous"));
                    complete = false;
                }
                next_from = Some(to.saturating_add(1));
            }
            _ => next_from = None,
        }
        match (key, from, to, label) {
            (Some(key), Some(from), Some(to), Some(label)) => bands.push(Band { key, from, to, label }),
            _ => complete = false,
        }
    }
    if let (Some(scale), Some(last)) = (scale, bands.last())
        && last.to != scale.max
    {
        v.push(FieldViolation::new(format!("bands[{}].to", raw.len() - 1), "instrument-bands-not-contiguous"));
        complete = false;
    }
    complete.then_some(bands)
}

fn items(v: &mut Violations, raw: &[raw::Item]) -> Option<Vec<Item>> {
    if raw.is_empty() {
        v.push(FieldViolation::new("items", "field-required"));
        return None;
    }
    if raw.len() > ITEMS_MAX {
        v.push(FieldViolation::new("items", "instrument-too-many-items"));
        return None;
    }
    let mut items = Vec::new();
    let mut complete = true;
    for (i, item) in raw.iter().enumerate() {
        let field = format!("items[{i}]");
        // Numbered 1, 2, 3… in the file's order.
        let expected = i64::try_from(i + 1).unwrap_or(i64::MAX);
        let number = if item.number == expected {
            u32::try_from(item.number).ok()
        } else {
            v.push(FieldViolation::new(format!("{field}.number"), "instrument-items-not-numbered"));
            None
        };
        let key = v.check(key(&format!("{field}.key"), &item.key));
        if raw[..i].iter().any(|b| b.key == item.key) {
            v.push(FieldViolation::new(format!("{field}.key"), "instrument-key-repeated"));
            complete = false;
        }
        let label = check_localized(v, &format!("{field}.label"), &item.label);
        let text = check_localized(v, &format!("{field}.text"), &item.text);
        match (number, key, label, text) {
            (Some(number), Some(key), Some(label), Some(text)) => items.push(Item { number, key, label, text }),
            _ => complete = false,
        }
    }
    complete.then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EMBEDDED_INSTRUMENTS;

    fn three_x_ten_d() -> Instrument {
        Instrument::parse(EMBEDDED_INSTRUMENTS[0]).unwrap()
    }

    fn fields(document: &str) -> Vec<(String, String)> {
        Instrument::parse(document).unwrap_err().into_iter().map(|v| (v.field, v.reason)).collect()
    }

    #[test]
    fn the_shipped_meter_has_diaks_ten_finnish_items_and_the_three_bands() {
        let meter = three_x_ten_d();
        assert_eq!((meter.id.as_str(), meter.version), ("3x10d", 1));
        assert_eq!(meter.attribution, "3X10D® Diak");
        assert_eq!(meter.prompt.fi, "Kun ajattelet nykyhetkeä, kuinka tyytyväinen olet…");
        let finnish: Vec<&str> = meter.items.iter().map(|i| i.text.fi.as_str()).collect();
        assert_eq!(
            finnish,
            [
                "terveydentilaasi",
                "kykyysi voittaa elämässä eteen tulevia vaikeuksia",
                "asumisoloihisi",
                "päivittäiseen pärjäämiseesi",
                "perheeseesi ja läheisiisi",
                "luotettavien ystävien määrään",
                "taloudelliseen tilanteeseesi",
                "omien vahvuuksiesi kehittämiseen (esim. harrastamalla mieluisia asioita)",
                "itsetuntoosi",
                "elämääsi kokonaisuutena",
            ]
        );
        let labels: Vec<&str> = meter.items.iter().map(|i| i.label.fi.as_str()).collect();
        assert_eq!(
            labels,
            [
                "terveys",
                "sinnikkyys",
                "asuminen",
                "arki",
                "perhe",
                "ystävät",
                "talous",
                "harrastaminen",
                "itsetunto",
                "elämä"
            ]
        );
        assert!(meter.text_sources.sv.contains("översättning") && meter.text_sources.en.contains("translation"));
        assert_eq!((meter.scale.min, meter.scale.max), (0, 10));
        let bands: Vec<(u32, u32)> = meter.bands.iter().map(|b| (b.from, b.to)).collect();
        assert_eq!(bands, [(0, 5), (6, 7), (8, 10)]);
        let band = |value| meter.band_of(value).map(|b| b.key.as_str());
        assert_eq!(
            (band(0), band(5), band(6), band(7), band(8), band(10), band(11)),
            (
                Some("dissatisfied"),
                Some("dissatisfied"),
                Some("moderately-satisfied"),
                Some("moderately-satisfied"),
                Some("satisfied"),
                Some("satisfied"),
                None
            )
        );
    }

    #[test]
    fn every_violation_of_a_file_is_reported_at_once() {
        let broken = EMBEDDED_INSTRUMENTS[0]
            .replace("id = \"3x10d\"", "id = \"3X10D\"")
            .replace("version = 1", "version = 0")
            .replace("to = 7", "to = 8")
            .replace("number = 4", "number = 5")
            .replace("sv = \"din självkänsla\", ", "")
            .replace(
                "label = { fi = \"erittäin tyytyväinen\"",
                "label = { de = \"sehr zufrieden\", fi = \"erittäin tyytyväinen\"",
            );
        let found = fields(&broken);
        let expect = |field: &str, reason: &str| {
            assert!(found.contains(&(field.to_owned(), reason.to_owned())), "{field} {reason} missing in {found:?}");
        };
        expect("id", "instrument-key-invalid");
        expect("version", "instrument-version-invalid");
        expect("bands[2].from", "instrument-bands-not-contiguous");
        expect("items[3].number", "instrument-items-not-numbered");
        expect("items[8].text.sv", "field-required");
        expect("scale.anchors[2].label.de", "invalid-language");
        assert_eq!(found.len(), 6, "{found:?}");
    }

    #[test]
    fn a_scale_without_labelled_ends_or_with_a_gap_between_bands_is_refused() {
        let unlabelled = EMBEDDED_INSTRUMENTS[0].replace("value = 10", "value = 9");
        assert!(fields(&unlabelled).contains(&("scale.anchors".into(), "instrument-scale-ends-unlabelled".into())));
        let gap = EMBEDDED_INSTRUMENTS[0].replace("from = 6", "from = 7");
        assert!(fields(&gap).contains(&("bands[1].from".into(), "instrument-bands-not-contiguous".into())));
        let short = EMBEDDED_INSTRUMENTS[0].replace("to = 10", "to = 9");
        assert!(fields(&short).contains(&("bands[2].to".into(), "instrument-bands-not-contiguous".into())));
    }

    #[test]
    fn what_is_not_an_instrument_file_is_one_violation() {
        assert_eq!(fields("not = [toml"), [("document".to_owned(), "instrument-unreadable".to_owned())]);
        assert_eq!(fields("id = \"x\""), [("document".to_owned(), "instrument-unreadable".to_owned())]);
        let unknown = format!("{}\ntotal_score = true\n", EMBEDDED_INSTRUMENTS[0]);
        assert_eq!(fields(&unknown), [("document".to_owned(), "instrument-unreadable".to_owned())]);
    }

    #[test]
    fn a_version_is_never_changed_in_place() {
        let meter = three_x_ten_d();
        assert_eq!(loading(None, &meter), Loading::New);
        assert_eq!(loading(Some(&meter), &meter.clone()), Loading::Unchanged);
        let mut edited = meter.clone();
        edited.items[0].text.en = "your physical health".into();
        assert_eq!(loading(Some(&meter), &edited), Loading::Changed);
        // Comments and spacing are not content.
        let respaced = format!("# a note\n{}", EMBEDDED_INSTRUMENTS[0].replace(" = ", "="));
        assert_eq!(loading(Some(&meter), &Instrument::parse(&respaced).unwrap()), Loading::Unchanged);
    }
}
