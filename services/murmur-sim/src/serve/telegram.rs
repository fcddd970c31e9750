//! Telegram channel previews: `GET /s/<channel>` answers the `t.me/s` HTML (channel header with
//! the subscriber counter, then the latest 20 released channel posts oldest first as
//! `.tgme_widget_message[data-post="<channel>/<n>"]` blocks: text with hashtag and mention links,
//! views as compact counters, `time[datetime]`, "edited" in the meta, forwarded-from markup).
//! `before=<n>` gives the 20 posts before message n, `after=<n>` the 20 after it.
//!
//! Only records without a parent are channel posts; comments (discussion-group replies) do not
//! appear on `t.me/s`. A channel the stream never names is a 404; a named channel with nothing
//! released yet is a page with its header and no messages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use murmur_connectors::replay::ReplayRecord;

use super::markup::{compact_count, escape_html, percent_encode, spans, SpanKind};
use super::{query_number, Shared, TelegramItem};

const PAGE_SIZE: usize = 20;

/// `GET /s/{channel}`.
pub(crate) async fn preview(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let channel = channel.trim_start_matches('@').to_ascii_lowercase();
    let Some(items) = shared.catalog.telegram.get(&channel) else {
        return html_response(StatusCode::NOT_FOUND, not_found_page(&channel));
    };
    let released = shared.released();
    let visible: Vec<&TelegramItem> = items.iter().filter(|item| item.entry < released).collect();
    let before = query_number::<i64>(&query, "before");
    let after = query_number::<i64>(&query, "after");
    // `visible` is newest first; pages are rendered oldest first.
    let mut page: Vec<&TelegramItem> = if let Some(after) = after {
        let newer: Vec<&TelegramItem> = visible.iter().copied().filter(|item| item.number > after).collect();
        let skip = newer.len().saturating_sub(PAGE_SIZE);
        newer.into_iter().skip(skip).collect()
    } else {
        visible
            .iter()
            .copied()
            .filter(|item| before.is_none_or(|before| item.number < before))
            .take(PAGE_SIZE)
            .collect()
    };
    page.reverse();
    let audience = visible
        .first()
        .and_then(|item| shared.catalog.entries[item.entry].record.channel_audience)
        .or_else(|| items.iter().find_map(|item| shared.catalog.entries[item.entry].record.channel_audience));
    let older_exist = page.first().is_some_and(|oldest| visible.iter().any(|item| item.number < oldest.number));
    let mut html = page_head(&channel, audience);
    if let (true, Some(oldest)) = (older_exist, page.first()) {
        html.push_str(&format!(
            "<div class=\"tme_messages_more js-messages_more\" data-before=\"{}\"></div>\n",
            oldest.number
        ));
    }
    for item in page {
        html.push_str(&message_html(&channel, item.number, &shared.catalog.entries[item.entry].record));
    }
    html.push_str("      </section>\n    </main>\n  </body>\n</html>\n");
    html_response(StatusCode::OK, html)
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn not_found_page(channel: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Telegram</title></head><body>\
         <div class=\"tgme_page_wrap\">Channel @{} not found</div></body></html>\n",
        escape_html(channel)
    )
}

fn page_head(channel: &str, audience: Option<i64>) -> String {
    let channel = escape_html(channel);
    let counter = audience.map_or_else(String::new, |audience| {
        format!(
            "<div class=\"tgme_channel_info_counter\"><span class=\"counter_value\">{}</span> \
             <span class=\"counter_type\">subscribers</span></div>",
            compact_count(audience)
        )
    });
    format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>{channel} – Telegram</title>\n\
         \x20   <meta property=\"og:title\" content=\"{channel}\">\n  </head>\n\
         \x20 <body class=\"widget_frame_base tgme_webpreview_body\">\n\
         \x20   <header class=\"tgme_header search_collapsed\"><div class=\"tgme_header_info\">\
         <a class=\"tgme_header_link\" href=\"https://t.me/{channel}\"><div class=\"tgme_header_title\">\
         <span dir=\"auto\">{channel}</span></div></a></div></header>\n\
         \x20   <main class=\"tgme_main\">\n      <section class=\"tgme_right_column\">\n\
         \x20       <div class=\"tgme_channel_info\">\n          <div class=\"tgme_channel_info_header\">\
         <div class=\"tgme_channel_info_header_title\"><span dir=\"auto\">{channel}</span></div>\
         <div class=\"tgme_channel_info_header_username\"><a href=\"https://t.me/{channel}\">@{channel}</a></div></div>\n\
         \x20         <div class=\"tgme_channel_info_counters\">{counter}</div>\n        </div>\n      </section>\n\
         \x20     <section class=\"tgme_channel_history js-message_history\">\n"
    )
}

/// `https://t.me/<chat>/<n>` for a forward source given as `telegram:<chat>/<n>`, `<chat>/<n>`,
/// `@chat` or `chat`.
fn forward_href(source: &str) -> String {
    let source = source.trim();
    let source = source.strip_prefix("telegram:").unwrap_or(source);
    let source = source.strip_prefix("https://t.me/").unwrap_or(source).trim_start_matches('@');
    format!("https://t.me/{}", escape_html(source))
}

fn text_html(text: &str) -> String {
    let mut html = String::new();
    for span in spans(text) {
        match span.kind {
            SpanKind::Text => html.push_str(&escape_html(span.text(text))),
            SpanKind::Break => html.push_str("<br/>"),
            SpanKind::Tag => html.push_str(&format!(
                "<a href=\"?q={}\">{}</a>",
                percent_encode(span.text(text)),
                escape_html(span.text(text))
            )),
            SpanKind::Mention => html.push_str(&format!(
                "<a href=\"https://t.me/{}\">{}</a>",
                escape_html(span.body(text)),
                escape_html(span.text(text))
            )),
        }
    }
    html
}

fn message_html(channel: &str, number: i64, record: &ReplayRecord) -> String {
    let channel = escape_html(channel);
    let created = chrono::DateTime::parse_from_rfc3339(record.created_at.trim()).map(|at| at.to_utc());
    let (datetime, clock) = match created {
        Ok(at) => (at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(), at.format("%H:%M").to_string()),
        Err(_) => (String::new(), String::new()),
    };
    let forwarded = if record.forwarded_from.trim().is_empty() {
        String::new()
    } else {
        let source = record.forwarded_from.trim();
        let name = source.strip_prefix("telegram:").unwrap_or(source);
        let name = name.split('/').next().unwrap_or(name).trim_start_matches('@');
        format!(
            "<div class=\"tgme_widget_message_forwarded_from accent_color\">Forwarded from \
             <a class=\"tgme_widget_message_forwarded_from_name\" href=\"{}\"><span dir=\"auto\">{}</span></a></div>\n",
            forward_href(source),
            escape_html(name)
        )
    };
    let text = if record.text.trim().is_empty() {
        String::new()
    } else {
        format!(
            "<div class=\"tgme_widget_message_text js-message_text\" dir=\"auto\">{}</div>\n",
            text_html(&record.text)
        )
    };
    let edited = if record.edited { "edited " } else { "" };
    format!(
        "<div class=\"tgme_widget_message_wrap js-widget_message_wrap\">\n\
         <div class=\"tgme_widget_message text_not_supported_wrap js-widget_message\" data-post=\"{channel}/{number}\">\n\
         <div class=\"tgme_widget_message_user\"><a href=\"https://t.me/{channel}\">\
         <i class=\"tgme_widget_message_user_photo bgcolor0\" data-content=\"{initial}\"></i></a></div>\n\
         <div class=\"tgme_widget_message_bubble\">\n{forwarded}\
         <div class=\"tgme_widget_message_author accent_color\"><a class=\"tgme_widget_message_owner_name\" \
         href=\"https://t.me/{channel}\"><span dir=\"auto\">{channel}</span></a></div>\n{text}\
         <div class=\"tgme_widget_message_footer compact js-message_footer\">\
         <div class=\"tgme_widget_message_info short js-message_info\">\
         <span class=\"tgme_widget_message_views\">{views}</span>\
         <span class=\"copyonclick\" data-copy=\"https://t.me/{channel}/{number}\"></span>\
         <span class=\"tgme_widget_message_meta\">{edited}<a class=\"tgme_widget_message_date\" \
         href=\"https://t.me/{channel}/{number}\"><time datetime=\"{datetime}\" class=\"time\">{clock}</time></a></span>\
         </div></div>\n</div>\n</div>\n</div>\n",
        initial = channel.chars().next().map(|c| c.to_ascii_uppercase()).unwrap_or('?'),
        views = compact_count(record.engagement.views),
    )
}
