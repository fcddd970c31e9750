//! Readiness transitions and metrics exposure of the admin endpoint.

use std::sync::Arc;

use murmur_common::grpc::standard_services;
use murmur_common::metrics::KafkaMetrics;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn readiness_follows_the_service_state_and_metrics_are_exposed() {
    let standard = standard_services(&["murmur.api.v1.InsightsService"]).expect("standard services");
    let mut registry = Registry::default();
    let metrics = KafkaMetrics::register(&mut registry);
    metrics.produced.get_or_create(&murmur_common::metrics::TopicLabels { topic: "t".into() }).inc_by(3);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let stop = CancellationToken::new();
    let server = murmur_common::admin::spawn(listener, standard.health.clone(), Arc::new(registry), stop.clone());
    let url = |path: &str| format!("http://{}{path}", server.local_addr);
    let status_of = |path: &'static str| {
        let url = url(path);
        async move { reqwest::get(url).await.expect("request").status().as_u16() }
    };

    assert_eq!(status_of("/healthz").await, 200, "liveness does not depend on readiness");
    assert_eq!(status_of("/readyz").await, 503, "not ready before start-up completes");
    standard.health.set_ready().await;
    assert_eq!(status_of("/readyz").await, 200);
    standard.health.set_not_ready().await;
    assert_eq!(status_of("/readyz").await, 503, "shutdown must turn readiness off");

    let body = reqwest::get(url("/metrics")).await.expect("metrics").text().await.expect("body");
    assert!(body.contains("murmur_kafka_produced_total{topic=\"t\"} 3"), "{body}");
    stop.cancel();
    server.task.await.expect("admin server stops");
}
