//! Reddit OAuth: script (password) and application-only (`client_credentials`) grants, with the
//! token cached until shortly before it expires.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::model::TokenResponse;
use crate::error::ConnectorError;
use crate::http::{body_excerpt, check_status, HttpClient};
use crate::outcome::SharedClock;
use crate::secret::Secret;

/// How a Reddit connector authenticates.
#[derive(Debug, Clone)]
pub enum RedditAuth {
    /// No credentials: the public `www.reddit.com/.../.json` endpoints (stricter, undocumented limits).
    Anonymous,
    /// "script" app acting as a user: password grant.
    Script {
        /// App client id.
        client_id: String,
        /// App secret.
        client_secret: Secret,
        /// Reddit username of the account the script runs as.
        username: String,
        /// Its password.
        password: Secret,
    },
    /// Application-only OAuth for confidential clients: `client_credentials` grant.
    ApplicationOnly {
        /// App client id.
        client_id: String,
        /// App secret.
        client_secret: Secret,
    },
}

/// Refresh this long before the announced expiry so a token never expires mid-poll.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct CachedToken {
    token: Secret,
    refresh_at: Instant,
}

/// Fetches and caches the bearer token.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    cached: Mutex<Option<CachedToken>>,
}

impl TokenCache {
    /// The cached token, or a fresh one from `token_url`.
    pub async fn token(
        &self,
        http: &HttpClient,
        token_url: &str,
        auth: &RedditAuth,
        clock: &SharedClock,
    ) -> Result<Secret, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref().filter(|token| Instant::now() < token.refresh_at) {
            return Ok(token.token.clone());
        }
        let (client_id, client_secret, form): (&str, &Secret, Vec<(&str, &str)>) = match auth {
            RedditAuth::Anonymous => {
                return Err(ConnectorError::Config("token requested without credentials".into()));
            }
            RedditAuth::Script { client_id, client_secret, username, password } => (
                client_id,
                client_secret,
                vec![("grant_type", "password"), ("username", username), ("password", password.expose())],
            ),
            RedditAuth::ApplicationOnly { client_id, client_secret } => {
                (client_id, client_secret, vec![("grant_type", "client_credentials")])
            }
        };
        let request = http.inner().post(token_url).basic_auth(client_id, Some(client_secret.expose())).form(&form);
        let response = http.send(request).await?;
        check_status(http.platform(), &response, clock.now(), None).map_err(|error| match error {
            ConnectorError::Http { status, detail, .. } if status < 500 => {
                ConnectorError::Auth { platform: "reddit", detail: format!("token endpoint HTTP {status}: {detail}") }
            }
            other => other,
        })?;
        let parsed: TokenResponse = serde_json::from_slice(&response.body).map_err(|error| {
            ConnectorError::MalformedResponse { platform: "reddit", detail: format!("token response: {error}") }
        })?;
        let (Some(access_token), None) = (parsed.access_token, parsed.error.as_ref()) else {
            return Err(ConnectorError::Auth {
                platform: "reddit",
                detail: format!("token endpoint refused: {}", body_excerpt(&response.body)),
            });
        };
        let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
        let token = Secret::new(access_token);
        *cached = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        });
        Ok(token)
    }

    /// Forgets the token (after a 401), so the next request fetches a new one.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
