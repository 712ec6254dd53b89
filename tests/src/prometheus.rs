//! Reading the Prometheus text format in tests: the value of one series, or the sum of
//! the series that match some labels. Small on purpose: maef writes simple labels
//! (route templates, SQLSTATEs, kinds), never quotes or newlines.

/// Sum of the samples of metric `name` whose labels include every `(key, value)` of
/// `labels` (0 when none matches: a counter not yet incremented is absent).
pub fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text, name)
        .filter(|(have, _)| {
            labels
                .iter()
                .all(|(k, v)| have.iter().any(|(hk, hv)| hk == k && hv == v))
        })
        .map(|(_, value)| value)
        .sum()
}

/// Whether metric `name` has at least one sample.
pub fn has(text: &str, name: &str) -> bool {
    samples(text, name).next().is_some()
}

/// The samples of metric `name`: (labels, value).
pub fn samples<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = (Vec<(String, String)>, f64)> + 'a {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(move |line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, labels) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some((labels, value.parse().ok()?))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn series_are_matched_by_name_and_labels() {
        let text = "# TYPE x counter\nx{route=\"/a/{id}\",status=\"200\"} 3\nx{route=\"/a/{id}\",status=\"404\"} 2\nxy 9\ny 1\n";
        assert_eq!(super::sum(text, "x", &[("route", "/a/{id}")]), 5.0);
        assert_eq!(super::sum(text, "x", &[("status", "404")]), 2.0);
        assert_eq!(super::sum(text, "x", &[("status", "500")]), 0.0);
        assert_eq!(super::sum(text, "y", &[]), 1.0);
        assert!(!super::has(text, "z"));
    }
}
