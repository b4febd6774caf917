//! A reader of the OpenMetrics text format, written from its specification rather than from the
//! daemon's code: it refuses what a scraper would refuse (a sample outside its family, a
//! suffix its type does not have, a unit its name does not end with, families split apart,
//! histogram buckets that are not cumulative or disagree with their count, no `# EOF` at the
//! end), and finds samples by family and labels.

use std::collections::BTreeMap;

/// A sample's labels.
pub type Labels = BTreeMap<String, String>;

/// One family: its type, help, unit and samples.
#[derive(Debug, Default)]
pub struct Family {
    pub kind: String,
    pub help: String,
    pub unit: Option<String>,
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's own name: the family's and its suffix (`_total`, `_bucket`…).
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

/// A whole exposition, by family name.
#[derive(Debug)]
pub struct Exposition {
    pub families: BTreeMap<String, Family>,
}

/// The suffixes a sample of a family of type `kind` may add to the family's name.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" | "gaugehistogram" => {
            &["_bucket", "_sum", "_count", "_created", "_gcount", "_gsum"]
        }
        "summary" => &["", "_sum", "_count", "_created"],
        "info" => &["_info"],
        "gauge" | "stateset" | "unknown" => &[""],
        _ => &[],
    }
}

/// Reads the labels after a sample's `{`, up to and including its `}`; returns them and what
/// follows.
fn parse_labels(mut rest: &str) -> Result<(Labels, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, after) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("a label without a quoted value at {rest:?}"))?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped @ ('\\' | '"'))) => value.push(escaped),
                    _ => return Err(format!("a bad escape in {after:?}")),
                },
                Some((at, '"')) => break at,
                Some((_, c)) => value.push(c),
                None => return Err(format!("an unclosed label value at {rest:?}")),
            }
        };
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Reads `name{label="value",…} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("no value: {line:?}"))?;
    let (name, mut rest) = line.split_at(name_end);
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        (labels, rest) = parse_labels(inner).map_err(|error| format!("{error}: {line:?}"))?;
    }
    let mut parts = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value: {line:?}"))?
        .split(' ');
    let value = match parts.next().unwrap_or_default() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .map_err(|_| format!("value {other:?} is not a number: {line:?}"))?,
    };
    if let Some(timestamp) = parts.next() {
        timestamp
            .parse::<f64>()
            .map_err(|_| format!("a bad timestamp: {line:?}"))?;
    }
    if parts.next().is_some() {
        return Err(format!("more after the timestamp: {line:?}"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Checks that each histogram's buckets grow, end with `+Inf`, and agree with its count.
fn check_histogram(name: &str, family: &Family) -> Result<(), String> {
    // Per label set (less `le`): the buckets' bounds and counts, and the count.
    type Series = (Vec<(f64, f64)>, Option<f64>);
    let mut series: BTreeMap<Labels, Series> = BTreeMap::new();
    for sample in &family.samples {
        let mut labels = sample.labels.clone();
        if sample.name.ends_with("_bucket") {
            let le = labels
                .remove("le")
                .ok_or_else(|| format!("a bucket of {name} without `le`"))?;
            let bound = match le.as_str() {
                "+Inf" => f64::INFINITY,
                other => other.parse().map_err(|_| format!("{name}: le {other:?}"))?,
            };
            series
                .entry(labels)
                .or_default()
                .0
                .push((bound, sample.value));
        } else if sample.name.ends_with("_count") {
            series.entry(labels).or_default().1 = Some(sample.value);
        }
    }
    for (labels, (buckets, count)) in series {
        let ascending = buckets.windows(2).all(|pair| pair[0].0 < pair[1].0);
        let cumulative = buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1);
        let last = buckets.last().copied();
        if !ascending || !cumulative || last.map(|(bound, _)| bound) != Some(f64::INFINITY) {
            return Err(format!("{name}{labels:?}: buckets {buckets:?}"));
        }
        if last.map(|(_, total)| total) != count {
            return Err(format!(
                "{name}{labels:?}: +Inf bucket {last:?}, count {count:?}"
            ));
        }
    }
    Ok(())
}

impl Exposition {
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text
            .strip_suffix("# EOF\n")
            .ok_or("the exposition does not end with `# EOF`")?;
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in body.lines() {
            if let Some(descriptor) = line.strip_prefix("# ") {
                let mut words = descriptor.splitn(3, ' ');
                let (keyword, name, rest) = (
                    words.next().unwrap_or_default(),
                    words
                        .next()
                        .ok_or_else(|| format!("a bare descriptor: {line:?}"))?,
                    words.next().unwrap_or_default(),
                );
                if current.as_deref() != Some(name) {
                    if families.contains_key(name) {
                        return Err(format!("family {name} is split apart"));
                    }
                    current = Some(name.to_owned());
                }
                let family = families.entry(name.to_owned()).or_default();
                match keyword {
                    "HELP" => family.help = rest.to_owned(),
                    "TYPE" if suffixes(rest).is_empty() => {
                        return Err(format!("{name} has an unknown type {rest:?}"))
                    }
                    "TYPE" => family.kind = rest.to_owned(),
                    "UNIT" if !name.ends_with(&format!("_{rest}")) => {
                        return Err(format!("{name} does not end with its unit {rest:?}"))
                    }
                    "UNIT" => family.unit = Some(rest.to_owned()),
                    other => return Err(format!("an unknown descriptor {other:?}: {line:?}")),
                }
                continue;
            }
            let sample = parse_sample(line)?;
            let name = current
                .as_deref()
                .ok_or_else(|| format!("a sample before any family: {line:?}"))?;
            let family = families.get_mut(name).expect("the current family");
            let fits = sample
                .name
                .strip_prefix(name)
                .is_some_and(|suffix| suffixes(&family.kind).contains(&suffix));
            if !fits {
                return Err(format!(
                    "{} is not a sample of {} {name}",
                    sample.name, family.kind
                ));
            }
            family.samples.push(sample);
        }
        for (name, family) in &families {
            if family.kind.is_empty() {
                return Err(format!("{name} has no type"));
            }
            if family.kind == "histogram" {
                check_histogram(name, family)?;
            }
        }
        Ok(Self { families })
    }

    /// The family `name` (a counter's without its `_total`), which must be there.
    pub fn family(&self, name: &str) -> &Family {
        self.families.get(name).unwrap_or_else(|| {
            panic!(
                "no family {name}; there are {:?}",
                self.families.keys().collect::<Vec<_>>()
            )
        })
    }

    /// The sample `name` of family `family` with exactly these labels.
    fn sample(&self, family: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: Labels = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.family(family)
            .samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .unwrap_or_else(|| panic!("no {name} with {labels:?}"))
            .value
    }

    /// The value of a counter (its `_total`) or of a gauge.
    pub fn value(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        match self.family(family).kind.as_str() {
            "counter" => self.sample(family, &format!("{family}_total"), labels),
            "gauge" => self.sample(family, family, labels),
            other => panic!("{family} is a {other}, not a counter or a gauge"),
        }
    }

    /// A histogram's count of observations and their sum.
    pub fn observed(&self, family: &str, labels: &[(&str, &str)]) -> (u64, f64) {
        assert_eq!(self.family(family).kind, "histogram", "{family}");
        let count = self.sample(family, &format!("{family}_count"), labels);
        let sum = self.sample(family, &format!("{family}_sum"), labels);
        (count as u64, sum)
    }
}
