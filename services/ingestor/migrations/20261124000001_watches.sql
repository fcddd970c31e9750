-- Watches (what to scan), their cursors (where scanning resumes) and their polling status.
create table if not exists watches (
    id bigserial primary key,
    -- reddit | telegram | mastodon | bluesky | x
    platform text not null,
    -- subreddit name, channel username or hashtag, without r/, @ or #
    target text not null,
    -- Mastodon instance host; empty for other platforms
    instance text not null default '',
    poll_interval_ms bigint not null check (poll_interval_ms > 0),
    enabled boolean not null default true,
    created_at timestamptz not null default now(),
    unique (platform, target, instance)
);

-- A cursor is written only after the broker acknowledged the posts it covers.
create table if not exists watch_cursors (
    watch_id bigint primary key references watches (id) on delete cascade,
    cursor text not null,
    updated_at timestamptz not null default now()
);

create table if not exists source_status (
    watch_id bigint primary key references watches (id) on delete cascade,
    last_poll_at timestamptz,
    last_success_at timestamptz,
    last_error text,
    last_error_at timestamptz,
    next_poll_at timestamptz,
    rate_limit_remaining bigint,
    rate_limit_reset_at timestamptz,
    posts_published bigint not null default 0,
    errors bigint not null default 0,
    consecutive_failures integer not null default 0
);
