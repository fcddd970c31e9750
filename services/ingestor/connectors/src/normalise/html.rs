//! HTML fragment → plain text (Mastodon `content`, Telegram message bodies): tags stripped, line
//! breaks kept for `<br>` and block elements, entities decoded by the HTML parser.

use scraper::{ElementRef, Html, Node};

/// Elements after which a line break separates the text from what follows.
const BLOCK_ELEMENTS: &[&str] =
    &["p", "div", "blockquote", "pre", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"];

/// Converts an HTML fragment to text. Paragraphs are separated by a blank line, `<br>` by a newline.
pub fn html_fragment_to_text(fragment: &str) -> String {
    let document = Html::parse_fragment(fragment);
    element_to_text(document.root_element())
}

/// Text of an element and its descendants, with line breaks for `<br>` and block elements.
pub fn element_to_text(element: ElementRef<'_>) -> String {
    let mut out = String::new();
    append_text(element, &mut out);
    collapse_blank_lines(out.trim())
}

fn append_text(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(child_element) => {
                let name = child_element.name();
                if name == "br" {
                    out.push('\n');
                    continue;
                }
                if name == "script" || name == "style" {
                    continue;
                }
                let Some(child_ref) = ElementRef::wrap(child) else { continue };
                let is_block = BLOCK_ELEMENTS.contains(&name);
                if is_block && !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                append_text(child_ref, out);
                if name == "p" {
                    out.push_str("\n\n");
                } else if is_block && !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => {}
        }
    }
}

/// At most one blank line in a row; trailing spaces on lines removed.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.split('\n') {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        if !out.is_empty() || !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_keeps_breaks_and_decodes_entities() {
        let html = "<p>Hello <a href=\"x\">#<span>rstats</span></a> &amp; friends<br>line two</p><p>para &lt;3</p>";
        assert_eq!(html_fragment_to_text(html), "Hello #rstats & friends\nline two\n\npara <3");
    }

    #[test]
    fn keeps_invisible_url_parts_so_links_are_whole() {
        let html = "<p><a href=\"https://www.ex.org/a\"><span class=\"invisible\">https://www.</span>\
                    <span class=\"ellipsis\">ex.org/</span><span class=\"invisible\">a</span></a></p>";
        assert_eq!(html_fragment_to_text(html), "https://www.ex.org/a");
    }
}
