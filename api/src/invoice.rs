//! Rendering an invoice or credit note (the JSON of `api.order_invoice`, whose amounts
//! PostgreSQL already formatted) as printable HTML or as PDF, in French or English by
//! the document's locale (the customer's, fixed when it was issued).
//!
//! The PDF is written with `pdf-writer` (typst's PDF writer) using the standard
//! Helvetica fonts every reader has, so nothing is embedded and no browser is needed;
//! text is encoded in WinAnsiEncoding, which covers French.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use serde::Deserialize;

/// A document as `api._invoice_json` writes it (the fields printed).
#[derive(Debug, Deserialize)]
pub struct Document {
    pub number: String,
    pub kind: String,
    pub issued_at: String,
    pub locale: String,
    pub prices_include_tax: bool,
    pub order_number: String,
    pub corrects: Option<String>,
    pub seller: Party,
    pub buyer: Buyer,
    pub lines: Vec<Line>,
    pub tax_breakdown: Vec<TaxRate>,
    pub formatted: Totals,
}

/// The seller (store policies `invoice.*`).
#[derive(Debug, Deserialize)]
pub struct Party {
    pub name: String,
    pub address: Vec<String>,
    pub tax_id: String,
    pub registration: String,
}

/// The buyer: e-mail and the order's billing (else shipping) address.
#[derive(Debug, Deserialize)]
pub struct Buyer {
    pub email: String,
    pub address: Option<serde_json::Value>,
}

/// A printed line.
#[derive(Debug, Deserialize)]
pub struct Line {
    pub sku: String,
    pub title: String,
    pub variant: String,
    pub quantity: i64,
    pub tax_rate_bp: i64,
    pub unit_price_formatted: Option<String>,
    pub tax_formatted: String,
    pub total_formatted: String,
}

/// Tax at one rate.
#[derive(Debug, Deserialize)]
pub struct TaxRate {
    pub rate_bp: i64,
    pub base_formatted: String,
    pub tax_formatted: String,
}

/// The totals, formatted.
#[derive(Debug, Deserialize)]
pub struct Totals {
    pub subtotal: String,
    pub discount_total: String,
    pub shipping_total: String,
    pub tax_total: String,
    pub total: String,
}

/// The words of a document in one language.
struct Labels {
    invoice: &'static str,
    credit_note: &'static str,
    number: &'static str,
    date: &'static str,
    order: &'static str,
    corrects: &'static str,
    seller: &'static str,
    buyer: &'static str,
    tax_id: &'static str,
    registration: &'static str,
    item: &'static str,
    quantity: &'static str,
    unit_price: &'static str,
    rate: &'static str,
    tax: &'static str,
    total: &'static str,
    taxes: &'static str,
    base: &'static str,
    subtotal: &'static str,
    discount: &'static str,
    shipping: &'static str,
    grand_total: &'static str,
    tax_included: &'static str,
    tax_excluded: &'static str,
}

const EN: Labels = Labels {
    invoice: "Invoice",
    credit_note: "Credit note",
    number: "Number",
    date: "Date",
    order: "Order",
    corrects: "Corrects invoice",
    seller: "Seller",
    buyer: "Bill to",
    tax_id: "Tax ID",
    registration: "Registration",
    item: "Item",
    quantity: "Qty",
    unit_price: "Unit price",
    rate: "Tax rate",
    tax: "Tax",
    total: "Total",
    taxes: "Tax breakdown",
    base: "Base",
    subtotal: "Subtotal",
    discount: "Discounts",
    shipping: "Shipping",
    grand_total: "Total due",
    tax_included: "Amounts include tax.",
    tax_excluded: "Amounts exclude tax.",
};

const FR: Labels = Labels {
    invoice: "Facture",
    credit_note: "Avoir",
    number: "Numéro",
    date: "Date",
    order: "Commande",
    corrects: "Facture d'origine",
    seller: "Vendeur",
    buyer: "Facturé à",
    tax_id: "N° fiscal",
    registration: "Immatriculation",
    item: "Article",
    quantity: "Qté",
    unit_price: "Prix unitaire",
    rate: "Taux",
    tax: "TVA",
    total: "Total",
    taxes: "Détail de la TVA",
    base: "Base",
    subtotal: "Sous-total",
    discount: "Remises",
    shipping: "Livraison",
    grand_total: "Total à payer",
    tax_included: "Montants TTC.",
    tax_excluded: "Montants HT.",
};

fn labels(locale: &str) -> &'static Labels {
    if locale == "fr" {
        &FR
    } else {
        &EN
    }
}

/// A rate in basis points as a percentage: 1800 → "18%", 550 → "5.5%" ("5,5 %" in French).
fn percent(rate_bp: i64, locale: &str) -> String {
    let whole = rate_bp / 100;
    let frac = rate_bp % 100;
    let number = if frac == 0 {
        whole.to_string()
    } else {
        let decimals = format!("{frac:02}");
        let decimals = decimals.trim_end_matches('0');
        if locale == "fr" {
            format!("{whole},{decimals}")
        } else {
            format!("{whole}.{decimals}")
        }
    };
    if locale == "fr" {
        format!("{number} %")
    } else {
        format!("{number}%")
    }
}

impl Document {
    fn title(&self) -> &'static str {
        let l = labels(&self.locale);
        if self.kind == "credit_note" {
            l.credit_note
        } else {
            l.invoice
        }
    }

    fn date(&self) -> &str {
        self.issued_at.get(..10).unwrap_or(&self.issued_at)
    }

    fn line_title(line: &Line) -> String {
        if line.variant.is_empty() || line.variant == "Default" {
            line.title.clone()
        } else {
            format!("{} — {}", line.title, line.variant)
        }
    }

    /// The buyer's address lines: name, street, city, country.
    fn buyer_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(a) = &self.buyer.address {
            let field = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            for key in ["full_name", "company", "line1", "line2"] {
                let v = field(key);
                if !v.is_empty() {
                    out.push(v);
                }
            }
            let city = [field("postal_code"), field("city")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            if !city.is_empty() {
                out.push(city);
            }
            let country = field("country");
            if !country.is_empty() {
                out.push(country);
            }
        }
        out.push(self.buyer.email.clone());
        out
    }

    fn seller_lines(&self) -> Vec<String> {
        let l = labels(&self.locale);
        let mut out = vec![self.seller.name.clone()];
        out.extend(self.seller.address.iter().cloned());
        if !self.seller.tax_id.is_empty() {
            out.push(format!("{}: {}", l.tax_id, self.seller.tax_id));
        }
        if !self.seller.registration.is_empty() {
            out.push(format!("{}: {}", l.registration, self.seller.registration));
        }
        out
    }

    fn totals(&self) -> Vec<(&'static str, &str)> {
        let l = labels(&self.locale);
        vec![
            (l.subtotal, self.formatted.subtotal.as_str()),
            (l.discount, self.formatted.discount_total.as_str()),
            (l.shipping, self.formatted.shipping_total.as_str()),
            (l.tax, self.formatted.tax_total.as_str()),
            (l.grand_total, self.formatted.total.as_str()),
        ]
    }
}

/// HTML-escapes text (`& < > " '`).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The document as a printable HTML page.
pub fn html(doc: &Document) -> String {
    let l = labels(&doc.locale);
    let mut rows = String::new();
    for line in &doc.lines {
        rows.push_str(&format!(
            "<tr><td>{}<br><small>{}</small></td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
            esc(&Document::line_title(line)),
            esc(&line.sku),
            line.quantity,
            esc(line.unit_price_formatted.as_deref().unwrap_or("")),
            esc(&percent(line.tax_rate_bp, &doc.locale)),
            esc(&line.tax_formatted),
            esc(&line.total_formatted),
        ));
    }
    let taxes: String = doc
        .tax_breakdown
        .iter()
        .map(|t| {
            format!(
                "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
                esc(&percent(t.rate_bp, &doc.locale)),
                esc(&t.base_formatted),
                esc(&t.tax_formatted)
            )
        })
        .collect();
    let totals: String = doc
        .totals()
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td class=n>{}</td></tr>\n", esc(k), esc(v)))
        .collect();
    let block = |lines: Vec<String>| lines.iter().map(|s| esc(s)).collect::<Vec<_>>().join("<br>");
    let corrects = doc
        .corrects
        .as_deref()
        .map(|n| format!("<p>{}: {}</p>", esc(l.corrects), esc(n)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} {number}</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#111}}table{{border-collapse:collapse;width:100%;margin:1em 0}}
th,td{{border-bottom:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}}.n{{text-align:right}}
.parties{{display:flex;justify-content:space-between}}@media print{{body{{margin:0}}}}</style></head>
<body><h1>{title} {number}</h1>
<p>{l_number}: {number}<br>{l_date}: {date}<br>{l_order}: {order}</p>{corrects}
<div class="parties"><div><h2>{l_seller}</h2><p>{seller}</p></div><div><h2>{l_buyer}</h2><p>{buyer}</p></div></div>
<table><thead><tr><th>{l_item}</th><th class=n>{l_qty}</th><th class=n>{l_unit}</th><th class=n>{l_rate}</th><th class=n>{l_tax}</th><th class=n>{l_total}</th></tr></thead>
<tbody>
{rows}</tbody></table>
<h2>{l_taxes}</h2><table><thead><tr><th>{l_rate}</th><th class=n>{l_base}</th><th class=n>{l_tax}</th></tr></thead><tbody>
{taxes}</tbody></table>
<table>{totals}</table>
<p>{note}</p>
</body></html>
"#,
        lang = if doc.locale == "fr" { "fr" } else { "en" },
        title = esc(doc.title()),
        number = esc(&doc.number),
        date = esc(doc.date()),
        order = esc(&doc.order_number),
        seller = block(doc.seller_lines()),
        buyer = block(doc.buyer_lines()),
        l_number = esc(l.number),
        l_date = esc(l.date),
        l_order = esc(l.order),
        l_seller = esc(l.seller),
        l_buyer = esc(l.buyer),
        l_item = esc(l.item),
        l_qty = esc(l.quantity),
        l_unit = esc(l.unit_price),
        l_rate = esc(l.rate),
        l_tax = esc(l.tax),
        l_total = esc(l.total),
        l_taxes = esc(l.taxes),
        l_base = esc(l.base),
        note = esc(if doc.prices_include_tax {
            l.tax_included
        } else {
            l.tax_excluded
        }),
    )
}

/// Text in WinAnsiEncoding (the standard fonts' encoding): Latin-1 as is, the few
/// typographic characters French uses at their WinAnsi codes, other characters as `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}' => c as u8,
            '\u{a0}' | '\u{202f}' | '\u{2009}' => b' ',
            '€' => 0x80,
            '…' => 0x85,
            'Œ' => 0x8c,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            'œ' => 0x9c,
            _ => b'?',
        })
        .collect()
}

/// Where text goes on a page.
struct Writer {
    pages: Vec<Content>,
    y: f32,
}

const TOP: f32 = 800.0;
const BOTTOM: f32 = 60.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

impl Writer {
    fn new() -> Self {
        Self {
            pages: vec![Content::new()],
            y: TOP,
        }
    }

    /// Moves down by `height`, starting a new page when the bottom is reached.
    fn advance(&mut self, height: f32) {
        self.y -= height;
        if self.y < BOTTOM {
            self.pages.push(Content::new());
            self.y = TOP - height;
        }
    }

    fn text(&mut self, x: f32, size: f32, bold: bool, text: &str) {
        let page = self.pages.last_mut().expect("one page at least");
        let bytes = win_ansi(text);
        page.begin_text()
            .set_font(if bold { BOLD } else { REGULAR }, size)
            .next_line(x, self.y)
            .show(Str(&bytes))
            .end_text();
    }

    /// Right-aligned text ending at `right` (Helvetica's digits are 0.556 em wide; other
    /// characters are close enough for a column of amounts).
    fn text_right(&mut self, right: f32, size: f32, bold: bool, text: &str) {
        let width = win_ansi(text).len() as f32 * size * 0.556;
        self.text(right - width, size, bold, text);
    }

    fn rule(&mut self) {
        let page = self.pages.last_mut().expect("one page at least");
        page.move_to(50.0, self.y - 3.0)
            .line_to(545.0, self.y - 3.0)
            .stroke();
    }
}

/// The document as an A4 PDF (as many pages as its lines need).
pub fn pdf(doc: &Document) -> Vec<u8> {
    let l = labels(&doc.locale);
    let mut w = Writer::new();
    w.text(50.0, 20.0, true, &format!("{} {}", doc.title(), doc.number));
    w.advance(24.0);
    w.text(
        50.0,
        10.0,
        false,
        &format!("{}: {}   {}: {}", l.date, doc.date(), l.order, doc.order_number),
    );
    if let Some(corrects) = &doc.corrects {
        w.advance(13.0);
        w.text(50.0, 10.0, false, &format!("{}: {corrects}", l.corrects));
    }
    w.advance(24.0);
    w.text(50.0, 11.0, true, l.seller);
    w.text(320.0, 11.0, true, l.buyer);
    let seller = doc.seller_lines();
    let buyer = doc.buyer_lines();
    for i in 0..seller.len().max(buyer.len()) {
        w.advance(13.0);
        if let Some(s) = seller.get(i) {
            w.text(50.0, 10.0, false, s);
        }
        if let Some(b) = buyer.get(i) {
            w.text(320.0, 10.0, false, b);
        }
    }
    w.advance(28.0);
    let header = |w: &mut Writer| {
        w.text(50.0, 9.0, true, l.item);
        w.text_right(330.0, 9.0, true, l.quantity);
        w.text_right(410.0, 9.0, true, l.unit_price);
        w.text_right(450.0, 9.0, true, l.rate);
        w.text_right(495.0, 9.0, true, l.tax);
        w.text_right(545.0, 9.0, true, l.total);
        w.rule();
    };
    header(&mut w);
    for line in &doc.lines {
        w.advance(14.0);
        if w.y > TOP - 20.0 {
            header(&mut w);
            w.advance(14.0);
        }
        let mut title = Document::line_title(line);
        if title.chars().count() > 48 {
            title = title.chars().take(47).collect::<String>() + "…";
        }
        w.text(50.0, 9.0, false, &title);
        w.text_right(330.0, 9.0, false, &line.quantity.to_string());
        w.text_right(
            410.0,
            9.0,
            false,
            line.unit_price_formatted.as_deref().unwrap_or(""),
        );
        w.text_right(450.0, 9.0, false, &percent(line.tax_rate_bp, &doc.locale));
        w.text_right(495.0, 9.0, false, &line.tax_formatted);
        w.text_right(545.0, 9.0, false, &line.total_formatted);
    }
    w.advance(28.0);
    w.text(50.0, 11.0, true, l.taxes);
    for t in &doc.tax_breakdown {
        w.advance(13.0);
        w.text(50.0, 9.0, false, &percent(t.rate_bp, &doc.locale));
        w.text_right(200.0, 9.0, false, &format!("{}: {}", l.base, t.base_formatted));
        w.text_right(320.0, 9.0, false, &format!("{}: {}", l.tax, t.tax_formatted));
    }
    w.advance(20.0);
    for (label, value) in doc.totals() {
        w.advance(14.0);
        let bold = label == l.grand_total;
        w.text(360.0, 10.0, bold, label);
        w.text_right(545.0, 10.0, bold, value);
    }
    w.advance(24.0);
    w.text(
        50.0,
        8.0,
        false,
        if doc.prices_include_tax {
            l.tax_included
        } else {
            l.tax_excluded
        },
    );
    assemble(w.pages, &format!("{} {}", doc.title(), doc.number))
}

/// The PDF objects: catalog, page tree, the two fonts, one page and content per page.
fn assemble(pages: Vec<Content>, title: &str) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(6 + 2 * i as i32)).collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    pdf.document_info(info)
        .title(pdf_writer::TextStr(title))
        .producer(pdf_writer::TextStr("maef"));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (content, page_id) in pages.into_iter().zip(&page_ids) {
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0))
            .parent(tree)
            .contents(content_id);
        page.resources().fonts().pair(REGULAR, regular).pair(BOLD, bold);
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(locale: &str, lines: usize) -> Document {
        let line = serde_json::json!({"sku": "ROBE-M", "title": "Robe <wax>", "variant": "M", "quantity": 2,
            "tax_rate_bp": 1800, "unit_price_formatted": "15,000 XOF", "tax_formatted": "5,400 XOF",
            "total_formatted": "30,000 XOF"});
        serde_json::from_value(serde_json::json!({
            "number": "F-2026-000001", "kind": "invoice", "issued_at": "2026-11-02T10:15:00+00:00", "locale": locale,
            "prices_include_tax": true, "order_number": "2026-000001", "corrects": null,
            "seller": {"name": "maef", "address": ["1 rue A", "Dakar"], "tax_id": "SN123", "registration": ""},
            "buyer": {"email": "a@example.com", "address": {"full_name": "Awa Diop", "line1": "12 rue Carnot",
                      "city": "Dakar", "country": "SN"}},
            "lines": vec![line; lines],
            "tax_breakdown": [{"rate_bp": 1800, "base_formatted": "25,424 XOF", "tax_formatted": "4,576 XOF"}],
            "formatted": {"subtotal": "30,000 XOF", "discount_total": "0 XOF", "shipping_total": "2,000 XOF",
                          "tax_total": "4,576 XOF", "total": "32,000 XOF"}
        }))
        .unwrap()
    }

    #[test]
    fn percentages_read_as_each_language_writes_them() {
        assert_eq!(percent(1800, "en"), "18%");
        assert_eq!(percent(550, "en"), "5.5%");
        assert_eq!(percent(550, "fr"), "5,5 %");
        assert_eq!(percent(0, "fr"), "0 %");
        assert_eq!(percent(1905, "en"), "19.05%");
    }

    #[test]
    fn french_text_is_encoded_for_the_standard_fonts() {
        assert_eq!(win_ansi("Numéro"), b"Num\xe9ro".to_vec());
        assert_eq!(win_ansi("10 €"), b"10 \x80".to_vec());
        assert_eq!(win_ansi("a\u{202f}b—c"), b"a b\x97c".to_vec());
        assert_eq!(win_ansi("漢"), b"?".to_vec());
    }

    #[test]
    fn the_html_escapes_what_the_buyer_and_lines_say() {
        let page = html(&sample("fr", 1));
        assert!(page.contains("Facture F-2026-000001"));
        assert!(page.contains("Robe &lt;wax&gt;"));
        assert!(!page.contains("<wax>"));
        assert!(page.contains("18 %"));
    }

    #[test]
    fn a_long_invoice_spreads_over_several_pages() {
        let short = pdf(&sample("en", 3));
        let long = pdf(&sample("en", 120));
        assert!(short.starts_with(b"%PDF-"));
        // One media box per page.
        let pages = |bytes: &[u8]| bytes.windows(9).filter(|w| w == b"/MediaBox").count();
        assert_eq!(pages(&short), 1);
        assert!(pages(&long) > 2, "pages: {}", pages(&long));
    }
}
