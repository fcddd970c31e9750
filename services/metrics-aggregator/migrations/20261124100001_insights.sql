-- metrics-aggregator schema: posts and the interaction graph's edges, detection results, alerts.
-- Every write is an upsert keyed by a natural id, so replaying a batch or a detection run changes nothing.

-- Scored posts. `seq` is the order in which posts were first stored: the detector's snapshot records
-- the last seq it had seen, and a restart re-feeds only the posts stored after it.
CREATE TABLE IF NOT EXISTS posts (
    id              text PRIMARY KEY,
    seq             bigserial NOT NULL,
    platform        smallint NOT NULL,
    channel         text NOT NULL,
    kind            smallint NOT NULL,
    author_id       text NOT NULL,
    parent_id       text,
    root_id         text,
    mentions        text[] NOT NULL DEFAULT '{}',
    hashtags        text[] NOT NULL DEFAULT '{}',
    -- NULL once the retention purge has removed it.
    text            text,
    title           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    observed_at     timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    score           bigint NOT NULL DEFAULT 0,
    replies         bigint NOT NULL DEFAULT 0,
    views           bigint NOT NULL DEFAULT 0,
    reactions       bigint NOT NULL DEFAULT 0,
    forwards        bigint NOT NULL DEFAULT 0,
    channel_audience bigint,
    permalink       text NOT NULL DEFAULT '',
    forwarded_from  text NOT NULL DEFAULT '',
    author_is_moderator boolean NOT NULL DEFAULT false,
    language        text NOT NULL DEFAULT 'und',
    sentiment       double precision,
    sentiment_label smallint NOT NULL DEFAULT 0,
    sentiment_model text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS posts_seq ON posts (seq);
CREATE INDEX IF NOT EXISTS posts_created_at ON posts (created_at);
CREATE INDEX IF NOT EXISTS posts_parent ON posts (parent_id) WHERE parent_id IS NOT NULL;

-- Pseudonymous actors (authors, and Telegram channels acting as nodes).
CREATE TABLE IF NOT EXISTS actors (
    id          text PRIMARY KEY,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL
);

-- Edges of the interaction graph: one row per (post, target, kind).
CREATE TABLE IF NOT EXISTS interactions (
    post_id     text NOT NULL,
    source_id   text NOT NULL,
    target_id   text NOT NULL,
    -- 1 reply, 2 mention, 3 forward
    kind        smallint NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (post_id, target_id, kind)
);
CREATE INDEX IF NOT EXISTS interactions_created_at ON interactions (created_at);

-- Tracked communities with their latest KPIs (the columns ListCommunities filters and orders by).
CREATE TABLE IF NOT EXISTS communities (
    id              bigint PRIMARY KEY,
    status          smallint NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    size            bigint NOT NULL,
    is_micro        boolean NOT NULL,
    emergence_score double precision NOT NULL DEFAULT 0,
    engagement_rate double precision NOT NULL DEFAULT 0,
    platforms       smallint[] NOT NULL DEFAULT '{}',
    channels        text[] NOT NULL DEFAULT '{}',
    themes          text[] NOT NULL DEFAULT '{}',
    theme_weights   double precision[] NOT NULL DEFAULT '{}',
    window_start    timestamptz,
    window_end      timestamptz
);
CREATE INDEX IF NOT EXISTS communities_emergence ON communities (emergence_score DESC, id);
CREATE INDEX IF NOT EXISTS communities_channels ON communities USING gin (channels);
CREATE INDEX IF NOT EXISTS communities_themes ON communities USING gin (themes);

-- Current members of each community, with their roles (pseudonymous ids only).
CREATE TABLE IF NOT EXISTS community_members (
    community_id bigint NOT NULL REFERENCES communities (id) ON DELETE CASCADE,
    actor_id     text NOT NULL,
    roles        smallint[] NOT NULL DEFAULT '{}',
    posts        bigint NOT NULL DEFAULT 0,
    in_degree    bigint NOT NULL DEFAULT 0,
    first_seen   timestamptz,
    PRIMARY KEY (community_id, actor_id)
);

-- KPIs per community (scope 'c', key = community id) and per channel (scope 'h', key = platform:channel)
-- per window. One column per KPI of the README's definitions.
CREATE TABLE IF NOT EXISTS window_metrics (
    scope           char(1) NOT NULL,
    key             text NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    platform        smallint NOT NULL DEFAULT 0,
    channel         text NOT NULL DEFAULT '',
    size            bigint NOT NULL,
    active_members  bigint NOT NULL,
    posts           bigint NOT NULL,
    active_participation_rate double precision NOT NULL,
    engagement_rate double precision NOT NULL,
    member_to_member_ratio double precision NOT NULL,
    reciprocity     double precision NOT NULL,
    density         double precision NOT NULL,
    thread_depth_mean double precision NOT NULL,
    thread_depth_p90 double precision NOT NULL,
    retention       double precision NOT NULL,
    growth          double precision NOT NULL,
    new_member_rate double precision NOT NULL,
    organic_growth  double precision NOT NULL,
    ugc_ratio       double precision NOT NULL,
    sentiment_mean  double precision NOT NULL,
    sentiment_positive_share double precision NOT NULL,
    sentiment_negative_share double precision NOT NULL,
    sentiment_trend double precision NOT NULL,
    time_to_sentiment_seconds double precision,
    emergence_score double precision NOT NULL,
    PRIMARY KEY (scope, key, window_start)
);
CREATE INDEX IF NOT EXISTS window_metrics_window ON window_metrics (scope, window_start);

-- Lifecycle events, one per community, window and kind.
CREATE TABLE IF NOT EXISTS lifecycle_events (
    community_id  bigint NOT NULL,
    window_start  timestamptz NOT NULL,
    status        smallint NOT NULL,
    size          bigint NOT NULL,
    previous_size bigint NOT NULL,
    related       bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (community_id, window_start, status)
);

-- Per-bucket statistics of the exactly tracked terms (GetTermTrend).
CREATE TABLE IF NOT EXISTS term_buckets (
    term              text NOT NULL,
    bucket_start      timestamptz NOT NULL,
    bucket_end        timestamptz NOT NULL,
    count             bigint NOT NULL,
    distinct_authors  bigint NOT NULL,
    distinct_channels bigint NOT NULL,
    significance      double precision NOT NULL,
    first_seen        timestamptz NOT NULL,
    PRIMARY KEY (term, bucket_start)
);

-- Terms that fired (weak or strong), with their explanation (a serialised WeakSignal).
CREATE TABLE IF NOT EXISTS signals (
    term          text NOT NULL,
    bucket_start  timestamptz NOT NULL,
    bucket_end    timestamptz NOT NULL,
    class         smallint NOT NULL,
    language      text NOT NULL,
    significance  double precision NOT NULL,
    detail        bytea NOT NULL,
    PRIMARY KEY (term, bucket_start)
);
CREATE INDEX IF NOT EXISTS signals_bucket ON signals (bucket_start);

-- Alerts (a serialised murmur.events.v1.Alert). `published` is the outbox flag: an alert is stored
-- first, then produced to murmur.alerts.v1, then marked; a crash in between re-publishes it (same id).
CREATE TABLE IF NOT EXISTS alerts (
    id          text PRIMARY KEY,
    seq         bigserial NOT NULL,
    kind        smallint NOT NULL,
    subject     text NOT NULL,
    window_start timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    platforms   smallint[] NOT NULL DEFAULT '{}',
    channels    text[] NOT NULL DEFAULT '{}',
    payload     bytea NOT NULL,
    published   boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_seq ON alerts (seq);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created_at);
CREATE INDEX IF NOT EXISTS alerts_unpublished ON alerts (seq) WHERE NOT published;

-- The detector's compact snapshot (graph, tracker, baselines), one row.
CREATE TABLE IF NOT EXISTS detector_snapshots (
    name        text PRIMARY KEY,
    last_seq    bigint NOT NULL,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    state       bytea NOT NULL
);
