//! String predicates that reproduce Python's `str` semantics exactly where the reference
//! `vaderSentiment` depends on them (`str.split()`, `str.isupper()`, `str.strip(punctuation)`).
//!
//! Parity with the reference is a hard requirement, so these deliberately follow CPython rather
//! than Rust's own definitions where the two differ (e.g. Python treats U+001C..U+001F as
//! whitespace, Rust does not).

/// Python's `str.isspace()` for one character: Rust's `White_Space` plus the four ASCII
/// information separators CPython also splits on.
#[inline]
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Splits like Python's `str.split()` with no argument: runs of whitespace separate tokens and
/// no empty tokens are produced.
pub(crate) fn py_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_py_space).filter(|token| !token.is_empty())
}

/// Python's `str.isupper()`: at least one cased character and no lowercase or titlecase one.
pub(crate) fn py_isupper(token: &str) -> bool {
    if token.is_ascii() {
        let bytes = token.as_bytes();
        return bytes.iter().any(u8::is_ascii_uppercase) && !bytes.iter().any(u8::is_ascii_lowercase);
    }
    let mut has_cased = false;
    for c in token.chars() {
        if c.is_lowercase() {
            return false;
        }
        if c.is_uppercase() {
            has_cased = true;
        } else if c.is_alphabetic() && c.to_lowercase().ne(std::iter::once(c)) {
            // A cased letter that is neither upper nor lower is titlecase (e.g. U+01C5),
            // which makes Python's isupper() false.
            return false;
        }
    }
    has_cased
}

/// Python's `string.punctuation` membership.
#[inline]
pub(crate) fn is_ascii_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// The reference `_strip_punc_if_word`: strips leading and trailing ASCII punctuation unless
/// that leaves two characters or fewer (then the token was probably an emoticon such as `:)`
/// and is kept whole).
pub(crate) fn strip_punc_if_word(token: &str) -> &str {
    let stripped = token.trim_matches(is_ascii_punct);
    let short = if stripped.is_ascii() { stripped.len() <= 2 } else { stripped.chars().nth(2).is_none() };
    if short {
        token
    } else {
        stripped
    }
}

/// Lowercases `token` like Python's `str.lower()` into `buffer` (reused to avoid allocating
/// per token) and returns the lowercased text.
pub(crate) fn lower_into<'b>(token: &str, buffer: &'b mut String) -> &'b str {
    buffer.clear();
    if token.is_ascii() {
        buffer.push_str(token);
        buffer.make_ascii_lowercase();
    } else {
        buffer.push_str(&token.to_lowercase());
    }
    buffer.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_matches_python_whitespace_including_separators() {
        let tokens: Vec<&str> = py_split(" a\u{1f}b\u{a0}c\u{3000}d  ").collect();
        assert_eq!(tokens, ["a", "b", "c", "d"]);
    }

    #[test]
    fn isupper_follows_python() {
        assert!(py_isupper("GREAT"));
        assert!(py_isupper("GREAT!!"));
        assert!(py_isupper("ÉTÉ"));
        assert!(!py_isupper("Great"));
        assert!(!py_isupper(":)"));
        assert!(!py_isupper("123"));
        assert!(!py_isupper("\u{1c5}A"));
    }

    #[test]
    fn strip_punctuation_keeps_short_emoticons() {
        assert_eq!(strip_punc_if_word("hello!!!"), "hello");
        assert_eq!(strip_punc_if_word(":)"), ":)");
        assert_eq!(strip_punc_if_word("(ok)"), "(ok)");
        assert_eq!(strip_punc_if_word("#great"), "great");
        assert_eq!(strip_punc_if_word("\"été\""), "été");
    }
}
