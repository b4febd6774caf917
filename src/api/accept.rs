//! Content negotiation: which of the types a route can answer with the `Accept` header prefers
//! (RFC 9110 §12.5.1).

/// The type of `offered` that `accept` prefers, or `None` if it accepts none of them.
///
/// Each offered type takes the quality of the most specific media range that matches it
/// (`image/png` over `image/*` over `*/*`); `q=0` means "not acceptable". The highest quality
/// wins; among equals, the one whose range comes first in the header, then the first offered.
/// No `Accept` (or an empty one) accepts anything, so the first offered type answers.
pub fn preferred<'a>(accept: &str, offered: &[&'a str]) -> Option<&'a str> {
    let ranges: Vec<Range> = accept.split(',').filter_map(Range::parse).collect();
    if ranges.is_empty() {
        return offered.first().copied();
    }
    offered
        .iter()
        .enumerate()
        .filter_map(|(order, kind)| {
            let (position, range) = ranges
                .iter()
                .enumerate()
                .filter(|(_, range)| range.matches(kind))
                .max_by_key(|(position, range)| {
                    (range.specificity(), std::cmp::Reverse(*position))
                })?;
            (range.quality > 0).then_some((range.quality, position, order, *kind))
        })
        .max_by_key(|&(quality, position, order, _)| {
            (
                quality,
                std::cmp::Reverse(position),
                std::cmp::Reverse(order),
            )
        })
        .map(|(.., kind)| kind)
}

/// One media range of an `Accept` header, its quality in thousandths.
struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    quality: u16,
}

impl<'a> Range<'a> {
    fn parse(text: &'a str) -> Option<Range<'a>> {
        let mut parts = text.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let quality = parts
            .filter_map(|parameter| parameter.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1000), |(_, value)| quality(value.trim()))?;
        Some(Range {
            kind: kind.trim(),
            subtype: subtype.trim(),
            quality,
        })
    }

    fn matches(&self, offered: &str) -> bool {
        let Some((kind, subtype)) = offered.split_once('/') else {
            return false;
        };
        (self.kind == "*" || self.kind.eq_ignore_ascii_case(kind))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }

    fn specificity(&self) -> u8 {
        u8::from(self.kind != "*") + u8::from(self.subtype != "*")
    }
}

/// A `q` value (`0` to `1`, at most three decimals) in thousandths; `None` if malformed, which
/// drops its range.
fn quality(text: &str) -> Option<u16> {
    let value: f32 = text.parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::preferred;

    const OFFERED: [&str; 3] = ["application/json", "image/png", "image/svg+xml"];

    #[test]
    fn the_best_quality_wins_and_ties_keep_the_clients_order() {
        for (accept, expected) in [
            ("", Some("application/json")),
            ("image/png", Some("image/png")),
            ("image/png;q=0, application/json", Some("application/json")),
            ("image/png;q=0.5, image/svg+xml", Some("image/svg+xml")),
            ("image/svg+xml, image/png", Some("image/svg+xml")),
            ("image/*", Some("image/png")),
            ("image/*;q=0.9, image/svg+xml", Some("image/svg+xml")),
            ("*/*;q=0.8, image/png;q=0.1", Some("application/json")),
            ("IMAGE/PNG", Some("image/png")),
            ("image/*, image/png;q=0", Some("image/svg+xml")),
            ("text/html", None),
            ("image/png;q=0", None),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Some("application/json"),
            ),
        ] {
            assert_eq!(preferred(accept, &OFFERED), expected, "{accept:?}");
        }
    }
}
