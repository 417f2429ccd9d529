//! Every word the UI shows, in Dutch, German and English (Project Fluent).
//! The `.ftl` files are compiled in; a test holds the three to the same keys
//! and every template to keys that exist.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    Nl,
    De,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Nl, Lang::De, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Nl => "Nederlands",
            Lang::De => "Deutsch",
            Lang::En => "English",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }

    /// The first language of an `Accept-Language` header we have
    /// (`de-DE,de;q=0.9,en;q=0.8` → German), honouring q-values.
    pub fn negotiate(accept_language: &str) -> Option<Self> {
        let mut offers: Vec<(f32, usize, Lang)> = accept_language
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut fields = part.trim().split(';');
                let tag = fields.next()?.trim();
                let primary = tag.split('-').next()?;
                let q = fields
                    .find_map(|f| f.trim().strip_prefix("q="))
                    .map(|q| q.parse::<f32>().unwrap_or(0.0))
                    .unwrap_or(1.0);
                Some((q, i, Self::parse(primary)?))
            })
            .filter(|(q, _, _)| *q > 0.0)
            .collect();
        offers.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        offers.first().map(|(_, _, l)| *l)
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Nl => include_str!("../locales/nl.ftl"),
            Lang::De => include_str!("../locales/de.ftl"),
            Lang::En => include_str!("../locales/en.ftl"),
        }
    }
}

struct Bundles {
    nl: FluentBundle<FluentResource>,
    de: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

fn bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let id: unic_langid::LanguageIdentifier = lang.code().parse().expect("a valid language tag");
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Unicode isolation marks around arguments are invisible in a page but
    // break copy-and-paste of ids and times.
    bundle.set_use_isolating(false);
    let resource = FluentResource::try_new(lang.source().to_owned())
        .unwrap_or_else(|(_, errors)| panic!("{}.ftl does not parse: {errors:?}", lang.code()));
    bundle
        .add_resource(resource)
        .unwrap_or_else(|errors| panic!("{}.ftl repeats a key: {errors:?}", lang.code()));
    bundle
}

fn bundles() -> &'static Bundles {
    static BUNDLES: OnceLock<Bundles> = OnceLock::new();
    BUNDLES.get_or_init(|| Bundles {
        nl: bundle(Lang::Nl),
        de: bundle(Lang::De),
        en: bundle(Lang::En),
    })
}

fn of(lang: Lang) -> &'static FluentBundle<FluentResource> {
    let b = bundles();
    match lang {
        Lang::Nl => &b.nl,
        Lang::De => &b.de,
        Lang::En => &b.en,
    }
}

/// `key` in `lang`; a missing key shows itself (the tests keep that from
/// happening).
pub fn t(lang: Lang, key: &str, args: Option<&FluentArgs>) -> String {
    let bundle = of(lang);
    let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
        tracing::warn!(key, lang = lang.code(), "untranslated UI string");
        return key.to_owned();
    };
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, args, &mut errors);
    if !errors.is_empty() {
        tracing::warn!(
            key,
            lang = lang.code(),
            ?errors,
            "UI string formatted with errors"
        );
    }
    text.into_owned()
}

pub fn has(lang: Lang, key: &str) -> bool {
    of(lang).has_message(key)
}

/// Every message key of a language's file, in file order (for the tests):
/// the identifiers that start a line and are followed by `=`.
pub fn keys(lang: Lang) -> Vec<&'static str> {
    lang.source()
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_languages_have_the_same_keys() {
        let en: std::collections::BTreeSet<_> = keys(Lang::En).into_iter().collect();
        assert!(en.len() > 100, "{}", en.len());
        for lang in [Lang::Nl, Lang::De] {
            let other: std::collections::BTreeSet<_> = keys(lang).into_iter().collect();
            assert_eq!(
                en.difference(&other).collect::<Vec<_>>(),
                Vec::<&&str>::new(),
                "missing in {}",
                lang.code()
            );
            assert_eq!(
                other.difference(&en).collect::<Vec<_>>(),
                Vec::<&&str>::new(),
                "only in {}",
                lang.code()
            );
        }
    }

    #[test]
    fn every_key_formats_without_errors_in_every_language() {
        let mut args = FluentArgs::new();
        for name in [
            "field",
            "first",
            "last",
            "total",
            "started",
            "page",
            "pages",
            "days",
            "hours",
            "sequence",
            "included",
            "window",
            "case",
            "by",
            "at",
            "count",
            "start",
            "end",
            "purpose",
            "camera",
            "id",
            "name",
            "role",
            "n",
            "period",
            "checkpoint",
            "size",
            "max",
            "tz",
            "seconds",
            "overdue",
            "soon",
            "from",
            "to",
            "k",
            "source",
            "at",
            "connection",
            "controller",
        ] {
            args.set(name, 2);
        }
        for lang in Lang::ALL {
            let bundle = of(lang);
            for key in keys(lang) {
                let message = bundle.get_message(key).expect("listed");
                let mut errors = Vec::new();
                let text = bundle.format_pattern(
                    message.value().expect("a value"),
                    Some(&args),
                    &mut errors,
                );
                assert!(errors.is_empty(), "{}:{key}: {errors:?}", lang.code());
                assert!(!text.trim().is_empty(), "{}:{key} is empty", lang.code());
            }
        }
    }

    #[test]
    fn translations_are_not_left_in_english() {
        // A few words that must differ per language: a copy-paste of the
        // English file would pass the key test above.
        for key in [
            "nav-recordings",
            "login-title",
            "purpose-title",
            "play",
            "sign-out",
        ] {
            let en = t(Lang::En, key, None);
            assert_ne!(t(Lang::Nl, key, None), en, "nl {key}");
            assert_ne!(t(Lang::De, key, None), en, "de {key}");
        }
    }

    #[test]
    fn plurals_follow_the_language() {
        let mut args = FluentArgs::new();
        args.set("days", 1);
        args.set("hours", 3);
        assert_eq!(t(Lang::Nl, "deletion-in", Some(&args)), "over 1 dag, 3 u");
        args.set("days", 27);
        assert_eq!(
            t(Lang::De, "deletion-in", Some(&args)),
            "in 27 Tagen, 3 Std."
        );
        assert_eq!(t(Lang::En, "deletion-in", Some(&args)), "in 27 days, 3 h");
    }

    #[test]
    fn the_browser_language_is_negotiated_with_q_values() {
        assert_eq!(Lang::negotiate("de-DE,de;q=0.9,en;q=0.8"), Some(Lang::De));
        assert_eq!(Lang::negotiate("fr-FR, en;q=0.5, nl;q=0.7"), Some(Lang::Nl));
        assert_eq!(Lang::negotiate("fr, es"), None);
        assert_eq!(Lang::negotiate("nl;q=0, en"), Some(Lang::En));
        assert_eq!(Lang::negotiate(""), None);
        assert_eq!(Lang::negotiate(";;,q=,=;"), None);
    }
}
