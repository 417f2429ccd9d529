-- Issue 21: a fact a dock reports about no nameable recording (a manifest
-- that does not parse) is counted into its first incident, found by dock,
-- kind and detail; without this index every such offer read the whole table
-- under the write lock.
CREATE INDEX incidents_unnamed ON incidents (dock_id, kind, detail)
    WHERE device_id IS NULL AND sequence IS NULL;
