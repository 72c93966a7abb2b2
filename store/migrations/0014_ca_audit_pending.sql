-- Certificate changes (issuance, hold, release, revocation) whose audit
-- record may not have been appended yet: one row per change, written in
-- the change's own transaction, until a catch-up has checked the record.
CREATE TABLE ca_audit_pending (
    serial  text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    at      timestamptz NOT NULL,
    doc     jsonb NOT NULL,
    PRIMARY KEY (serial, version)
);
CREATE INDEX ca_audit_pending_at ON ca_audit_pending (at, serial, version);
