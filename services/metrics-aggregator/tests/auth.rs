//! The aggregator started with API tokens, against the real broker and Postgres: InsightsService
//! answers only calls that carry one of the tokens (unary and the alert stream), health checks
//! stay open, and each refusal is counted in the service's metrics.

use std::time::Duration;

use metrics_aggregator::Application;
use murmur_common::testing::{fresh_database, fresh_topic};
use murmur_common::Shutdown;
use murmur_proto::api::v1::insights_service_client::InsightsServiceClient;
use murmur_proto::api::v1::{ListCommunitiesRequest, StreamAlertsRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

mod common;

const TOKEN: &str = "dashboards-7f3a9c2e51d84b06";
const OTHER_TOKEN: &str = "sre-team-0c41e5f9a2b7d368";

fn with_authorization<T>(message: T, authorization: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value.parse().expect("ascii header"));
    }
    request
}

async fn metrics_text(admin: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(admin).await.expect("admin connects");
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").await.expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("response");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_only_calls_with_a_configured_bearer_token() {
    let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    let input = fresh_topic("auth-in", 1).await;
    let alerts = fresh_topic("auth-alerts", 1).await;
    let database_url = fresh_database("murmur_test").await;
    let directory = std::env::temp_dir().join(format!("murmur-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("directory");
    let tokens_file = directory.join("tokens");
    std::fs::write(&tokens_file, format!("# the SRE team\n{OTHER_TOKEN}\n")).expect("tokens file");
    let config = common::aggregator_config(
        &input,
        &alerts,
        &database_url,
        &[format!("--api-tokens={TOKEN}"), format!("--api-tokens-file={}", tokens_file.display())],
    );
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let app = Application::build(config, shutdown.clone()).await.expect("aggregator builds");
    let (grpc, admin) = (app.grpc_addr(), app.admin_addr());
    let task = tokio::spawn(app.run_until_stopped());
    let mut client = InsightsServiceClient::connect(format!("http://{grpc}")).await.expect("grpc connects");

    let refused = [None, Some("Bearer not-a-configured-token-123"), Some(&*format!("Basic {TOKEN}"))];
    for authorization in refused {
        let status = client
            .list_communities(with_authorization(ListCommunitiesRequest::default(), authorization))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{authorization:?}: {status:?}");
    }
    let status = client
        .stream_alerts(with_authorization(StreamAlertsRequest::default(), None))
        .await
        .expect_err("the alert stream is refused too");
    assert_eq!(status.code(), Code::Unauthenticated);

    // Both the flag's token and the file's are accepted.
    for token in [TOKEN, OTHER_TOKEN] {
        let authorization = format!("Bearer {token}");
        client
            .list_communities(with_authorization(ListCommunitiesRequest::default(), Some(&authorization)))
            .await
            .expect("a configured token is accepted");
    }
    client
        .stream_alerts(with_authorization(StreamAlertsRequest::default(), Some(&format!("Bearer {TOKEN}"))))
        .await
        .expect("the alert stream opens with a token");

    // Health checks need no token.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .expect("address")
        .connect()
        .await
        .expect("health connects");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .expect("health answers without a token");

    let metrics = metrics_text(admin).await;
    assert!(metrics.contains("murmur_grpc_unauthenticated_total 4"), "four refusals counted:\n{metrics}");
    assert!(!metrics.contains(TOKEN) && !metrics.contains(OTHER_TOKEN));

    shutdown.trigger();
    task.await.expect("task joins").expect("clean stop");
    std::fs::remove_dir_all(&directory).expect("clean up");
}
