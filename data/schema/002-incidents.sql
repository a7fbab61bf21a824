-- sitrep schema, version 2: incidents, their clusters, timeline, history.

-- An incident is what an engineer triages: one or more clusters that belong
-- together. Imported past incidents (sitrep import) live here too, resolved,
-- with their external id.
CREATE TABLE incidents (
	id             INTEGER PRIMARY KEY,
	external_id    TEXT UNIQUE,             -- id in an imported history
	title          TEXT NOT NULL,
	summary        TEXT NOT NULL DEFAULT '',
	details        TEXT NOT NULL DEFAULT '',
	services       TEXT NOT NULL DEFAULT '[]', -- JSON array
	severity       TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'warning', 'info')),
	state          TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'snoozed',
	                                              'resolved', 'merged')),
	origin_cluster INTEGER REFERENCES clusters(id), -- probable origin
	opened_at      INTEGER NOT NULL,
	last_alert_at  INTEGER NOT NULL,
	acked_at       INTEGER,
	acked_by       TEXT,
	snoozed_until  INTEGER,
	snooze_severity TEXT,                   -- severity when snoozed: worse wakes it
	snooze_rate    REAL,                    -- alerts/min when snoozed: a jump wakes it
	resolved_at    INTEGER,
	resolved_by    TEXT,
	root_cause     TEXT,
	action_taken   TEXT,
	worked         INTEGER,                 -- 1 yes, 0 no, NULL not said
	merged_into    INTEGER REFERENCES incidents(id),
	recurrences    INTEGER NOT NULL DEFAULT 0,
	alerts         INTEGER NOT NULL DEFAULT 0, -- occurrences received
	imported       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incidents_state ON incidents(state, last_alert_at);

-- Which clusters make up an incident, and why each joined.
CREATE TABLE incident_clusters (
	cluster_id  INTEGER PRIMARY KEY REFERENCES clusters(id),
	incident_id INTEGER NOT NULL REFERENCES incidents(id),
	joined_at   INTEGER NOT NULL,
	reason      TEXT NOT NULL               -- "opened", "same service api within 10m", …
);
CREATE INDEX incident_clusters_incident ON incident_clusters(incident_id);

-- Past membership, kept when clusters move (merge, split, reopen), so a
-- recurrence can find the incident a cluster belonged to.
CREATE TABLE cluster_history (
	cluster_id  INTEGER NOT NULL REFERENCES clusters(id),
	incident_id INTEGER NOT NULL REFERENCES incidents(id),
	PRIMARY KEY (cluster_id, incident_id)
) WITHOUT ROWID;

-- Identifying label values (firm, user, product…) seen in each incident,
-- so a customer report naming a firm finds the errors behind it.
CREATE TABLE incident_labels (
	incident_id INTEGER NOT NULL REFERENCES incidents(id),
	key         TEXT NOT NULL,
	value       TEXT NOT NULL,
	last_seen   INTEGER NOT NULL,
	PRIMARY KEY (key, value, incident_id)
) WITHOUT ROWID;

-- Alerts per incident per minute: the console's sparkline, and the rate a
-- snoozed incident is compared against.
CREATE TABLE incident_rate (
	incident_id INTEGER NOT NULL REFERENCES incidents(id),
	minute      INTEGER NOT NULL,           -- ms since the epoch / 60000
	n           INTEGER NOT NULL,
	PRIMARY KEY (incident_id, minute)
) WITHOUT ROWID;

-- Pairs a human split apart: never joined again automatically.
CREATE TABLE split_pairs (
	cluster_a INTEGER NOT NULL,
	cluster_b INTEGER NOT NULL,
	at        INTEGER NOT NULL,
	PRIMARY KEY (cluster_a, cluster_b)
) WITHOUT ROWID;

-- The incident timeline: alerts joining, state changes, notes.
CREATE TABLE events (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents(id),
	at          INTEGER NOT NULL,
	kind        TEXT NOT NULL,              -- opened, joined, ack, snooze, wake, resolve, …
	actor       TEXT NOT NULL,              -- a user, or "sitrep" for automation
	detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_incident ON events(incident_id, at);

-- Known-issue registry: a ticket attached to clusters.
CREATE TABLE known_issues (
	cluster_id  INTEGER PRIMARY KEY REFERENCES clusters(id),
	ticket      TEXT NOT NULL,
	incident_id INTEGER NOT NULL REFERENCES incidents(id),
	created_at  INTEGER NOT NULL,
	created_by  TEXT NOT NULL,
	last_seen   INTEGER NOT NULL
);
