-- Service requests (package platform/requests): the request as JSON with
-- the columns its listings look up (the citizen's list, the agency's queue
-- by state), and the blobs of forms and results.
CREATE TABLE req_requests (
    id          text COLLATE "C" PRIMARY KEY,
    national_id text COLLATE "C" NOT NULL,
    agency      text COLLATE "C" NOT NULL,
    state       text COLLATE "C" NOT NULL,
    queue_key   text COLLATE "C" NOT NULL, -- UTC creation time, fixed width, and id
    version     bigint NOT NULL,
    doc         jsonb NOT NULL
);
CREATE INDEX req_requests_citizen ON req_requests (national_id, queue_key);
CREATE INDEX req_requests_queue ON req_requests (agency, state, queue_key);
CREATE TABLE req_blobs (
    key  text COLLATE "C" PRIMARY KEY,
    data bytea NOT NULL
);
