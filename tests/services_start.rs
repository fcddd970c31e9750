//! Every service binary starts on the common runtime against the real broker and Postgres:
//! readiness, gRPC health and reflection (with real gRPC clients), metrics, SIGTERM, and a clear
//! error when the broker is unreachable.

use std::time::Duration;

use murmur_e2e::ServiceProcess;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;

const SERVICES: &[&str] = &["ingestor", "sentiment-scorer", "metrics-aggregator"];

async fn reflection_call(channel: Channel, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest { host: String::new(), message_request: Some(request) };
    let mut responses =
        client.server_reflection_info(tokio_stream::iter(vec![request])).await.expect("reflection").into_inner();
    let response = responses.next().await.expect("one response").expect("ok response");
    response.message_response.expect("message response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_serves_health_reflection_and_metrics_then_stops_on_sigterm() {
    for name in SERVICES {
        let mut service = ServiceProcess::start(name, &[], &[("MURMUR_DEV_MODE", "true")]);
        service.wait_ready(Duration::from_secs(60)).await;

        let channel = Channel::from_shared(format!("http://{}", service.grpc_addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        let mut health = HealthClient::new(channel.clone());
        let status = health.check(HealthCheckRequest { service: String::new() }).await.expect("health").into_inner();
        assert_eq!(status.status, ServingStatus::Serving as i32, "{name} not SERVING");

        let listed = reflection_call(channel.clone(), MessageRequest::ListServices(String::new())).await;
        let MessageResponse::ListServicesResponse(listed) = listed else { panic!("{name}: unexpected {listed:?}") };
        let names: Vec<String> = listed.service.into_iter().map(|service| service.name).collect();
        assert!(names.iter().any(|n| n == "grpc.health.v1.Health"), "{name} lists {names:?}");

        // murmur's own descriptors are registered, so grpcurl can describe the APIs.
        let described =
            reflection_call(channel, MessageRequest::FileContainingSymbol("murmur.events.v1.Post".into())).await;
        assert!(
            matches!(described, MessageResponse::FileDescriptorResponse(ref files) if !files.file_descriptor_proto.is_empty()),
            "{name}: cannot describe murmur.events.v1.Post: {described:?}"
        );

        let (status, body) = service.admin_get("/healthz").await.expect("healthz");
        assert_eq!(status, 200);
        assert_eq!(body.trim(), "ok");
        let (status, metrics) = service.admin_get("/metrics").await.expect("metrics");
        assert_eq!(status, 200);
        assert!(metrics.contains("murmur_kafka_"), "{name} metrics lack the kafka family:\n{metrics}");

        let exit = service.terminate(Duration::from_secs(20)).await;
        assert!(exit.success(), "{name} exited with {exit} after SIGTERM:\n{}", service.output().join("\n"));
        let output = service.output().join("\n");
        assert!(output.contains("service not ready"), "{name} did not go not-ready on shutdown:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_a_clear_start_up_error() {
    let mut service = ServiceProcess::start("sentiment-scorer", &[], &[("KAFKA_BROKERS", "127.0.0.1:1")]);
    let exit = service.wait_exit(Duration::from_secs(60)).await;
    assert!(!exit.success(), "must fail without a broker");
    let output = service.output().join("\n");
    assert!(output.contains("cannot reach Kafka brokers at 127.0.0.1:1"), "unclear error:\n{output}");
}
