-- Payments (package platform/payments): invoices (unique reference), the
-- gateway events already applied (a callback delivered twice is applied
-- once: the event key is the primary key) and the platform's e-seal
-- certificates.
CREATE TABLE pay_invoices (
    id        text COLLATE "C" PRIMARY KEY,
    reference text COLLATE "C" NOT NULL UNIQUE,
    doc       jsonb NOT NULL
);
CREATE TABLE pay_events (
    event      text COLLATE "C" PRIMARY KEY,
    invoice_id text COLLATE "C" NOT NULL
);
CREATE TABLE platform_seal_certs (
    name text COLLATE "C" PRIMARY KEY,
    der  bytea NOT NULL
);
