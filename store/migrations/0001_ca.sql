-- Certificates, the key ceremony and CRLs (package ca).
CREATE TABLE certificates (
    serial     text COLLATE "C" PRIMARY KEY,
    issuer     text NOT NULL,
    profile    text NOT NULL,
    subject    text NOT NULL,
    not_before timestamptz NOT NULL,
    not_after  timestamptz NOT NULL,
    issued_at  timestamptz NOT NULL,
    der        bytea NOT NULL,
    status     text NOT NULL,
    revoked_at timestamptz,
    reason     integer NOT NULL DEFAULT 0,
    version    bigint NOT NULL
);
-- The CRL of an issuer reads only its revoked and held certificates.
CREATE INDEX certificates_not_valid ON certificates (issuer, serial) WHERE status <> 'valid';
CREATE INDEX certificates_issuer ON certificates (issuer, serial);

CREATE TABLE ceremony (
    id         integer PRIMARY KEY CHECK (id = 1),
    config     bytea NOT NULL,
    authorities jsonb NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE crls (
    issuer      text PRIMARY KEY,
    number      bigint NOT NULL,
    this_update timestamptz,
    next_update timestamptz,
    der         bytea NOT NULL
);
