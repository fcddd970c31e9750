//! Bearer-token authentication of the gRPC APIs.
//!
//! A service started with tokens (`MURMUR_API_TOKENS` and/or `MURMUR_API_TOKENS_FILE`) answers a
//! call to its API only when the call carries `authorization: Bearer <token>` with one of them;
//! otherwise `UNAUTHENTICATED`, counted in `murmur_grpc_unauthenticated_total`. `grpc.health.v1`
//! and reflection stay open, for probes and `grpcurl describe`. Without tokens the API is open
//! (local development) and the service says so in a warning at start-up.
//!
//! Tokens are compared in constant time and never logged: [`ApiToken`]'s `Debug` prints `***`.

use std::path::Path;
use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tonic::{Request, Status};

/// Shortest token accepted: a bearer token is a password that cannot be rate limited per user.
pub const MIN_TOKEN_LENGTH: usize = 16;

/// One accepted bearer token (printable ASCII without spaces, at least [`MIN_TOKEN_LENGTH`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ApiToken(***)")
    }
}

impl std::str::FromStr for ApiToken {
    type Err = String;

    /// Errors never quote the token.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let token = text.trim();
        if token.len() < MIN_TOKEN_LENGTH {
            return Err(format!("an API token must be at least {MIN_TOKEN_LENGTH} characters long"));
        }
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err("an API token must be printable ASCII without spaces (it travels in an HTTP header)".into());
        }
        Ok(ApiToken(token.to_string()))
    }
}

/// A token as given by `--api-tokens` / `MURMUR_API_TOKENS`, not checked yet: clap quotes a value
/// it fails to parse in its error, so the check happens at start-up ([`parse_tokens`]), where the
/// error never shows the token. `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct RawApiToken(String);

impl std::fmt::Debug for RawApiToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RawApiToken(***)")
    }
}

impl std::str::FromStr for RawApiToken {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(RawApiToken(text.to_string()))
    }
}

/// Checks the tokens of `--api-tokens`; empty entries (an empty `MURMUR_API_TOKENS`, a trailing
/// comma) are skipped, so an unset secret in a deployment means no token rather than an error.
pub fn parse_tokens(raw: &[RawApiToken]) -> anyhow::Result<Vec<ApiToken>> {
    raw.iter()
        .enumerate()
        .filter(|(_, token)| !token.0.trim().is_empty())
        .map(|(index, token)| {
            token
                .0
                .parse()
                .map_err(|error| anyhow::anyhow!("--api-tokens / MURMUR_API_TOKENS entry {}: {error}", index + 1))
        })
        .collect()
}

/// Reads tokens from a file: one per line, blank lines and lines starting with `#` ignored.
pub fn read_tokens_file(path: &Path) -> anyhow::Result<Vec<ApiToken>> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read the API tokens file {}: {error}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|(index, line)| {
            line.parse()
                .map_err(|error| anyhow::anyhow!("API tokens file {} line {}: {error}", path.display(), index + 1))
        })
        .collect()
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    let mut difference = u8::from(left.len() != right.len());
    for (index, byte) in left.iter().enumerate() {
        difference |= byte ^ right.get(index).copied().unwrap_or(!byte);
    }
    difference == 0
}

/// Metrics of the API authentication.
#[derive(Clone, Debug, Default)]
pub struct AuthMetrics {
    pub unauthenticated: Counter,
}

impl AuthMetrics {
    /// Creates the metrics and registers them under `murmur_grpc_*`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        let sub = registry.sub_registry_with_prefix("murmur_grpc");
        sub.register(
            "unauthenticated",
            "API calls refused for a missing or unknown bearer token",
            metrics.unauthenticated.clone(),
        );
        metrics
    }
}

/// The interceptor of the API services (cheap to clone: one per service).
#[derive(Clone, Debug)]
pub struct BearerAuth {
    tokens: Arc<[ApiToken]>,
    metrics: AuthMetrics,
}

impl BearerAuth {
    /// Accepts `tokens` (none: the API is open), counting refusals in `metrics`.
    pub fn new(tokens: Vec<ApiToken>, metrics: AuthMetrics) -> Self {
        BearerAuth { tokens: tokens.into(), metrics }
    }

    /// True when no token is configured.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Checks a call's metadata.
    pub fn check(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        if self.is_open() {
            return Ok(());
        }
        let outcome = match metadata.get("authorization").map(|value| value.to_str()) {
            None => Err(Status::unauthenticated("this API needs `authorization: Bearer <token>`")),
            Some(Err(_)) => Err(Status::unauthenticated("the authorization header is not printable ASCII")),
            Some(Ok(value)) => match value.split_once(' ') {
                Some((scheme, presented)) if scheme.eq_ignore_ascii_case("bearer") => {
                    let presented = presented.trim().as_bytes();
                    // Every token is compared, so the time does not tell which one matched.
                    let matched = self
                        .tokens
                        .iter()
                        .fold(false, |matched, token| constant_time_eq(token.0.as_bytes(), presented) | matched);
                    if matched {
                        Ok(())
                    } else {
                        Err(Status::unauthenticated("unknown bearer token"))
                    }
                }
                _ => Err(Status::unauthenticated("the authorization header is not `Bearer <token>`")),
            },
        };
        if outcome.is_err() {
            self.metrics.unauthenticated.inc();
        }
        outcome
    }
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.check(request.metadata())?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str) -> ApiToken {
        text.parse().expect("valid token")
    }

    fn metadata(authorization: Option<&str>) -> tonic::metadata::MetadataMap {
        let mut map = tonic::metadata::MetadataMap::new();
        if let Some(value) = authorization {
            map.insert("authorization", value.parse().expect("ascii"));
        }
        map
    }

    fn rejected(auth: &BearerAuth) -> u64 {
        auth.metrics.unauthenticated.get()
    }

    #[test]
    fn without_tokens_every_call_passes() {
        let auth = BearerAuth::new(Vec::new(), AuthMetrics::default());
        assert!(auth.is_open());
        assert!(auth.check(&metadata(None)).is_ok());
        assert!(auth.check(&metadata(Some("Bearer whatever"))).is_ok());
        assert_eq!(rejected(&auth), 0);
    }

    #[test]
    fn a_call_passes_only_with_one_of_the_tokens_and_each_refusal_is_counted() {
        let auth = BearerAuth::new(
            vec![token("first-token-0123456789"), token("second-token-0123456789")],
            AuthMetrics::default(),
        );
        assert!(auth.check(&metadata(Some("Bearer first-token-0123456789"))).is_ok());
        assert!(
            auth.check(&metadata(Some("bearer second-token-0123456789"))).is_ok(),
            "the scheme is case-insensitive"
        );
        for refused in [
            None,
            Some("Bearer first-token-012345678"),
            Some("Bearer first-token-01234567890"),
            Some("Basic first-token-0123456789"),
            Some("first-token-0123456789"),
            Some("Bearer "),
        ] {
            let status = auth.check(&metadata(refused)).expect_err("refused");
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{refused:?}");
            assert!(!status.message().contains("first-token"), "the message never quotes a token");
        }
        assert_eq!(rejected(&auth), 6);
    }

    #[test]
    fn tokens_are_validated_without_being_quoted_and_never_printed() {
        assert!("short".parse::<ApiToken>().expect_err("too short").contains("at least 16"));
        let error = "has a space in the middle!".parse::<ApiToken>().expect_err("space");
        assert!(error.contains("printable ASCII") && !error.contains("space in"));
        assert!("tökén-with-accents-0123".parse::<ApiToken>().is_err());
        assert_eq!(format!("{:?}", token("a-secret-token-0123456789")), "ApiToken(***)");
        assert_eq!(token("  padded-token-0123456789\n"), token("padded-token-0123456789"));
    }

    #[test]
    fn the_tokens_file_skips_comments_and_blank_lines_and_names_a_bad_line() {
        let directory = std::env::temp_dir().join(format!("murmur-auth-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("directory");
        let path = directory.join("tokens");
        std::fs::write(&path, "# dashboards\nfirst-token-0123456789\n\n  # sre\nsecond-token-0123456789\n")
            .expect("write");
        let tokens = read_tokens_file(&path).expect("read");
        assert_eq!(tokens, vec![token("first-token-0123456789"), token("second-token-0123456789")]);
        std::fs::write(&path, "first-token-0123456789\nshort\n").expect("write");
        let error = read_tokens_file(&path).expect_err("bad line").to_string();
        assert!(error.contains("line 2") && error.contains("at least"), "{error}");
        assert!(read_tokens_file(&directory.join("missing")).is_err());
        std::fs::remove_dir_all(&directory).expect("clean up");
    }

    #[test]
    fn raw_tokens_are_checked_at_start_up_without_quoting_them_and_empty_entries_mean_none() {
        let raw = |text: &str| text.parse::<RawApiToken>().expect("infallible");
        assert!(parse_tokens(&[raw("")]).expect("empty").is_empty());
        assert!(parse_tokens(&[]).expect("none").is_empty());
        let tokens = parse_tokens(&[raw("first-token-0123456789"), raw(" ")]).expect("one");
        assert_eq!(tokens, vec![token("first-token-0123456789")]);
        let error = parse_tokens(&[raw("first-token-0123456789"), raw("tiny-secret")]).expect_err("short").to_string();
        assert!(error.contains("entry 2") && error.contains("at least"), "{error}");
        assert!(!error.contains("tiny-secret"), "the error never quotes the token: {error}");
        assert_eq!(format!("{:?}", raw("tiny-secret")), "RawApiToken(***)");
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }
}
