-- The OpenID provider (package oidc): registered relying parties and the
-- deployment's secret (one row).
CREATE TABLE oidc_clients (
    id  text COLLATE "C" PRIMARY KEY,
    doc jsonb NOT NULL
);
CREATE TABLE oidc_meta (
    id     integer PRIMARY KEY CHECK (id = 1),
    secret bytea NOT NULL CHECK (length(secret) = 32)
);
