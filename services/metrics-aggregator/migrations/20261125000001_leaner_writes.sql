-- Cheaper writes per post.
-- Nothing queries the interaction edges by time (a restart rebuilds the graph from posts), so this
-- index only cost an insert per edge.
DROP INDEX IF EXISTS interactions_created_at;
COMMENT ON COLUMN actors.last_seen IS
    'Latest post time, refreshed once it advances by more than an hour (LAST_SEEN_STEP_MS).';
