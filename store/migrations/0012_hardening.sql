-- Hardening of enrollment and signing: the webhook outbox, the index of
-- sign requests caught in the middle of signing, and rate-limit counters
-- shared by the replicas.
CREATE TABLE sig_webhooks (
    id         text COLLATE "C" PRIMARY KEY,
    request_id text COLLATE "C" NOT NULL,
    state      text NOT NULL,
    due        timestamptz NOT NULL,
    version    bigint NOT NULL,
    doc        jsonb NOT NULL
);
CREATE INDEX sig_webhooks_due ON sig_webhooks (due, id) WHERE state = 'pending';
CREATE INDEX sig_webhooks_request ON sig_webhooks (request_id, id);
CREATE INDEX sig_requests_signing ON sig_requests (id) WHERE doc->>'state' = 'signing';
-- One fixed window per key ("signin/ip:<address>", …): count hits until
-- window_end, then start again at 1. Unlogged: a counter costs no WAL
-- write or fsync, and a crash of the database forgets the counters, as a
-- restart of the embedded store does.
CREATE UNLOGGED TABLE rate_limits (
    key        text COLLATE "C" PRIMARY KEY,
    window_end timestamptz NOT NULL,
    hits       integer NOT NULL
);
CREATE INDEX rate_limits_end ON rate_limits (window_end);
