-- The audit log (package audit): records, their details until their
-- retention ends, the Merkle tree's stored nodes, leaf index, checkpoints
-- and the head (one row, locked by every append).
CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    doc  jsonb NOT NULL
);
CREATE TABLE audit_records (
    idx          bigint PRIMARY KEY,
    record       bytea NOT NULL,
    details      jsonb,
    retain_until timestamptz
);
CREATE INDEX audit_records_retention ON audit_records (retain_until, idx) WHERE retain_until IS NOT NULL;
CREATE TABLE audit_nodes (
    level smallint NOT NULL,
    idx   bigint NOT NULL,
    hash  bytea NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE audit_leaves (
    hash bytea PRIMARY KEY,
    idx  bigint NOT NULL
);
CREATE TABLE audit_checkpoints (
    size bigint PRIMARY KEY,
    doc  jsonb NOT NULL
);
