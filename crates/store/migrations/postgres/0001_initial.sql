-- Every table is keyed by organisation first, and every query names one organisation, so the
-- tables can be distributed by org_id (orgs itself is small: a reference table).

CREATE TABLE orgs (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Keys are stored as SHA-256 hashes; `lookup` is the hash's first 16 hex digits.
CREATE TABLE api_keys (
    org_id     BIGINT NOT NULL REFERENCES orgs (id),
    kind       TEXT   NOT NULL CHECK (kind IN ('api', 'app')),
    lookup     TEXT   NOT NULL,
    hash       BYTEA  NOT NULL,
    created_at TEXT   NOT NULL,
    PRIMARY KEY (org_id, kind, lookup)
);
CREATE INDEX api_keys_by_lookup ON api_keys (kind, lookup);

-- What each source said, as JSON; records are recomputed from these.
CREATE TABLE observations (
    org_id     BIGINT NOT NULL REFERENCES orgs (id),
    obs_key    TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    updated_at TEXT   NOT NULL,
    PRIMARY KEY (org_id, obs_key)
);
CREATE INDEX observations_by_name ON observations (org_id, name);

-- The merged records, as JSON, as the API serves them.
CREATE TABLE images (
    org_id     BIGINT NOT NULL REFERENCES orgs (id),
    id         TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    updated_at TEXT   NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX images_by_name ON images (org_id, name);

-- The change feed: one row per record written or removed. Writers of one organisation are
-- serialised by an advisory lock, so within an organisation seq follows commit order.
CREATE TABLE changes (
    org_id   BIGINT NOT NULL REFERENCES orgs (id),
    seq      BIGINT GENERATED ALWAYS AS IDENTITY,
    image_id TEXT   NOT NULL,
    at       TEXT   NOT NULL,
    PRIMARY KEY (org_id, seq)
);
