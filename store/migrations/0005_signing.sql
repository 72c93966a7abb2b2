-- Signing records (package signing): agencies, sign requests with their
-- citizen index and idempotency keys, document blobs and approval
-- evidence. Looked-up and unique fields are columns; the rest is JSON.
CREATE TABLE sig_agencies (
    id   text COLLATE "C" PRIMARY KEY,
    name text COLLATE "C" NOT NULL UNIQUE,
    doc  jsonb NOT NULL
);
CREATE TABLE sig_requests (
    id          text COLLATE "C" PRIMARY KEY,
    national_id text COLLATE "C" NOT NULL,
    created_key text COLLATE "C" NOT NULL, -- UTC, fixed width, so it sorts by time
    version     bigint NOT NULL,
    doc         jsonb NOT NULL
);
CREATE INDEX sig_requests_citizen ON sig_requests (national_id, created_key, id);
CREATE TABLE sig_idempotency (
    owner      text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    request_id text NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE SEQUENCE sig_blob_seq;
CREATE TABLE sig_blobs (
    key  text COLLATE "C" PRIMARY KEY,
    data bytea NOT NULL
);
CREATE TABLE sig_evidence (
    request_id text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    doc        jsonb NOT NULL,
    PRIMARY KEY (request_id, id)
);
