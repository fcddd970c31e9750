//! murmurctl: the user's command line over murmur's gRPC APIs.
//!
//! ```text
//! murmurctl communities --micro --theme running      emerging communities, best first
//! murmurctl community 42                             one community: KPIs, themes, key members
//! murmurctl signals --since 24h                      weak signals of the last day
//! murmurctl trend vegan                              a term's per-bucket counts
//! murmurctl alerts --follow                          live alerts (resumable with --after)
//! murmurctl watch add reddit r/running               what the ingestor scans
//! ```

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use murmur_proto::api::v1::insights_service_client::InsightsServiceClient;
use murmur_proto::api::v1::source_service_client::SourceServiceClient;
use murmur_proto::api::v1::{
    AlertFilter, CreateWatchRequest, DeleteWatchRequest, GetCommunityRequest, GetTermTrendRequest, ListAlertsRequest,
    ListChannelMetricsRequest, ListCommunitiesRequest, ListCommunityMembersRequest, ListCommunityMetricsRequest,
    ListSignalsRequest, ListSourceStatusesRequest, ListWatchesRequest, StreamAlertsRequest, Watch,
};
use murmurctl as out;
use serde_json::Value;
use tokio_stream::StreamExt;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::Request;

/// murmurctl: emerging micro-communities, weak signals and alerts from a murmur deployment.
#[derive(Debug, Parser)]
#[command(name = "murmurctl", version, about, long_about = None)]
struct Cli {
    /// The metrics-aggregator's gRPC address (InsightsService).
    #[arg(long, global = true, env = "MURMUR_INSIGHTS_ADDR", default_value = "http://127.0.0.1:50053")]
    insights_addr: String,
    /// The ingestor's gRPC address (SourceService, for `watch`).
    #[arg(long, global = true, env = "MURMUR_SOURCE_ADDR", default_value = "http://127.0.0.1:50051")]
    source_addr: String,
    /// Bearer token sent with every call: one of the services' MURMUR_API_TOKENS (or a gateway's).
    #[arg(long, global = true, env = "MURMUR_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Output format.
    #[arg(long, short, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Seconds to wait for a connection.
    #[arg(long, global = true, default_value_t = 5)]
    connect_timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Communities ordered by emergence score.
    Communities {
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        /// Only communities with this theme term.
        #[arg(long)]
        theme: Option<String>,
        #[arg(long, default_value_t = 0)]
        min_size: i64,
        #[arg(long, default_value_t = 0)]
        max_size: i64,
        /// Lifecycle statuses (born, growing, stable, shrinking, merged, split, dissolved); repeatable.
        #[arg(long)]
        status: Vec<String>,
        #[arg(long, default_value_t = 0.0)]
        min_engagement: f64,
        /// Only micro-communities (size within the configured band).
        #[arg(long)]
        micro: bool,
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// One community: KPIs, themes, key members (`42` or `communities/42`).
    Community { id: String },
    /// Members of a community with their roles.
    Members {
        id: String,
        /// creator, moderator, bridge, power_user or member.
        #[arg(long)]
        role: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i32,
    },
    /// KPI time series of a community.
    Metrics { id: String },
    /// Weak (and strong/latent/fading) signals.
    Signals {
        /// How far back, e.g. 24h, 7d (default: everything).
        #[arg(long)]
        since: Option<String>,
        /// weak, strong, latent, fading; repeatable.
        #[arg(long)]
        class: Vec<String>,
        #[arg(long)]
        language: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// Per-bucket counts of a term.
    Trend {
        term: String,
        #[arg(long)]
        since: Option<String>,
    },
    /// KPIs per channel.
    Channels {
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// Stored alerts, newest first; `--follow` streams live alerts.
    Alerts {
        /// Keep streaming new alerts.
        #[arg(long)]
        follow: bool,
        /// Alert kinds (community_born, weak_signal_detected, ...); repeatable.
        #[arg(long)]
        kind: Vec<String>,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        /// With --follow: resume after this alert id.
        #[arg(long)]
        after: Option<String>,
        /// Alerts created within this period (e.g. 24h); with --follow, replayed first.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// Manage what the ingestor scans.
    Watch {
        #[command(subcommand)]
        action: WatchAction,
    },
}

#[derive(Debug, Subcommand)]
enum WatchAction {
    /// Adds a watch: `watch add reddit running`, `watch add mastodon rstats --instance fosstodon.org`.
    Add {
        platform: String,
        target: String,
        #[arg(long, default_value = "")]
        instance: String,
        /// Poll interval in seconds (0 = the ingestor's default).
        #[arg(long, default_value_t = 0)]
        every: i64,
    },
    /// Lists watches with their source status.
    List,
    /// Removes a watch by name (`watches/...`).
    Rm { name: String },
}

fn parse_since(raw: &str) -> anyhow::Result<prost_types::Timestamp> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: i64 = number.parse().with_context(|| format!("invalid period `{raw}` (try 30m, 24h, 7d)"))?;
    let seconds = match unit {
        "s" => number,
        "m" => number * 60,
        "h" | "" => number * 3_600,
        "d" => number * 86_400,
        other => anyhow::bail!("unknown unit `{other}` in `{raw}` (s, m, h, d)"),
    };
    let now = chrono::Utc::now().timestamp();
    Ok(prost_types::Timestamp { seconds: now - seconds, nanos: 0 })
}

fn community_name(id: &str) -> String {
    if id.starts_with("communities/") {
        id.to_string()
    } else {
        format!("communities/{id}")
    }
}

async fn connect(addr: &str, timeout: u64) -> anyhow::Result<Channel> {
    Endpoint::from_shared(addr.to_string())
        .with_context(|| format!("invalid address `{addr}`"))?
        .connect_timeout(Duration::from_secs(timeout))
        .connect()
        .await
        .with_context(|| format!("cannot reach {addr} (is the service running? see `scripts/demo`)"))
}

fn print_json(value: Value) {
    println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
}

/// Prints `items` as a JSON array or as the table `table` renders.
fn emit<T>(json: bool, items: &[T], to_json: fn(&T) -> Value, table: fn(&[T]) -> String) {
    if json {
        print_json(Value::Array(items.iter().map(to_json).collect()));
    } else {
        println!("{}", table(items));
    }
}

fn map_err(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", status.code(), status.message())
}

struct Calls {
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Calls {
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            request.metadata_mut().insert("authorization", token.clone());
        }
        request
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let token = cli
        .token
        .as_deref()
        .map(|token| format!("Bearer {token}").parse::<MetadataValue<_>>())
        .transpose()
        .context("the API token contains characters not allowed in a header")?;
    let calls = Calls { token };
    let json = cli.output == Format::Json;
    if let Command::Watch { action } = &cli.command {
        let mut client = SourceServiceClient::new(connect(&cli.source_addr, cli.connect_timeout).await?);
        match action {
            WatchAction::Add { platform, target, instance, every } => {
                let watch = Watch {
                    platform: out::parse_platform(platform).map_err(anyhow::Error::msg)?,
                    target: target.clone(),
                    instance: instance.clone(),
                    poll_interval: (*every > 0).then_some(prost_types::Duration { seconds: *every, nanos: 0 }),
                    enabled: true,
                    ..Watch::default()
                };
                let created = client
                    .create_watch(calls.request(CreateWatchRequest { watch: Some(watch) }))
                    .await
                    .map_err(map_err)?
                    .into_inner();
                if json {
                    print_json(out::watch_json(&created));
                } else {
                    println!("created {}", created.name);
                }
            }
            WatchAction::List => {
                let watches = client
                    .list_watches(calls.request(ListWatchesRequest { page_size: 1000, ..Default::default() }))
                    .await
                    .map_err(map_err)?
                    .into_inner()
                    .watches;
                let statuses = client
                    .list_source_statuses(
                        calls.request(ListSourceStatusesRequest { page_size: 1000, ..Default::default() }),
                    )
                    .await
                    .map_err(map_err)?
                    .into_inner()
                    .statuses;
                if json {
                    print_json(Value::Array(watches.iter().map(out::watch_json).collect()));
                } else {
                    println!("{}", out::watches_table(&watches, &statuses));
                }
            }
            WatchAction::Rm { name } => {
                client.delete_watch(calls.request(DeleteWatchRequest { name: name.clone() })).await.map_err(map_err)?;
                println!("deleted {name}");
            }
        }
        return Ok(());
    }
    let mut client = InsightsServiceClient::new(connect(&cli.insights_addr, cli.connect_timeout).await?);
    match cli.command {
        Command::Communities { platform, channel, theme, min_size, max_size, status, min_engagement, micro, limit } => {
            let request = ListCommunitiesRequest {
                page_size: limit,
                platform: platform
                    .as_deref()
                    .map(out::parse_platform)
                    .transpose()
                    .map_err(anyhow::Error::msg)?
                    .unwrap_or(0),
                channel: channel.unwrap_or_default(),
                theme_term: theme.unwrap_or_default(),
                min_size,
                max_size,
                statuses: status
                    .iter()
                    .map(|name| out::parse_status(name))
                    .collect::<Result<_, _>>()
                    .map_err(anyhow::Error::msg)?,
                min_engagement_rate: min_engagement,
                micro_only: micro,
                ..Default::default()
            };
            let communities =
                client.list_communities(calls.request(request)).await.map_err(map_err)?.into_inner().communities;
            emit(json, &communities, out::community_json, out::communities_table);
        }
        Command::Community { id } => {
            let community = client
                .get_community(calls.request(GetCommunityRequest { name: community_name(&id) }))
                .await
                .map_err(map_err)?
                .into_inner();
            if json {
                print_json(out::community_json(&community));
            } else {
                print!("{}", out::community_detail(&community));
                println!();
            }
        }
        Command::Members { id, role, limit } => {
            let request = ListCommunityMembersRequest {
                parent: community_name(&id),
                page_size: limit,
                page_token: String::new(),
                role: role.as_deref().map(out::parse_role).transpose().map_err(anyhow::Error::msg)?.unwrap_or(0),
            };
            let members =
                client.list_community_members(calls.request(request)).await.map_err(map_err)?.into_inner().members;
            emit(json, &members, out::member_json, out::members_table);
        }
        Command::Metrics { id } => {
            let request = ListCommunityMetricsRequest { name: community_name(&id), ..Default::default() };
            let points =
                client.list_community_metrics(calls.request(request)).await.map_err(map_err)?.into_inner().points;
            emit(json, &points, out::metrics_json, out::metrics_table);
        }
        Command::Signals { since, class, language, limit } => {
            let request = ListSignalsRequest {
                start_time: since.as_deref().map(parse_since).transpose()?,
                classes: class
                    .iter()
                    .map(|name| out::parse_signal_class(name))
                    .collect::<Result<_, _>>()
                    .map_err(anyhow::Error::msg)?,
                language: language.unwrap_or_default(),
                page_size: limit,
                ..Default::default()
            };
            let signals = client.list_signals(calls.request(request)).await.map_err(map_err)?.into_inner().signals;
            emit(json, &signals, out::signal_json, out::signals_table);
        }
        Command::Trend { term, since } => {
            let request = GetTermTrendRequest {
                term,
                start_time: since.as_deref().map(parse_since).transpose()?,
                end_time: None,
            };
            let trend = client.get_term_trend(calls.request(request)).await.map_err(map_err)?.into_inner();
            if json {
                print_json(out::trend_json(&trend));
            } else {
                println!("{}", out::trend_table(&trend));
            }
        }
        Command::Channels { platform, channel, limit } => {
            let request = ListChannelMetricsRequest {
                platform: platform
                    .as_deref()
                    .map(out::parse_platform)
                    .transpose()
                    .map_err(anyhow::Error::msg)?
                    .unwrap_or(0),
                channel: channel.unwrap_or_default(),
                page_size: limit,
                ..Default::default()
            };
            let channels =
                client.list_channel_metrics(calls.request(request)).await.map_err(map_err)?.into_inner().channels;
            emit(json, &channels, out::channel_json, out::channels_table);
        }
        Command::Alerts { follow, kind, subject, platform, channel, after, since, limit } => {
            let filter = AlertFilter {
                kinds: kind
                    .iter()
                    .map(|name| out::parse_alert_kind(name))
                    .collect::<Result<_, _>>()
                    .map_err(anyhow::Error::msg)?,
                subject: subject.unwrap_or_default(),
                platform: platform
                    .as_deref()
                    .map(out::parse_platform)
                    .transpose()
                    .map_err(anyhow::Error::msg)?
                    .unwrap_or(0),
                channel: channel.unwrap_or_default(),
            };
            let since = since.as_deref().map(parse_since).transpose()?;
            if follow {
                let request = StreamAlertsRequest {
                    filter: Some(filter),
                    after_alert_id: after.unwrap_or_default(),
                    since_time: since,
                };
                let mut stream = client.stream_alerts(calls.request(request)).await.map_err(map_err)?.into_inner();
                while let Some(alert) = stream.next().await {
                    let alert = alert.map_err(map_err)?;
                    if json {
                        println!("{}", out::alert_json(&alert));
                    } else {
                        println!("{}", out::alert_line(&alert));
                    }
                }
            } else {
                let request = ListAlertsRequest {
                    filter: Some(filter),
                    start_time: since,
                    page_size: limit,
                    page_token: String::new(),
                };
                let alerts = client.list_alerts(calls.request(request)).await.map_err(map_err)?.into_inner().alerts;
                if json {
                    print_json(Value::Array(alerts.iter().map(out::alert_json).collect()));
                } else {
                    for alert in &alerts {
                        println!("{}", out::alert_line(alert));
                    }
                }
            }
        }
        Command::Watch { .. } => unreachable!("handled above"),
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("murmurctl: {error:#}");
            ExitCode::FAILURE
        }
    }
}
