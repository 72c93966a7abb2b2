-- Enrollment records (package enrollment). What is looked up or must be
-- unique is a column; the rest of each record is its JSON (the same
-- encoding as the bbolt store) in a jsonb column.
CREATE TABLE enr_centres (
    code text COLLATE "C" PRIMARY KEY,
    doc  jsonb NOT NULL
);
CREATE TABLE enr_officers (
    username text COLLATE "C" PRIMARY KEY,
    doc      jsonb NOT NULL
);
CREATE SEQUENCE enr_record_seq;
CREATE TABLE enr_records (
    seq         bigint PRIMARY KEY,
    id          text COLLATE "C" NOT NULL UNIQUE,
    national_id text COLLATE "C" NOT NULL,
    doc         jsonb NOT NULL
);
CREATE INDEX enr_records_national_id ON enr_records (national_id, seq);
-- The identity of a national number: sign-in and every officer action
-- find it by national number (the primary key) or by its generation ID.
CREATE TABLE enr_identities (
    national_id text COLLATE "C" PRIMARY KEY,
    id          text COLLATE "C" NOT NULL,
    version     bigint NOT NULL,
    doc         jsonb NOT NULL
);
-- Every generation ID ever given, to the national number that owns it.
CREATE TABLE enr_identity_ids (
    id          text COLLATE "C" PRIMARY KEY,
    national_id text COLLATE "C" NOT NULL
);
-- Sessions by the hash of their token; expires for the purge.
CREATE TABLE enr_sessions (
    hash    bytea PRIMARY KEY,
    expires timestamptz,
    doc     jsonb NOT NULL
);
CREATE INDEX enr_sessions_expires ON enr_sessions (expires) WHERE expires IS NOT NULL;
CREATE TABLE enr_ceremonies (
    id      text COLLATE "C" PRIMARY KEY,
    expires timestamptz,
    doc     jsonb NOT NULL
);
CREATE INDEX enr_ceremonies_expires ON enr_ceremonies (expires) WHERE expires IS NOT NULL;
CREATE TABLE enr_approvals (
    id     text COLLATE "C" PRIMARY KEY,
    status text NOT NULL,
    doc    jsonb NOT NULL
);
CREATE INDEX enr_approvals_status ON enr_approvals (status, id);
CREATE TABLE enr_events (
    seq     bigserial PRIMARY KEY,
    subject text COLLATE "C" NOT NULL,
    doc     jsonb NOT NULL
);
CREATE INDEX enr_events_subject ON enr_events (subject, seq);
