//! Logs and traces. Logs go to stdout (JSON by default) through `tracing`; when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported over OTLP/gRPC. Trace context
//! crosses Kafka in W3C `traceparent`/`tracestate` headers so one post can be followed from the
//! ingestor to an alert.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryArgs};

/// Keeps the trace pipeline alive; call [`TelemetryGuard::shutdown`] before exiting to flush.
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes and stops the span exporter (no-op without OTLP).
    pub fn shutdown(self) {
        if let Some(provider) = self.tracer_provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("telemetry: flushing spans failed: {error}");
            }
        }
    }
}

/// Whether OTLP export is configured through the standard environment variables.
pub fn otlp_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).map(|value| !value.trim().is_empty()).unwrap_or(false))
}

/// Installs the global subscriber: log output per `args`, plus an OpenTelemetry layer exporting
/// over OTLP when configured. Must be called inside a tokio runtime (the batch exporter uses it).
pub fn init(service_name: &'static str, args: &TelemetryArgs) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_new(&args.log_filter)
        .map_err(|error| anyhow::anyhow!("invalid log filter `{}`: {error}", args.log_filter))?;
    let log_layer = match args.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(false).boxed(),
    };

    let tracer_provider = if otlp_configured() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|error| anyhow::anyhow!("cannot build the OTLP span exporter: {error}"))?;
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(Resource::builder().with_service_name(service_name).build())
                .build(),
        )
    } else {
        None
    };
    let otel_layer = tracer_provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name)));
    if let Some(provider) = &tracer_provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }

    tracing_subscriber::registry()
        .with(filter)
        .with(log_layer)
        .with(otel_layer)
        .try_init()
        .map_err(|error| anyhow::anyhow!("cannot install the tracing subscriber: {error}"))?;
    tracing::info!(service = service_name, otlp = tracer_provider.is_some(), "telemetry initialised");
    Ok(TelemetryGuard { tracer_provider })
}

struct HeaderInjector<'a>(&'a mut Vec<(String, String)>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
}

/// The W3C trace-context headers (`traceparent`, `tracestate`) of the current span; empty when
/// no trace is active.
pub fn current_trace_headers() -> Vec<(String, String)> {
    let context = tracing::Span::current().context();
    let mut fields = Vec::with_capacity(2);
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(&mut fields));
    fields
}

/// Adds the current span's trace context to Kafka headers.
pub fn inject_trace_context(mut headers: OwnedHeaders) -> OwnedHeaders {
    for (key, value) in current_trace_headers() {
        headers = headers.insert(Header { key: &key, value: Some(value.as_bytes()) });
    }
    headers
}

struct KafkaHeaderExtractor<'a>(&'a BorrowedHeaders);

impl Extractor for KafkaHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|header| header.key == key)
            .and_then(|header| header.value)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|header| header.key).collect()
    }
}

struct PairExtractor<'a>(&'a [(String, String)]);

impl Extractor for PairExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }
}

/// The remote trace context carried in Kafka headers.
pub fn extract_trace_context(headers: Option<&BorrowedHeaders>) -> opentelemetry::Context {
    match headers {
        Some(headers) => TraceContextPropagator::new().extract(&KafkaHeaderExtractor(headers)),
        None => opentelemetry::Context::new(),
    }
}

/// The remote trace context from already-copied header pairs.
pub fn extract_trace_context_from_pairs(pairs: &[(String, String)]) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&PairExtractor(pairs))
}

/// Makes `span` a child of the trace found in `context` (no-op when it holds no trace).
pub fn link_span_to(span: &tracing::Span, context: opentelemetry::Context) {
    // An error here only means no OpenTelemetry layer is installed; there is nothing to link.
    let _ = span.set_parent(context);
}
