-- Only the newest checkpoint keeps the tree's frontier. The batch writer used
-- to clear the previous one with its own statement; every statement is a round
-- trip to sqlx's SQLite thread, and every play of a range writes a batch, so
-- the database does it as part of the checkpoint's INSERT.
CREATE TRIGGER audit_checkpoints_frontier_at_tip_only
AFTER INSERT ON audit_checkpoints
BEGIN
    UPDATE audit_checkpoints SET frontier = x''
    WHERE size = (SELECT MAX(size) FROM audit_checkpoints WHERE size < NEW.size)
      AND length(frontier) > 0;
END;
