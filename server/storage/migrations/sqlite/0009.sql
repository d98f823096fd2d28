-- 9: refutations that arrive by themselves (server/refutations/feeds.py) and a team server (server/keys.py).
-- refutation_withdrawals: the audited tombstone of a withdrawn refutation (the row stays; the matchers' queries skip
-- it), the same table the admin "withdraw" adds on another branch. feeds: each subscribed feed, its conditional-GET
-- validators and its state; feed_items: which refutation each review of a feed became, and the digest it had, so an
-- updated review replaces its refutation and a retracted one withdraws it. leases: one process syncs at a time.
-- api_keys: client keys, stored only as a SHA-256 of the key. records.client: the key a verification came with.
CREATE TABLE IF NOT EXISTS refutation_withdrawals (
    refutation_id INTEGER PRIMARY KEY REFERENCES refutations(id),
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    every_s REAL NOT NULL,
    api_key TEXT,
    etag TEXT,
    last_modified TEXT,
    last_sync REAL,
    last_ok REAL,
    next_sync REAL NOT NULL DEFAULT 0,
    items INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    errors INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE feed_items (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    item_key TEXT NOT NULL,
    digest TEXT NOT NULL,
    refutation_id INTEGER REFERENCES refutations(id),
    PRIMARY KEY (feed_id, item_key)
);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    rate_limit TEXT,
    created REAL NOT NULL,
    revoked REAL,
    last_used REAL
);
CREATE INDEX api_keys_name ON api_keys (name);
ALTER TABLE records ADD COLUMN client TEXT;
