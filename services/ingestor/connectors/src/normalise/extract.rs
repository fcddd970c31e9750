//! Hashtag and mention extraction from plain text, for platforms that do not list them
//! structurally (Reddit, Telegram previews) and to complete those that do.

/// Characters that may belong to a hashtag or handle body.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Hashtags (`#word`), lowercased without `#`, deduplicated in order of appearance. A `#` preceded
/// by a word character or `/` (URL fragments, `C#`) does not start a tag; all-digit tags (`#1`) are
/// ignored because they are ordinals, not topics.
pub fn extract_hashtags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let starts_tag = c == '#' && !previous.is_some_and(|p| is_word_char(p) || p == '/' || p == '&');
        previous = Some(c);
        if !starts_tag {
            continue;
        }
        let body_start = start + c.len_utf8();
        let mut body_end = body_start;
        while let Some(&(index, next)) = chars.peek() {
            if !is_word_char(next) {
                break;
            }
            body_end = index + next.len_utf8();
            previous = Some(next);
            chars.next();
        }
        let body = &text[body_start..body_end];
        if body.is_empty() || body.chars().all(|ch| ch.is_ascii_digit()) || body.chars().count() > 100 {
            continue;
        }
        push_unique(&mut tags, body.to_lowercase());
    }
    tags
}

/// `@handle` mentions (Telegram, Mastodon-style text, X), returned without `@`, as written;
/// callers pseudonymise them. An `@` preceded by a word character (e-mail addresses) is skipped.
/// For Mastodon-style `@user@host` the host is kept.
pub fn extract_at_mentions(text: &str) -> Vec<String> {
    let mut handles = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut index = 0;
    while index < chars.len() {
        let (byte_start, c) = chars[index];
        let preceded_by_word = index > 0 && is_word_char(chars[index - 1].1);
        index += 1;
        if c != '@' || preceded_by_word {
            continue;
        }
        let body_start = byte_start + 1;
        let mut body_end = body_start;
        let mut seen_host_at = false;
        while index < chars.len() {
            let (byte_index, next) = chars[index];
            let host_char = seen_host_at && (next == '.' || next == '-');
            let second_at = next == '@' && !seen_host_at && body_end > body_start;
            if !(is_word_char(next) || host_char || second_at) {
                break;
            }
            seen_host_at |= second_at;
            body_end = byte_index + next.len_utf8();
            index += 1;
        }
        let body = text[body_start..body_end].trim_end_matches(['.', '-', '@']);
        if !body.is_empty() {
            push_unique(&mut handles, body.to_owned());
        }
    }
    handles
}

/// Reddit user mentions: `u/name` or `/u/name` (3 to 20 characters of `[A-Za-z0-9_-]`).
pub fn extract_reddit_mentions(text: &str) -> Vec<String> {
    let mut handles = Vec::new();
    let bytes = text.as_bytes();
    let mut search_from = 0;
    while let Some(found) = text[search_from..].find("u/") {
        let start = search_from + found;
        search_from = start + 2;
        let is_boundary =
            |position: usize| position == 0 || matches!(bytes[position - 1], b' ' | b'\n' | b'\t' | b'(' | b'[');
        let after_slash = start > 0 && bytes[start - 1] == b'/';
        let starts_mention = if after_slash { is_boundary(start - 1) } else { is_boundary(start) };
        if !starts_mention {
            continue;
        }
        let body: String =
            text[start + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        if (3..=20).contains(&body.len()) {
            push_unique(&mut handles, body);
        }
    }
    handles
}

/// Appends `value` unless already present (case-insensitive for handles is the caller's concern).
pub(crate) fn push_unique(values: &mut Vec<String>, value: String) {
    if !values.contains(&value) {
        values.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_are_lowercased_deduplicated_and_skip_fragments() {
        let text = "Love #RStats and #rstats, see https://x.org/a#frag, C# and #1 #café_2!";
        assert_eq!(extract_hashtags(text), vec!["rstats", "café_2"]);
    }

    #[test]
    fn at_mentions_skip_emails_and_keep_hosts() {
        let text = "hi @alice, mail bob@example.org, cc @carol@fosstodon.org.";
        assert_eq!(extract_at_mentions(text), vec!["alice", "carol@fosstodon.org"]);
    }

    #[test]
    fn reddit_mentions() {
        let text = "thanks u/Some_User and /u/other-one, not abcu/xyz";
        assert_eq!(extract_reddit_mentions(text), vec!["Some_User", "other-one"]);
    }
}
