-- Service catalogue (package platform/catalogue): one row per service,
-- the record as JSON; catalogue_meta.version grows with every change so
-- that replicas can cache the catalogue.
CREATE TABLE cat_services (
    code text COLLATE "C" PRIMARY KEY,
    doc  jsonb NOT NULL
);
CREATE TABLE cat_meta (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO cat_meta (id, version) VALUES (1, 0);
