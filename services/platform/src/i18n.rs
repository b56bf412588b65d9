//! User-facing texts in Finnish, Swedish and English (Fluent), and language negotiation.

use std::{collections::HashMap, fmt, str::FromStr};

use fluent_templates::{Loader, fluent_bundle::FluentValue, static_loader};
use serde::{Deserialize, Serialize};
use unic_langid::LanguageIdentifier;

use crate::error::FieldViolation;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language the service speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Fi,
    Sv,
    En,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Fi, Language::Sv, Language::En];

    pub fn code(self) -> &'static str {
        match self {
            Language::Fi => "fi",
            Language::Sv => "sv",
            Language::En => "en",
        }
    }

    fn langid(self) -> LanguageIdentifier {
        match self {
            Language::Fi => unic_langid::langid!("fi"),
            Language::Sv => unic_langid::langid!("sv"),
            Language::En => unic_langid::langid!("en"),
        }
    }

    /// Parses a field value; the violation names the field.
    pub fn parse_field(field: &str, value: &str) -> Result<Self, FieldViolation> {
        value.parse().map_err(|()| FieldViolation::new(field, "invalid-language"))
    }

    /// Picks the best supported language of an `Accept-Language` header (RFC 9110 §12.5.4).
    /// Unknown or missing → English, the language every user can be assumed to read least badly
    /// when we know nothing about them.
    pub fn negotiate(accept_language: Option<&str>) -> Self {
        let Some(header) = accept_language else { return Language::En };
        let mut best: Option<(f32, usize, Language)> = None;
        for (position, item) in header.split(',').enumerate() {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            let Ok(language) = primary.parse::<Language>() else { continue };
            let better = match best {
                None => true,
                Some((q, p, _)) => quality > q || (quality == q && position < p),
            };
            if better {
                best = Some((quality, position, language));
            }
        }
        best.map_or(Language::En, |(_, _, language)| language)
    }

    /// The text of message `id` in this language, falling back to English.
    pub fn text(self, id: &str) -> String {
        LOCALES.try_lookup(&self.langid(), id).unwrap_or_else(|| id.to_owned())
    }

    /// As [`Language::text`] with Fluent arguments.
    pub fn text_with(self, id: &str, args: &[(&str, &str)]) -> String {
        let args: HashMap<std::borrow::Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (std::borrow::Cow::Owned((*k).to_owned()), FluentValue::from((*v).to_owned())))
            .collect();
        LOCALES.try_lookup_with_args(&self.langid(), id, &args).unwrap_or_else(|| id.to_owned())
    }

    /// As [`Language::text_with`] with one number, which plural forms select on.
    pub fn text_with_count(self, id: &str, count_name: &str, count: i64) -> String {
        let mut args: HashMap<std::borrow::Cow<'static, str>, FluentValue<'_>> = HashMap::new();
        args.insert(std::borrow::Cow::Owned(count_name.to_owned()), FluentValue::from(count));
        LOCALES.try_lookup_with_args(&self.langid(), id, &args).unwrap_or_else(|| id.to_owned())
    }

    /// Whether every language has message `id` (used by tests of the catalogues).
    pub fn has_text(self, id: &str) -> bool {
        LOCALES.try_lookup(&self.langid(), id).is_some()
    }
}

impl FromStr for Language {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fi" => Ok(Language::Fi),
            "sv" => Ok(Language::Sv),
            "en" => Ok(Language::En),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn negotiates_by_quality_then_order() {
        assert_eq!(Language::negotiate(Some("sv-FI, fi;q=0.8")), Language::Sv);
        assert_eq!(Language::negotiate(Some("de, fi;q=0.5, en;q=0.4")), Language::Fi);
        assert_eq!(Language::negotiate(Some("fi;q=0, sv;q=0.1")), Language::Sv);
        assert_eq!(Language::negotiate(Some("de")), Language::En);
        assert_eq!(Language::negotiate(None), Language::En);
    }

    #[test]
    fn every_error_has_a_title_and_detail_in_every_language() {
        for language in Language::ALL {
            for code in ErrorCode::ALL {
                for part in ["title", "detail"] {
                    let id = format!("error-{}-{part}", code.reason());
                    assert!(language.has_text(&id), "{language}: {id} missing");
                }
            }
        }
    }

    #[test]
    fn texts_differ_by_language() {
        let id = "error-not-found-title";
        assert_ne!(Language::Fi.text(id), Language::En.text(id));
        assert_ne!(Language::Sv.text(id), Language::En.text(id));
    }
}
