-- sitrep schema, version 4: what the console needs to share one file between
-- several processes: source health and cursors, and leases.

-- A configured source (spool directory, tailed file): its health and where
-- reading stopped, so a restart carries on instead of reading twice.
CREATE TABLE sources (
	name        TEXT PRIMARY KEY,           -- "spool:/var/spool/sitrep", "file:/var/log/x"
	kind        TEXT NOT NULL,
	cursor      INTEGER NOT NULL DEFAULT 0, -- bytes read (files)
	inode       INTEGER,                    -- of the file read (rotation check)
	last_ok     INTEGER,
	last_error  TEXT,
	last_error_at INTEGER,
	records     INTEGER NOT NULL DEFAULT 0
);

-- One holder at a time: the process whose lease is unexpired ingests pull
-- sources; others wait and take over when it stops renewing.
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,               -- "host:pid:start"
	expires_at INTEGER NOT NULL
);
