//! Text normalisation: NFC, invisible and control characters removed, size cap at a char boundary.

use unicode_normalization::UnicodeNormalization;

/// Default cap on a post's text, in bytes of UTF-8.
pub const DEFAULT_TEXT_CAP_BYTES: usize = 16 * 1024;

/// Normalised text and whether it was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedText {
    /// The text.
    pub text: String,
    /// True when the cap cut it.
    pub truncated: bool,
}

/// Characters that render as nothing or reorder text: used to hide words from filters or spoof
/// direction, so they are removed before anything reads the text.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}' | '\u{200C}' | '\u{2060}' | '\u{FEFF}' | '\u{180E}' | '\u{00AD}'
        | '\u{200E}' | '\u{200F}' | '\u{061C}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{2061}'..='\u{2064}')
}

/// Emoji-ish code points around which a zero-width joiner is meaningful (family, profession emoji).
fn is_emoji_like(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' | '\u{FE0F}')
}

/// NFC-normalises, removes control characters (except `\n` and `\t`; `\r` is dropped so CRLF
/// becomes LF), zero-width and bidi-override characters, then caps at `cap_bytes` on a char
/// boundary. The zero-width joiner is kept only between emoji, where it builds one glyph.
pub fn normalise_text(raw: &str, cap_bytes: usize) -> NormalisedText {
    // Cap the raw input generously first so a 1 MB post does not cost a 1 MB NFC pass; NFC can
    // only change the length by small factors, so 4x the cap keeps the result exact.
    let raw_window = cut_at_char_boundary(raw, cap_bytes.saturating_mul(4).max(1024));
    let chars: Vec<char> = raw_window.chars().collect();
    let mut cleaned = String::with_capacity(raw_window.len());
    for (index, &c) in chars.iter().enumerate() {
        if c == '\n' || c == '\t' {
            cleaned.push(c);
            continue;
        }
        if c.is_control() || is_invisible(c) {
            continue;
        }
        if c == '\u{200D}' {
            let before = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
            let after = chars.get(index + 1).copied();
            if !(before.is_some_and(is_emoji_like) && after.is_some_and(is_emoji_like)) {
                continue;
            }
        }
        cleaned.push(c);
    }
    let composed: String = cleaned.nfc().collect();
    let was_cut_early = raw_window.len() < raw.len();
    let capped = cut_at_char_boundary(&composed, cap_bytes);
    let truncated = was_cut_early || capped.len() < composed.len();
    NormalisedText { text: capped.to_owned(), truncated }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a char boundary.
pub fn cut_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_invisible_and_control_characters_but_keeps_newlines_and_tabs() {
        let raw = "he\u{200B}llo\u{202E}\r\n\tworld\u{0007}\u{FEFF}";
        assert_eq!(normalise_text(raw, 1024).text, "hello\n\tworld");
    }

    #[test]
    fn composes_to_nfc() {
        let decomposed = "cafe\u{0301}";
        let normalised = normalise_text(decomposed, 1024);
        assert_eq!(normalised.text, "caf\u{00E9}");
        assert!(!normalised.truncated);
    }

    #[test]
    fn keeps_zwj_inside_emoji_sequences_only() {
        let family = "\u{1F468}\u{200D}\u{1F469}";
        assert_eq!(normalise_text(family, 1024).text, family);
        assert_eq!(normalise_text("a\u{200D}b", 1024).text, "ab");
    }

    #[test]
    fn caps_at_a_char_boundary() {
        let raw = "é".repeat(10); // 2 bytes each
        let normalised = normalise_text(&raw, 5);
        assert_eq!(normalised.text, "éé");
        assert!(normalised.truncated);
    }

    #[test]
    fn one_megabyte_is_capped() {
        let raw = "ab€".repeat(1024 * 1024 / 5);
        let normalised = normalise_text(&raw, DEFAULT_TEXT_CAP_BYTES);
        assert!(normalised.truncated);
        assert!(normalised.text.len() <= DEFAULT_TEXT_CAP_BYTES);
        assert!(normalised.text.len() > DEFAULT_TEXT_CAP_BYTES - 4);
    }
}
