-- The retention purge selects posts by stored_at, which follows the insertion order exactly: a BRIN
-- index keeps that purge from reading the whole table, for almost no upkeep per post.
CREATE INDEX IF NOT EXISTS posts_stored_at_brin ON posts USING brin (stored_at);
