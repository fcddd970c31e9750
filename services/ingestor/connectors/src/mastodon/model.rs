//! Mastodon `Status` JSON (docs.joinmastodon.org/entities/Status), the fields murmur uses.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Account {
    pub acct: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Mention {
    pub acct: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tag {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Status {
    pub id: String,
    pub created_at: String,
    #[serde(default)]
    pub in_reply_to_id: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub replies_count: i64,
    #[serde(default)]
    pub reblogs_count: i64,
    #[serde(default)]
    pub favourites_count: i64,
    #[serde(default)]
    pub edited_at: Option<String>,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub spoiler_text: String,
    #[serde(default)]
    pub reblog: Option<Box<Status>>,
    pub account: Account,
    #[serde(default)]
    pub mentions: Vec<Mention>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}
