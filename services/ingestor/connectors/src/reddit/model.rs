//! Reddit JSON shapes: a `Listing` of `t3` (submission) and `t1` (comment) things. Only the
//! fields murmur uses; unknown fields are ignored. Documented at reddit.com/dev/api.

use serde::Deserialize;

/// `edited` is `false` or the Unix time of the edit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Edited {
    Flag(bool),
    At(#[allow(dead_code)] f64),
}

impl Edited {
    pub fn is_edited(&self) -> bool {
        match self {
            Self::Flag(flag) => *flag,
            Self::At(_) => true,
        }
    }
}

impl Default for Edited {
    fn default() -> Self {
        Self::Flag(false)
    }
}

/// A `t3` submission.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Link {
    pub name: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub selftext: Option<String>,
    pub created_utc: f64,
    #[serde(default)]
    pub edited: Edited,
    #[serde(default)]
    pub distinguished: Option<String>,
    pub subreddit: String,
    #[serde(default)]
    pub subreddit_subscribers: Option<i64>,
    #[serde(default)]
    pub score: i64,
    #[serde(default)]
    pub num_comments: i64,
    #[serde(default)]
    pub permalink: String,
    #[serde(default)]
    pub num_crossposts: Option<i64>,
}

/// A `t1` comment.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Comment {
    pub name: String,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub body: String,
    pub created_utc: f64,
    #[serde(default)]
    pub edited: Edited,
    #[serde(default)]
    pub distinguished: Option<String>,
    pub subreddit: String,
    pub parent_id: String,
    pub link_id: String,
    #[serde(default)]
    pub score: i64,
    #[serde(default)]
    pub permalink: String,
}

/// OAuth token endpoint answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

/// Reddit's placeholder for deleted accounts.
pub(crate) fn is_deleted_author(author: Option<&str>) -> bool {
    matches!(author, None | Some("") | Some("[deleted]") | Some("[removed]"))
}
