//! E-mail templates: a subject, a plain-text part and an HTML part, each a minijinja
//! template rendered with the e-mail's context (its kind's variables, plus
//! `shop_name`, `to` and `locale`). The HTML part escapes every value (autoescape by
//! the `.html` name); a variable the context lacks is an error, not an empty string, so
//! a template naming a misspelt variable is refused when it is saved.

use minijinja::{escape_formatter, AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

/// The three parts of a template, as stored in `shop.email_template`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The subject line.
    pub subject: String,
    /// The `text/plain` part.
    pub body_text: String,
    /// The `text/html` part.
    pub body_html: String,
}

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// The subject, on one line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// A part that does not compile or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct TemplateError {
    /// `subject`, `body_text` or `body_html`.
    pub part: &'static str,
    /// Where, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

const PARTS: [(&str, &str); 3] = [
    ("subject", "subject.txt"),
    ("body_text", "body.txt"),
    ("body_html", "body.html"),
];

/// Renders a template with a context (a JSON object).
///
/// # Errors
/// The first part that does not compile or render (syntax, an undefined variable, a
/// bad filter), naming the part and the line.
pub fn render(template: &Template, context: &serde_json::Value) -> Result<Rendered, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // minijinja's HTML escaping also escapes `/` (`&#x2f;`), which is valid but turns
    // every link of an e-mail into entities; `& < > " '` are the characters that
    // matter in text and quoted attributes.
    env.set_formatter(|out, state, value| {
        if state.auto_escape() != AutoEscape::Html
            || value.is_safe()
            || value.is_undefined()
            || value.is_none()
        {
            return escape_formatter(out, state, value);
        }
        let text = value.to_string();
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => escaped.push_str("&amp;"),
                '<' => escaped.push_str("&lt;"),
                '>' => escaped.push_str("&gt;"),
                '"' => escaped.push_str("&quot;"),
                '\'' => escaped.push_str("&#39;"),
                c => escaped.push(c),
            }
        }
        out.write_str(&escaped).map_err(minijinja::Error::from)
    });
    let sources = [&template.subject, &template.body_text, &template.body_html];
    for ((part, name), source) in PARTS.iter().zip(sources) {
        env.add_template(name, source).map_err(|e| error(part, &e))?;
    }
    let mut out = Vec::with_capacity(3);
    for (part, name) in PARTS {
        let rendered = env
            .get_template(name)
            .and_then(|t| t.render(context))
            .map_err(|e| error(part, &e))?;
        out.push(rendered);
    }
    let html = out.pop().unwrap_or_default();
    let text = out.pop().unwrap_or_default();
    // A subject is one header line: runs of whitespace (newlines included) become one space.
    let subject = out
        .pop()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Rendered { subject, text, html })
}

fn error(part: &'static str, e: &minijinja::Error) -> TemplateError {
    let mut message = e.kind().to_string();
    if let Some(detail) = e.detail() {
        message = format!("{message}: {detail}");
    }
    TemplateError {
        part,
        line: e.line(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(subject: &str, text: &str, html: &str) -> Template {
        Template {
            subject: subject.into(),
            body_text: text.into(),
            body_html: html.into(),
        }
    }

    #[test]
    fn values_are_escaped_in_html_only_and_subjects_are_one_line() {
        let t = template(
            "Hello\n{{ name }}",
            "Hi {{ name }}",
            "<p>Hi {{ name }}</p><a href=\"{{ link }}\">x</a>",
        );
        let r = render(
            &t,
            &json!({"name": "<Ada & \"Bob\">", "link": "https://shop.example/r?t=a/b&c=1"}),
        )
        .unwrap();
        assert_eq!(r.subject, "Hello <Ada & \"Bob\">");
        assert_eq!(r.text, "Hi <Ada & \"Bob\">");
        assert_eq!(r.html, "<p>Hi &lt;Ada &amp; &quot;Bob&quot;&gt;</p><a href=\"https://shop.example/r?t=a/b&amp;c=1\">x</a>");
    }

    #[test]
    fn syntax_errors_and_undefined_variables_name_the_part_and_line() {
        let broken = template("ok", "line one\n{% if x %}", "<p></p>");
        let e = render(&broken, &json!({"x": true})).unwrap_err();
        assert_eq!((e.part, e.line), ("body_text", Some(2)));
        let undefined = template("ok", "fine", "<p>{{ missing }}</p>");
        let e = render(&undefined, &json!({})).unwrap_err();
        assert_eq!(e.part, "body_html");
        assert!(e.message.contains("undefined"), "{e}");
    }
}
