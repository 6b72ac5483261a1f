-- Every table is keyed by organisation first, and every query names one organisation.

CREATE TABLE orgs (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Keys are stored as SHA-256 hashes; `lookup` is the hash's first 16 hex digits.
CREATE TABLE api_keys (
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('api', 'app')),
    lookup     TEXT    NOT NULL,
    hash       BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (org_id, kind, lookup)
);
CREATE INDEX api_keys_by_lookup ON api_keys (kind, lookup);

-- What each source said, as JSON; records are recomputed from these.
CREATE TABLE observations (
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    obs_key    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (org_id, obs_key)
);
CREATE INDEX observations_by_name ON observations (org_id, name);

-- The merged records, as JSON, as the API serves them.
CREATE TABLE images (
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    id         TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX images_by_name ON images (org_id, name);

-- The change feed: one row per record written or removed, in commit order.
CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id   INTEGER NOT NULL REFERENCES orgs (id),
    image_id TEXT    NOT NULL,
    at       TEXT    NOT NULL
);
CREATE INDEX changes_by_org ON changes (org_id, seq);
