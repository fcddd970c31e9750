//! Postgres connection with an error that says what to do when the database is unreachable.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::config::DatabaseArgs;

/// Why the database could not be used at start-up.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL does not parse.
    #[error("invalid DATABASE_URL ({redacted_url}): {source}")]
    InvalidUrl {
        /// The URL with its password removed.
        redacted_url: String,
        /// The parse error.
        source: sqlx::Error,
    },
    /// The server did not answer or refused the connection.
    #[error(
        "cannot reach Postgres at {redacted_url}: {source} \
         (is it running? start it with `scripts/stack up` or set DATABASE_URL)"
    )]
    Unreachable {
        /// The URL with its password removed.
        redacted_url: String,
        /// The connection error.
        source: sqlx::Error,
    },
}

/// Removes the password from a connection URL so it can be logged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_string() };
    let user = credentials.split(':').next().unwrap_or_default();
    format!("{scheme}://{user}:***@{host}")
}

/// Connects a pool and checks the server answers, within `acquire_timeout`.
pub async fn connect(args: &DatabaseArgs, acquire_timeout: Duration) -> Result<PgPool, DatabaseError> {
    let redacted_url = redact_url(&args.database_url);
    let options: PgConnectOptions = args
        .database_url
        .parse()
        .map_err(|source| DatabaseError::InvalidUrl { redacted_url: redacted_url.clone(), source })?;
    // Statements can carry user text; keep them out of logs.
    let options = options.disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(args.database_max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .map_err(|source| DatabaseError::Unreachable { redacted_url: redacted_url.clone(), source })?;
    tracing::info!(database = %redacted_url, "connected to postgres");
    Ok(pool)
}

/// Runs a service's embedded migrations. The services share one database, each with its own
/// migration set, so versions applied by another service are not an error.
pub async fn migrate(pool: &PgPool, mut migrator: sqlx::migrate::Migrator) -> anyhow::Result<()> {
    migrator.set_ignore_missing(true);
    migrator.run(pool).await.map_err(|error| anyhow::anyhow!("database migrations failed: {error}"))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_appear_in_redacted_urls() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/murmur"), "postgres://app:***@db:5432/murmur");
        assert_eq!(redact_url("postgres://db/murmur"), "postgres://db/murmur");
        assert!(!redact_url("postgres://u:p%40ss@h/d").contains("p%40ss"));
    }
}
