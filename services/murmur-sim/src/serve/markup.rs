//! Text → markup helpers shared by the HTML-speaking platforms: spans of plain text, hashtags,
//! mentions and line breaks (by the same rules as the connectors' extractors), HTML escaping,
//! percent-encoding and Telegram's compact counters.

/// What a span of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    /// Plain text.
    Text,
    /// `#tag` (the span includes `#`).
    Tag,
    /// `@handle` or `@user@host` (the span includes the first `@`).
    Mention,
    /// A `\n`.
    Break,
}

/// A byte range of the text and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub kind: SpanKind,
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The spanned text.
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        &source[self.start..self.end]
    }

    /// The tag or handle without its leading `#`/`@`.
    pub fn body<'a>(&self, source: &'a str) -> &'a str {
        &source[self.start + 1..self.end]
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits text into plain, hashtag, mention and line-break spans. A `#` preceded by a word
/// character, `/` or `&` does not start a tag and all-digit tags are plain text (like the
/// connectors' `extract_hashtags`); an `@` preceded by a word character is not a mention.
pub(crate) fn spans(text: &str) -> Vec<Span> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut spans = Vec::new();
    let mut plain_start = 0;
    let mut index = 0;
    let flush = |spans: &mut Vec<Span>, start: usize, end: usize| {
        if end > start {
            spans.push(Span { kind: SpanKind::Text, start, end });
        }
    };
    while index < chars.len() {
        let (at, c) = chars[index];
        let previous = index.checked_sub(1).map(|i| chars[i].1);
        if c == '\n' {
            flush(&mut spans, plain_start, at);
            spans.push(Span { kind: SpanKind::Break, start: at, end: at + 1 });
            index += 1;
            plain_start = at + 1;
            continue;
        }
        let starts_tag = c == '#' && !previous.is_some_and(|p| is_word(p) || p == '/' || p == '&');
        let starts_mention = c == '@' && !previous.is_some_and(is_word);
        if starts_tag || starts_mention {
            let mut end_index = index + 1;
            let mut seen_host_at = false;
            while end_index < chars.len() {
                let next = chars[end_index].1;
                let accepted = if starts_tag {
                    is_word(next)
                } else {
                    let host_char = seen_host_at && (next == '.' || next == '-');
                    let second_at = next == '@' && !seen_host_at && end_index > index + 1;
                    seen_host_at |= second_at;
                    is_word(next) || host_char || second_at
                };
                if !accepted {
                    break;
                }
                end_index += 1;
            }
            let end_byte = chars.get(end_index).map_or(text.len(), |(byte, _)| *byte);
            let body = text[at + 1..end_byte].trim_end_matches(['.', '-', '@']);
            let ordinal = starts_tag && body.chars().all(|ch| ch.is_ascii_digit());
            let valid = !body.is_empty() && !ordinal;
            if valid {
                let end = at + 1 + body.len();
                flush(&mut spans, plain_start, at);
                let kind = if starts_tag { SpanKind::Tag } else { SpanKind::Mention };
                spans.push(Span { kind, start: at, end });
                plain_start = end;
                index = chars.partition_point(|(byte, _)| *byte < end);
                continue;
            }
        }
        index += 1;
    }
    flush(&mut spans, plain_start, text.len());
    spans
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
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

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Telegram's compact counters: `987`, `1.2K`, `12.3K`, `3.4M`.
pub(crate) fn compact_count(value: i64) -> String {
    let value = value.max(0);
    let scaled = |divisor: f64, suffix: &str| {
        let text = format!("{:.1}", value as f64 / divisor);
        format!("{}{suffix}", text.trim_end_matches(".0"))
    };
    match value {
        0..=999 => value.to_string(),
        1_000..=999_999 => scaled(1_000.0, "K"),
        _ => scaled(1_000_000.0, "M"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(SpanKind, &str)> {
        spans(text).into_iter().map(|span| (span.kind, span.text(text))).collect()
    }

    #[test]
    fn spans_follow_the_extractors() {
        use SpanKind::*;
        assert_eq!(
            kinds("hi @bob, #Rust!\nC# a#b #1 mail x@y.org @carol@fosstodon.org."),
            vec![
                (Text, "hi "),
                (Mention, "@bob"),
                (Text, ", "),
                (Tag, "#Rust"),
                (Text, "!"),
                (Break, "\n"),
                (Text, "C# a#b #1 mail x@y.org "),
                (Mention, "@carol@fosstodon.org"),
                (Text, "."),
            ]
        );
        assert_eq!(kinds("#café_2 é"), vec![(Tag, "#café_2"), (Text, " é")]);
        let text = "ends with #";
        assert_eq!(spans(text).iter().map(|span| span.text(text)).collect::<String>(), text);
    }

    #[test]
    fn escaping_encoding_and_counts() {
        assert_eq!(escape_html("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(percent_encode("#café"), "%23caf%C3%A9");
        assert_eq!(compact_count(987), "987");
        assert_eq!(compact_count(1200), "1.2K");
        assert_eq!(compact_count(12_000), "12K");
        assert_eq!(compact_count(3_400_000), "3.4M");
    }
}
