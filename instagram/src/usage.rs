//! The Graph API's rate-limit headers, read after every call.
//!
//! - `X-App-Usage` (Platform rate limits): `{"call_count": 28, "total_time": 25,
//!   "total_cputime": 25}`, each a percentage of the app's quota.
//! - `X-Business-Use-Case-Usage` (Business Use Case limits, which Instagram Platform
//!   calls with Page tokens get): `{"<business id>": [{"type": …, "call_count": 100,
//!   "total_cputime": 25, "total_time": 25, "estimated_time_to_regain_access": 19}]}`,
//!   the last in minutes.
//!
//! The pull stops once any percentage passes [`THROTTLE_PERCENT`], before Meta starts
//! refusing calls.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// The share of a quota past which an account's pull stops and backs off.
pub const THROTTLE_PERCENT: u32 = 80;

/// What the usage headers of one response said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The highest percentage of any quota in either header (0 without headers).
    pub percent: u32,
    /// The longest `estimated_time_to_regain_access`, in minutes (0 when absent).
    pub regain_minutes: u32,
}

impl Usage {
    /// Reads both headers; a header that does not parse counts as absent (it must not
    /// stop a pull by itself).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let json = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| serde_json::from_str::<Value>(v).ok())
        };
        let mut usage = Usage::default();
        if let Some(app) = json("x-app-usage") {
            usage.absorb(&app);
        }
        if let Some(Value::Object(businesses)) = json("x-business-use-case-usage") {
            for entries in businesses.values() {
                for entry in entries.as_array().into_iter().flatten() {
                    usage.absorb(entry);
                }
            }
        }
        usage
    }

    fn absorb(&mut self, entry: &Value) {
        for key in ["call_count", "total_cputime", "total_time"] {
            if let Some(p) = entry.get(key).and_then(Value::as_u64) {
                self.percent = self.percent.max(p.min(u64::from(u32::MAX)) as u32);
            }
        }
        if let Some(m) = entry
            .get("estimated_time_to_regain_access")
            .and_then(Value::as_u64)
        {
            self.regain_minutes = self.regain_minutes.max(m.min(24 * 60) as u32);
        }
    }

    /// Whether the account's pull must stop now.
    pub fn over_threshold(&self) -> bool {
        self.percent > THROTTLE_PERCENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_highest_share_of_either_header_counts() {
        let mut headers = HeaderMap::new();
        assert_eq!(Usage::from_headers(&headers), Usage::default());
        headers.insert(
            "x-app-usage",
            HeaderValue::from_static(r#"{"call_count":28,"total_time":25,"total_cputime":25}"#),
        );
        assert_eq!(Usage::from_headers(&headers).percent, 28);
        assert!(!Usage::from_headers(&headers).over_threshold());
        headers.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"17841400000000001":[{"type":"instagram","call_count":12,"total_cputime":85,"total_time":40,"estimated_time_to_regain_access":19}]}"#,
            ),
        );
        let usage = Usage::from_headers(&headers);
        assert_eq!(
            usage,
            Usage {
                percent: 85,
                regain_minutes: 19
            }
        );
        assert!(usage.over_threshold());
        headers.insert("x-app-usage", HeaderValue::from_static("not json"));
        assert_eq!(Usage::from_headers(&headers).percent, 85);
    }
}
