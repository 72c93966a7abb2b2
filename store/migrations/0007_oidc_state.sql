-- The OpenID provider's flow state (package oidc), shared by replicas:
-- authorization requests, codes, access and refresh tokens (by hash),
-- single sign-on sessions, sign-ins at clients, client assertions seen.
-- doc is opaque to the store; identity_id and grant_id index single
-- sign-out and the revocation of a token family; expires drives purging.
CREATE TABLE oidc_state (
    kind        text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    identity_id text COLLATE "C" NOT NULL DEFAULT '',
    grant_id    text COLLATE "C" NOT NULL DEFAULT '',
    doc         bytea,
    expires     timestamptz NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX oidc_state_identity ON oidc_state (identity_id) WHERE identity_id <> '';
CREATE INDEX oidc_state_grant ON oidc_state (grant_id) WHERE grant_id <> '';
CREATE INDEX oidc_state_expires ON oidc_state (expires);
