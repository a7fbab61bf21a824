-- sitrep schema, version 1: inputs, records, alerts, clusters, rejects, audit.
-- Times are milliseconds since the Unix epoch (UTC).

-- One read of one input: a file, stdin, a spool file (later: a poll of a
-- live source). Records point at it instead of repeating its name.
CREATE TABLE inputs (
	id          INTEGER PRIMARY KEY,
	origin      TEXT NOT NULL,             -- file name, "-" for stdin, spool path
	started_at  INTEGER NOT NULL
);

-- Every input record, verbatim, as it arrived (one webhook payload, one
-- NDJSON line, one log line). Alerts point back to the record they came from.
CREATE TABLE records (
	id          INTEGER PRIMARY KEY,
	input_id    INTEGER NOT NULL REFERENCES inputs(id),
	line        INTEGER NOT NULL,          -- where the record starts in the input
	format      TEXT NOT NULL,
	text        TEXT NOT NULL
);

-- One row per template (the template miner's clusters). A cluster's
-- template may generalise as members arrive; its id stays. Clusters may be
-- merged into another; the old row stays, pointing at the survivor, so old
-- ids keep resolving.
CREATE TABLE clusters (
	id          INTEGER PRIMARY KEY,
	bucket      INTEGER NOT NULL,           -- miner bucket: identity + token count
	name        TEXT NOT NULL,
	service     TEXT NOT NULL DEFAULT '',
	template    TEXT NOT NULL,
	kinds       TEXT NOT NULL,              -- one letter per template token
	ntokens     INTEGER NOT NULL,
	severity    TEXT NOT NULL,
	alerts      INTEGER NOT NULL DEFAULT 0,  -- distinct alerts
	occurrences INTEGER NOT NULL DEFAULT 0,  -- every received occurrence
	first_seen  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL,
	merged_into INTEGER REFERENCES clusters(id),
	merged_at   INTEGER
);
CREATE INDEX clusters_bucket ON clusters(bucket) WHERE merged_into IS NULL;
CREATE INDEX clusters_last_seen ON clusters(last_seen);

CREATE TABLE alerts (
	id          INTEGER PRIMARY KEY,
	record_id   INTEGER NOT NULL REFERENCES records(id),
	source      TEXT NOT NULL,              -- format that produced it
	dedup_key   TEXT UNIQUE,                -- NULL: every occurrence is its own alert
	status      TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
	silenced    INTEGER NOT NULL DEFAULT 0,
	inhibited   INTEGER NOT NULL DEFAULT 0,
	severity    TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'warning', 'info')),
	name        TEXT NOT NULL,
	service     TEXT NOT NULL DEFAULT '',
	message     TEXT NOT NULL,
	masked      TEXT NOT NULL,
	fingerprint TEXT NOT NULL,              -- hash of name, service, masked message
	labels      TEXT NOT NULL DEFAULT '{}', -- JSON object, as it came
	starts_at   INTEGER,
	ends_at     INTEGER,
	received_at INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	occurrences INTEGER NOT NULL DEFAULT 1,
	cluster_id  INTEGER NOT NULL REFERENCES clusters(id)
);
CREATE INDEX alerts_cluster ON alerts(cluster_id);

-- Input that could not be used, with why. Nothing is dropped silently.
CREATE TABLE rejects (
	id          INTEGER PRIMARY KEY,
	received_at INTEGER NOT NULL,
	origin      TEXT NOT NULL,
	location    TEXT NOT NULL,
	reason      TEXT NOT NULL,
	text        BLOB,                       -- the bad bytes (first 64 KiB)
	size        INTEGER NOT NULL            -- full size in bytes
);

-- Append-only: every human and automated action.
CREATE TABLE audit (
	id     INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	actor  TEXT NOT NULL,
	origin TEXT NOT NULL,                  -- "local" or "ssh:ADDR"
	action TEXT NOT NULL,
	target TEXT,
	detail TEXT,                           -- JSON
	hash   TEXT
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
