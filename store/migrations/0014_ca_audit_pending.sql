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
-- Audit records of the platform modules' changes (payments, service
-- requests), kept in full with the change until a catch-up has checked
-- that the log holds them.
CREATE TABLE audit_pending_records (
    source text COLLATE "C" PRIMARY KEY,
    at     timestamptz NOT NULL,
    doc    jsonb NOT NULL
);
CREATE INDEX audit_pending_records_at ON audit_pending_records (at, source);
