-- Only the restart's reload of the open window reads posts by created_at, and posts arrive roughly
-- in created_at order: a BRIN index serves that range scan at a fraction of a B-tree's upkeep.
DROP INDEX IF EXISTS posts_created_at;
CREATE INDEX IF NOT EXISTS posts_created_at_brin ON posts USING brin (created_at);
