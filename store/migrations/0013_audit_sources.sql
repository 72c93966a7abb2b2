-- No audit gap after a crash: an audit record copied from an event stored
-- elsewhere names its source, at most once; enrollment events whose audit
-- copy may not have been written yet wait in enr_audit_pending (written in
-- the event's own transaction) until a catch-up has checked them.
ALTER TABLE audit_records ADD COLUMN source text COLLATE "C";
CREATE UNIQUE INDEX audit_records_source ON audit_records (source) WHERE source IS NOT NULL;
CREATE TABLE enr_audit_pending (
    id   text COLLATE "C" PRIMARY KEY,
    at   timestamptz NOT NULL,
    doc  jsonb NOT NULL
);
CREATE INDEX enr_audit_pending_at ON enr_audit_pending (at, id);
-- Signatures whose audit copy may not have been written yet: one row per
-- evidence, written with it, until a catch-up has checked the copy.
CREATE TABLE sig_audit_pending (
    request_id text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (request_id, id)
);
CREATE INDEX sig_audit_pending_at ON sig_audit_pending (at, request_id, id);
