-- Replies stored before their parent wait here; the parent's batch takes them out and makes their
-- reply edges. This replaces the index on posts.parent_id, which every stored reply paid for and
-- only that lookup used. Rows whose parent never comes go with the text retention purge.
CREATE TABLE IF NOT EXISTS pending_replies (
    parent_id  text NOT NULL,
    reply_id   text NOT NULL,
    author_id  text NOT NULL,
    created_at timestamptz NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (parent_id, reply_id)
);
-- Replies already waiting when this migration runs.
INSERT INTO pending_replies (parent_id, reply_id, author_id, created_at)
SELECT p.parent_id, p.id, p.author_id, p.created_at
FROM posts p
WHERE p.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM posts parent WHERE parent.id = p.parent_id)
ON CONFLICT DO NOTHING;
DROP INDEX IF EXISTS posts_parent;
