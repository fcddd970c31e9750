//! murmur's wire contract, generated from `proto/` at build time.
//!
//! - [`events::v1`]: what travels on Kafka (`Post`, `ScoredPost`, `Alert`).
//! - [`api::v1`]: the gRPC services (`SourceService`, `SentimentService`, `InsightsService`).
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for gRPC server reflection.
//! - [`topics`] and [`headers`]: the Kafka names that are part of the contract.

#![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]

/// Events exchanged over Kafka.
pub mod events {
    /// Version 1 of the event contract.
    pub mod v1 {
        tonic::include_proto!("murmur.events.v1");
    }
}

/// gRPC APIs.
pub mod api {
    /// Version 1 of the APIs.
    pub mod v1 {
        tonic::include_proto!("murmur.api.v1");
    }
}

/// Encoded `FileDescriptorSet` of every murmur proto, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("murmur_descriptor");

/// Kafka topic names. Versioned with the event package; never renamed.
pub mod topics {
    /// Raw normalised posts from the ingestor.
    pub const POSTS_RAW: &str = "murmur.posts.raw.v1";
    /// Posts with language and sentiment, from the scorer.
    pub const POSTS_SCORED: &str = "murmur.posts.scored.v1";
    /// Alerts from the aggregator.
    pub const ALERTS: &str = "murmur.alerts.v1";
    /// Messages a consumer could not decode or process, with the error in headers.
    pub const DEADLETTER: &str = "murmur.deadletter.v1";
    /// Every topic murmur uses, for topic creation.
    pub const ALL: &[&str] = &[POSTS_RAW, POSTS_SCORED, ALERTS, DEADLETTER];
}

/// Kafka header names carried on every murmur message.
pub mod headers {
    /// Fully-qualified protobuf message type, e.g. `murmur.events.v1.Post`.
    pub const MESSAGE_TYPE: &str = "murmur-message-type";
    /// Schema version of the payload (the package version, `v1`).
    pub const SCHEMA_VERSION: &str = "murmur-schema-version";
    /// W3C trace context.
    pub const TRACEPARENT: &str = "traceparent";
    /// W3C trace state.
    pub const TRACESTATE: &str = "tracestate";
    /// Dead-letter: the error that sent the message there.
    pub const DLQ_ERROR: &str = "murmur-dlq-error";
    /// Dead-letter: original topic, partition, offset and consumer group.
    pub const DLQ_SOURCE_TOPIC: &str = "murmur-dlq-source-topic";
    /// Dead-letter: original partition.
    pub const DLQ_SOURCE_PARTITION: &str = "murmur-dlq-source-partition";
    /// Dead-letter: original offset.
    pub const DLQ_SOURCE_OFFSET: &str = "murmur-dlq-source-offset";
    /// Dead-letter: the consumer group that rejected it.
    pub const DLQ_CONSUMER_GROUP: &str = "murmur-dlq-consumer-group";
}

/// The Kafka key of a post: `platform:channel` (e.g. `reddit:rust`), so one channel's posts stay
/// in one partition, in order.
pub fn partition_key(post: &events::v1::Post) -> String {
    let platform = events::v1::Platform::try_from(post.platform)
        .map(|platform| platform.as_str_name().trim_start_matches("PLATFORM_").to_ascii_lowercase())
        .unwrap_or_else(|_| "unknown".into());
    format!("{platform}:{}", post.channel)
}

/// Fully-qualified protobuf names, used in the message-type header.
pub trait MessageName {
    /// e.g. `murmur.events.v1.Post`.
    const FULL_NAME: &'static str;
}

impl MessageName for events::v1::Post {
    const FULL_NAME: &'static str = "murmur.events.v1.Post";
}
impl MessageName for events::v1::ScoredPost {
    const FULL_NAME: &'static str = "murmur.events.v1.ScoredPost";
}
impl MessageName for events::v1::Alert {
    const FULL_NAME: &'static str = "murmur.events.v1.Alert";
}

#[cfg(test)]
mod tests {
    use super::events::v1::{Post, ScoredPost};
    use prost::Message;

    #[test]
    fn post_round_trips_through_the_wire_format() {
        let post = Post {
            id: "reddit:t1_abc".into(),
            parent_id: "reddit:t3_root".into(),
            root_id: "reddit:t3_root".into(),
            hashtags: vec!["rust".into()],
            channel_audience: Some(1200),
            ..Default::default()
        };
        let scored = ScoredPost { post: Some(post.clone()), language: "en".into(), ..Default::default() };
        let bytes = scored.encode_to_vec();
        let decoded = ScoredPost::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(decoded.post.as_ref(), Some(&post));
        assert_eq!(decoded.language, "en");
    }

    #[test]
    fn posts_are_keyed_by_platform_and_channel() {
        let post = Post {
            platform: super::events::v1::Platform::Mastodon as i32,
            channel: "m.s/#rstats".into(),
            ..Default::default()
        };
        assert_eq!(super::partition_key(&post), "mastodon:m.s/#rstats");
        assert_eq!(super::partition_key(&Post { platform: 99, ..Default::default() }), "unknown:");
    }

    #[test]
    fn descriptor_set_contains_every_service() {
        let set = prost_types::FileDescriptorSet::decode(super::FILE_DESCRIPTOR_SET).expect("valid descriptor set");
        let services: Vec<String> = set
            .file
            .iter()
            .flat_map(|file| file.service.iter().map(move |s| format!("{}.{}", file.package(), s.name())))
            .collect();
        for expected in
            ["murmur.api.v1.SourceService", "murmur.api.v1.SentimentService", "murmur.api.v1.InsightsService"]
        {
            assert!(services.iter().any(|s| s == expected), "{expected} missing from {services:?}");
        }
    }
}
