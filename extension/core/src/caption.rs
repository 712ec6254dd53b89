//! What a shop's social-media caption says about a product: a title, a description,
//! hashtags, and a price written the way people write prices in a caption.
//!
//! A story caption such as
//!
//! ```text
//! Robe wax « Soleil » ☀️ #wax #robe
//! Disponible en S, M, L
//! 15 000 FCFA
//! ```
//!
//! gives the title `Robe wax « Soleil » ☀️`, the description `Disponible en S, M, L\n15 000
//! FCFA`, the hashtags `wax` and `robe`, and the price 15000 XOF. Prices are found by a
//! number next to a currency marker (`FCFA`, `₦`, `€`, `$`, `EUR`, `naira`, …) before or
//! after it; the number may group thousands with spaces (also no-break spaces), dots,
//! commas or apostrophes, and have a decimal part after `.` or `,`. The amount is exact
//! (integer minor units of the currency, whose exponent the caller gives from
//! `shop.currency`); a number that cannot be read exactly (`15.5 FCFA`: XOF has no
//! decimals; `1.2.3 €`) is not a price. No float is ever used.
//!
//! Pure functions over `&str`: the worker calls them on each ingested story.

/// A currency the shop knows: its ISO 4217 code and exponent (`shop.currency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency<'a> {
    /// ISO 4217 code, upper case (`XOF`).
    pub code: &'a str,
    /// Decimals of the minor unit (XOF 0, EUR 2).
    pub exponent: u32,
}

/// A price read from a caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionPrice {
    /// ISO 4217 code.
    pub currency: String,
    /// Amount in minor units of `currency`.
    pub amount: i64,
    /// The text it was read from (`15 000 FCFA`), for review by a person.
    pub text: String,
}

/// What a caption says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caption {
    /// The first line with text once hashtags are removed, at most [`MAX_TITLE_CHARS`]
    /// characters; `None` when the caption has no such line.
    pub title: Option<String>,
    /// The lines after the title's, trimmed (may be empty).
    pub description: String,
    /// Hashtags without `#`, first spelling of each kept, compared case-insensitively,
    /// at most [`MAX_HASHTAGS`] of at most [`MAX_HASHTAG_CHARS`] characters.
    pub hashtags: Vec<String>,
    /// The first price found, if any.
    pub price: Option<CaptionPrice>,
}

/// Longest title kept (`shop.product.title` allows 300 characters).
pub const MAX_TITLE_CHARS: usize = 200;
/// Most hashtags kept (Instagram allows 30 per post).
pub const MAX_HASHTAGS: usize = 30;
/// Longest hashtag kept (`shop.tag.name` allows 100 characters).
pub const MAX_HASHTAG_CHARS: usize = 100;

/// Currency markers and the code each stands for. Longer markers come before their
/// prefixes and suffixes (`US$` before `$`, `F CFA` before `CFA`), so the longest wins.
/// Words are matched case-insensitively and only as whole words.
const MARKERS: &[(&str, &str)] = &[
    ("francs cfa", "XOF"),
    ("franc cfa", "XOF"),
    ("f.cfa", "XOF"),
    ("f cfa", "XOF"),
    ("fcfa", "XOF"),
    ("cfa", "XOF"),
    ("xof", "XOF"),
    ("₦", "NGN"),
    ("ngn", "NGN"),
    ("naira", "NGN"),
    ("€", "EUR"),
    ("eur", "EUR"),
    ("euros", "EUR"),
    ("euro", "EUR"),
    ("us$", "USD"),
    ("usd", "USD"),
    ("$", "USD"),
    ("£", "GBP"),
    ("gbp", "GBP"),
    ("gh₵", "GHS"),
    ("gh¢", "GHS"),
    ("₵", "GHS"),
    ("ghs", "GHS"),
    ("cedis", "GHS"),
    ("cedi", "GHS"),
];

/// Characters that group thousands between digits.
fn is_group_space(c: char) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}')
}

/// Reads a caption: title, description, hashtags and the first price in a currency of
/// `currencies`.
pub fn parse_caption(caption: &str, currencies: &[Currency<'_>]) -> Caption {
    let hashtags = hashtags(caption);
    let mut lines = caption.lines();
    let mut title = None;
    for line in lines.by_ref() {
        let text = without_hashtags(line);
        if !text.is_empty() {
            title = Some(
                text.chars()
                    .take(MAX_TITLE_CHARS)
                    .collect::<String>()
                    .trim()
                    .to_string(),
            );
            break;
        }
    }
    let description = lines.collect::<Vec<_>>().join("\n").trim().to_string();
    Caption {
        title,
        description,
        hashtags,
        price: parse_price(caption, currencies),
    }
}

/// The line without its hashtags and with runs of whitespace made single spaces.
fn without_hashtags(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut previous: Option<char> = None;
    while let Some(c) = chars.next() {
        if c == '#'
            && previous.is_none_or(|p| !is_tag_char(p))
            && chars.peek().is_some_and(|n| is_tag_char(*n))
        {
            while chars.peek().is_some_and(|n| is_tag_char(*n)) {
                chars.next();
            }
            previous = Some(' ');
            continue;
        }
        previous = Some(c);
        out.push(c);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `#word` tokens (letters, digits, underscores; `#` not inside a word), deduplicated
/// case-insensitively in order of appearance.
pub fn hashtags(caption: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let chars: Vec<char> = caption.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_tag = chars[i] == '#'
            && (i == 0 || !is_tag_char(chars[i - 1]))
            && chars.get(i + 1).is_some_and(|c| is_tag_char(*c));
        if !starts_tag {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < chars.len() && is_tag_char(chars[end]) {
            end += 1;
        }
        let tag: String = chars[start..end].iter().take(MAX_HASHTAG_CHARS).collect();
        let lower = tag.to_lowercase();
        if found.len() < MAX_HASHTAGS && !found.iter().any(|t| t.to_lowercase() == lower) {
            found.push(tag);
        }
        i = end;
    }
    found
}

/// The first price in `text` written in one of `currencies`.
pub fn parse_price(text: &str, currencies: &[Currency<'_>]) -> Option<CaptionPrice> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // A digit starts a number unless it continues a word ("A4"), though a currency
        // word may touch the number ("NGN5000").
        let starts_number = chars[i].is_ascii_digit()
            && (i == 0
                || !chars[i - 1].is_alphanumeric()
                || (!chars[i - 1].is_ascii_digit() && marker_before(&chars, i, currencies).is_some()));
        if !starts_number {
            i += 1;
            continue;
        }
        let number = scan_number(&chars, i);
        let after = number.end;
        let code = marker_before(&chars, i, currencies).or_else(|| marker_after(&chars, after, currencies));
        if let Some((code, from, to)) = code {
            let currency = currencies.iter().find(|c| c.code == code)?;
            if let Some(amount) = number.minor_units(currency.exponent) {
                return Some(CaptionPrice {
                    currency: code.to_string(),
                    amount,
                    text: chars[from.min(i)..to.max(after)]
                        .iter()
                        .collect::<String>()
                        .trim()
                        .to_string(),
                });
            }
        }
        i = after.max(i + 1);
    }
    None
}

/// A number as written: runs of digits and the separators between them, and a
/// thousands multiplier (`15k`).
#[derive(Debug)]
struct Number {
    runs: Vec<String>,
    separators: Vec<char>,
    thousands: bool,
    end: usize,
}

fn scan_number(chars: &[char], start: usize) -> Number {
    let digits_from = |at: usize| chars[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    let first = digits_from(start);
    let mut runs = vec![chars[start..start + first].iter().collect::<String>()];
    let mut separators = Vec::new();
    let mut at = start + first;
    while at + 1 < chars.len() {
        let separator = chars[at];
        let next = digits_from(at + 1);
        let takes = match separator {
            '.' | ',' | '\'' | '’' => next > 0,
            // A space groups thousands only before exactly three digits: "taille 38
            // 15 000 FCFA" is 38, then 15 000.
            c if is_group_space(c) => next == 3,
            _ => false,
        };
        if !takes {
            break;
        }
        separators.push(separator);
        runs.push(chars[at + 1..at + 1 + next].iter().collect());
        at += 1 + next;
    }
    let thousands = chars.get(at).is_some_and(|c| matches!(c, 'k' | 'K'))
        && chars.get(at + 1).is_none_or(|c| !c.is_alphanumeric());
    if thousands {
        at += 1;
    }
    Number {
        runs,
        separators,
        thousands,
        end: at,
    }
}

impl Number {
    /// The amount in minor units of a currency with `exponent` decimals, when the
    /// number reads unambiguously and exactly.
    fn minor_units(&self, exponent: u32) -> Option<i64> {
        let (integer_runs, decimals): (&[String], &str) = match (self.separators.last(), self.runs.last()) {
            // A last '.' or ',' before one or two digits is the decimal separator;
            // before three it groups thousands (`5,000 ₦`, `1.500 FCFA`).
            (Some('.' | ','), Some(last)) if last.len() <= 2 => (&self.runs[..self.runs.len() - 1], last),
            (Some('.' | ','), Some(last)) if last.len() > 3 => return None,
            _ => (&self.runs[..], ""),
        };
        let grouping = &self.separators[..integer_runs.len() - 1];
        if let Some(first) = grouping.first() {
            let same_kind = |c: &char| {
                if is_group_space(*first) {
                    is_group_space(*c)
                } else {
                    c == first
                }
            };
            let decimal = self.separators.get(integer_runs.len() - 1);
            if !grouping.iter().all(same_kind)
                || decimal.is_some_and(|d| d == first)
                || integer_runs[0].len() > 3
                || integer_runs[1..].iter().any(|r| r.len() != 3)
            {
                return None;
            }
        }
        let integer: String = integer_runs.concat();
        let mut decimals = decimals.to_string();
        if self.thousands {
            // 2.5k = 2500: the decimals move into the integer part.
            if decimals.len() > 3 {
                return None;
            }
            let mut shifted = integer.clone();
            shifted.push_str(&format!("{decimals:0<3}"));
            return scale(&shifted, "", exponent);
        }
        // Decimals past the currency's exponent must be zeros (15000.00 FCFA is exact).
        while decimals.len() > exponent as usize {
            if !decimals.ends_with('0') {
                return None;
            }
            decimals.pop();
        }
        scale(&integer, &decimals, exponent)
    }
}

/// `integer.decimals` in minor units of `exponent` decimals (decimals already fit).
fn scale(integer: &str, decimals: &str, exponent: u32) -> Option<i64> {
    let mut minor: i64 = 0;
    let padded = format!("{decimals:0<width$}", width = exponent as usize);
    for digit in integer.chars().chain(padded.chars()) {
        minor = minor
            .checked_mul(10)?
            .checked_add(i64::from(digit.to_digit(10)?))?;
    }
    Some(minor)
}

/// Whether a marker is a word (letters), which must stand alone, or a symbol.
fn is_word_marker(marker: &str) -> bool {
    marker.chars().next().is_some_and(char::is_alphabetic)
}

/// The currency marker ending just before `start` (one space allowed between):
/// `(code, marker start, marker end)`.
fn marker_before(
    chars: &[char],
    start: usize,
    currencies: &[Currency<'_>],
) -> Option<(&'static str, usize, usize)> {
    let mut end = start;
    if end > 0 && is_group_space(chars[end - 1]) {
        end -= 1;
    }
    MARKERS.iter().find_map(|(marker, code)| {
        let len = marker.chars().count();
        let from = end.checked_sub(len)?;
        let matches = chars[from..end]
            .iter()
            .flat_map(|c| c.to_lowercase())
            .eq(marker.chars());
        let whole = !is_word_marker(marker) || from == 0 || !chars[from - 1].is_alphanumeric();
        (matches && whole && known(code, currencies)).then_some((*code, from, end))
    })
}

/// The currency marker starting at `end` (one space allowed before it).
fn marker_after(
    chars: &[char],
    end: usize,
    currencies: &[Currency<'_>],
) -> Option<(&'static str, usize, usize)> {
    let mut from = end;
    if from < chars.len() && is_group_space(chars[from]) {
        from += 1;
    }
    MARKERS.iter().find_map(|(marker, code)| {
        let len = marker.chars().count();
        let to = from + len;
        if to > chars.len() {
            return None;
        }
        let matches = chars[from..to]
            .iter()
            .flat_map(|c| c.to_lowercase())
            .eq(marker.chars());
        let whole = !is_word_marker(marker) || chars.get(to).is_none_or(|c| !c.is_alphanumeric());
        (matches && whole && known(code, currencies)).then_some((*code, from, to))
    })
}

fn known(code: &str, currencies: &[Currency<'_>]) -> bool {
    currencies.iter().any(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The currencies of migration V1 (`shop.currency`).
    const SHOP: &[Currency<'static>] = &[
        Currency {
            code: "XOF",
            exponent: 0,
        },
        Currency {
            code: "EUR",
            exponent: 2,
        },
        Currency {
            code: "USD",
            exponent: 2,
        },
        Currency {
            code: "GBP",
            exponent: 2,
        },
        Currency {
            code: "NGN",
            exponent: 2,
        },
        Currency {
            code: "GHS",
            exponent: 2,
        },
    ];

    fn price(text: &str) -> Option<(String, i64)> {
        parse_price(text, SHOP).map(|p| (p.currency, p.amount))
    }

    fn some(code: &str, amount: i64) -> Option<(String, i64)> {
        Some((code.to_string(), amount))
    }

    #[test]
    fn the_prices_of_the_issue_read_in_their_currency_and_minor_units() {
        assert_eq!(price("15 000 FCFA"), some("XOF", 15_000));
        assert_eq!(price("₦5,000"), some("NGN", 500_000));
        assert_eq!(price("25 €"), some("EUR", 2_500));
        assert_eq!(price("€25.90"), some("EUR", 2_590));
        assert_eq!(price("$19"), some("USD", 1_900));
    }

    #[test]
    fn thousands_and_decimal_separators_follow_local_habits() {
        assert_eq!(price("Prix : 15\u{a0}000 F CFA"), some("XOF", 15_000));
        assert_eq!(price("15\u{202f}000 francs CFA"), some("XOF", 15_000));
        assert_eq!(price("1.500 FCFA"), some("XOF", 1_500));
        assert_eq!(price("25,90 €"), some("EUR", 2_590));
        assert_eq!(price("1 234,50 €"), some("EUR", 123_450));
        assert_eq!(price("1.234,50 EUR"), some("EUR", 123_450));
        assert_eq!(price("US$1,234.50"), some("USD", 123_450));
        assert_eq!(price("19.99$"), some("USD", 1_999));
        assert_eq!(price("NGN 12,500.50"), some("NGN", 1_250_050));
        assert_eq!(price("GH₵ 250"), some("GHS", 25_000));
        assert_eq!(price("50 cedis"), some("GHS", 5_000));
        assert_eq!(price("£7.5"), some("GBP", 750));
        assert_eq!(price("15k FCFA"), some("XOF", 15_000));
        assert_eq!(price("₦2.5k"), some("NGN", 250_000));
        assert_eq!(price("15000.00 FCFA"), some("XOF", 15_000));
    }

    #[test]
    fn the_first_number_next_to_a_marker_is_the_price() {
        assert_eq!(price("Robe 2 pièces, taille 38 15 000 FCFA"), some("XOF", 15_000));
        assert_eq!(
            price("3 coloris à 12 000 FCFA chacun, 2 pour 20 000 FCFA"),
            some("XOF", 12_000)
        );
        assert_eq!(price("Livraison 48h. 25€ seulement"), some("EUR", 2_500));
    }

    #[test]
    fn numbers_that_cannot_be_read_exactly_are_not_prices() {
        assert_eq!(price("15.5 FCFA"), None, "XOF has no decimals");
        assert_eq!(price("1.2.3 €"), None);
        assert_eq!(price("1,234,56 €"), None);
        assert_eq!(price("12.3456 €"), None);
        assert_eq!(price("99999999999999999999 FCFA"), None, "overflow");
        assert_eq!(price("taille 38, 2 coloris"), None, "no marker");
        assert_eq!(price("15 eurostar"), None, "a marker word must stand alone");
        assert_eq!(price("A4 $"), None, "a number inside a word");
        assert_eq!(price("15 kg FCFA"), None, "the marker must touch the number");
        assert_eq!(parse_price("25 €", &SHOP[..1]), None, "EUR unknown to this shop");
    }

    #[test]
    fn a_caption_gives_title_description_hashtags_and_price() {
        let caption = "#nouveauté\nRobe wax « Soleil » ☀️ #wax #Robe\nDisponible en S, M, L\n15 000 FCFA #wax #robe #été";
        let read = parse_caption(caption, SHOP);
        assert_eq!(read.title.as_deref(), Some("Robe wax « Soleil » ☀️"));
        assert_eq!(
            read.description,
            "Disponible en S, M, L\n15 000 FCFA #wax #robe #été"
        );
        assert_eq!(read.hashtags, ["nouveauté", "wax", "Robe", "été"]);
        assert_eq!(
            read.price,
            Some(CaptionPrice {
                currency: "XOF".into(),
                amount: 15_000,
                text: "15 000 FCFA".into()
            })
        );
        assert_eq!(parse_caption("", SHOP), Caption::default());
        assert_eq!(parse_caption("#a #b", SHOP).title, None);
        assert_eq!(hashtags("mail@x.com C# a#b #_ok"), ["_ok"]);
    }

    fn group(digits: &str, separator: &str) -> String {
        let bytes = digits.as_bytes();
        let head = bytes.len() % 3;
        let mut parts: Vec<&str> = Vec::new();
        if head > 0 {
            parts.push(&digits[..head]);
        }
        for chunk in bytes[head..].chunks(3) {
            parts.push(std::str::from_utf8(chunk).unwrap());
        }
        parts.join(separator)
    }

    proptest! {
        /// Any amount written in any of the usual styles reads back exactly.
        #[test]
        fn written_prices_read_back_exactly(
            major in 0i64..10_000_000_000,
            cents in 0i64..100,
            currency in 0usize..SHOP.len(),
            style in 0usize..6,
            marker_first in any::<bool>(),
            spaced in any::<bool>(),
        ) {
            let Currency { code, exponent } = SHOP[currency];
            let cents = if exponent == 0 { 0 } else { cents };
            let digits = major.to_string();
            let (grouped, decimal) = match style {
                0 => (digits.clone(), "."),
                1 => (group(&digits, " "), ","),
                2 => (group(&digits, "\u{a0}"), ","),
                3 => (group(&digits, ","), "."),
                4 => (group(&digits, "."), ","),
                _ => (group(&digits, "\u{202f}"), "."),
            };
            let number = if exponent == 0 { grouped } else { format!("{grouped}{decimal}{cents:02}") };
            let marker = match code { "XOF" => "FCFA", "NGN" => "₦", "EUR" => "€", "USD" => "$", "GBP" => "£", _ => "GHS" };
            let gap = if spaced { " " } else { "" };
            let text = if marker_first { format!("Prix {marker}{gap}{number} !") } else { format!("Prix {number}{gap}{marker} !") };
            let expected = major * 10i64.pow(exponent) + cents;
            prop_assert_eq!(price(&text), some(code, expected), "{}", text);
        }

        /// Any text: no panic, and what is found is well-formed.
        #[test]
        fn any_caption_parses_without_panicking(text in "\\PC{0,200}") {
            let read = parse_caption(&text, SHOP);
            if let Some(title) = &read.title {
                prop_assert!(!title.is_empty() && !title.contains('\n') && title.chars().count() <= MAX_TITLE_CHARS);
            }
            for tag in &read.hashtags {
                prop_assert!(!tag.is_empty() && tag.chars().all(is_tag_char));
            }
            if let Some(p) = &read.price {
                prop_assert!(p.amount >= 0 && SHOP.iter().any(|c| c.code == p.currency));
            }
        }
    }
}
