//! Telegram: public channels through the `t.me/s/<channel>` web preview ([`web`]), and the Bot
//! API `getUpdates` for channels a bot administers and their discussion groups ([`bot`]), where
//! comments and their reply links live.
//!
//! Ids: `telegram:<chat>/<message id>`, `<chat>` being the lowercased public username, or the
//! numeric chat id for chats without one.

pub mod bot;
pub mod web;

/// `telegram:<chat>/<message id>`.
pub(crate) fn message_id(chat: &str, message: i64) -> String {
    crate::normalise::post_id(
        murmur_proto::events::v1::Platform::Telegram,
        &format!("{}/{message}", chat.to_lowercase()),
    )
}
