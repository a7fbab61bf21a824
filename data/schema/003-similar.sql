-- sitrep schema, version 3: text search and similarity over incidents, and
-- the verbatim lines of imported history.

-- Full-text index of every incident. External content: the text lives in
-- incidents and these triggers keep the index in step with it.
CREATE VIRTUAL TABLE incidents_fts USING fts5(
	title, summary, details, services, root_cause, action_taken,
	content = 'incidents', content_rowid = 'id',
	tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents
BEGIN
	INSERT INTO incidents_fts (rowid, title, summary, details, services, root_cause,
	                           action_taken)
	VALUES (NEW.id, NEW.title, NEW.summary, NEW.details, NEW.services, NEW.root_cause,
	        NEW.action_taken);
END;

CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents
BEGIN
	INSERT INTO incidents_fts (incidents_fts, rowid, title, summary, details, services,
	                           root_cause, action_taken)
	VALUES ('delete', OLD.id, OLD.title, OLD.summary, OLD.details, OLD.services,
	        OLD.root_cause, OLD.action_taken);
END;

CREATE TRIGGER incidents_fts_update
AFTER UPDATE OF title, summary, details, services, root_cause, action_taken ON incidents
BEGIN
	INSERT INTO incidents_fts (incidents_fts, rowid, title, summary, details, services,
	                           root_cause, action_taken)
	VALUES ('delete', OLD.id, OLD.title, OLD.summary, OLD.details, OLD.services,
	        OLD.root_cause, OLD.action_taken);
	INSERT INTO incidents_fts (rowid, title, summary, details, services, root_cause,
	                           action_taken)
	VALUES (NEW.id, NEW.title, NEW.summary, NEW.details, NEW.services, NEW.root_cause,
	        NEW.action_taken);
END;

-- The similarity index (src/similar.c): BM25 term weights of resolved
-- incidents, kept per term in impact order so that a query reads only the
-- best postings of each of its terms, whatever the size of the history.
-- It is a cache of the incidents' text: the triggers below only queue the
-- incidents that changed (similar_dirty); similar_refresh() folds them in,
-- and a query scores queued incidents directly until then.
CREATE TABLE similar_terms (
	id       INTEGER PRIMARY KEY,
	term     TEXT NOT NULL UNIQUE,
	df       INTEGER NOT NULL DEFAULT 0,    -- indexed incidents that contain it
	postings BLOB                           -- its best postings at the last rebuild:
	                                        -- (incident id varint, impact u16), best first
);

-- Postings of incidents indexed one by one since the last rebuild.
CREATE TABLE similar_postings (
	term_id     INTEGER NOT NULL,
	impact      INTEGER NOT NULL,           -- BM25 term-frequency part, 1..65535
	incident_id INTEGER NOT NULL,
	PRIMARY KEY (term_id, impact, incident_id)
) WITHOUT ROWID;

-- One row per indexed incident: its length, whether its postings are in
-- similar_terms.postings (rebuilt) or similar_postings, and its (term,
-- impact) pairs so that it can be taken out again.
CREATE TABLE similar_docs (
	incident_id INTEGER PRIMARY KEY,
	length      INTEGER NOT NULL,
	rebuilt     INTEGER NOT NULL,
	terms       BLOB NOT NULL
);

-- Incidents taken out since the last rebuild: their packed postings are
-- stale and skipped.
CREATE TABLE similar_gone (
	incident_id INTEGER PRIMARY KEY
);

CREATE TABLE similar_stats (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	docs          INTEGER NOT NULL,
	length        INTEGER NOT NULL,         -- tokens over all indexed incidents
	since_rebuild INTEGER NOT NULL          -- incidents indexed one by one since
);
INSERT INTO similar_stats VALUES (1, 0, 0, 0);

CREATE TABLE similar_dirty (
	incident_id INTEGER PRIMARY KEY
);

CREATE TRIGGER similar_dirty_insert AFTER INSERT ON incidents
WHEN NEW.state = 'resolved'
BEGIN
	INSERT OR IGNORE INTO similar_dirty VALUES (NEW.id);
END;

CREATE TRIGGER similar_dirty_update
AFTER UPDATE OF state, title, summary, details, services, root_cause, action_taken ON incidents
WHEN NEW.state = 'resolved' OR OLD.state = 'resolved'
BEGIN
	INSERT OR IGNORE INTO similar_dirty VALUES (NEW.id);
END;

CREATE TRIGGER similar_dirty_delete AFTER DELETE ON incidents
BEGIN
	INSERT OR IGNORE INTO similar_dirty VALUES (OLD.id);
END;

-- Membership changes of resolved incidents change their indexed text too
-- (cluster names and templates are part of it).
CREATE TRIGGER similar_dirty_join AFTER INSERT ON incident_clusters
WHEN (SELECT state FROM incidents WHERE id = NEW.incident_id) = 'resolved'
BEGIN
	INSERT OR IGNORE INTO similar_dirty VALUES (NEW.incident_id);
END;

CREATE TRIGGER similar_dirty_move AFTER UPDATE OF incident_id ON incident_clusters
WHEN (SELECT state FROM incidents WHERE id = NEW.incident_id) = 'resolved'
BEGIN
	INSERT OR IGNORE INTO similar_dirty VALUES (NEW.incident_id);
END;

-- Recurrence look-ups: clusters by template, the clusters merged into one,
-- and the clusters an incident ever had.
CREATE INDEX clusters_template ON clusters(template);
CREATE INDEX clusters_merged_into ON clusters(merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX cluster_history_incident ON cluster_history(incident_id);

-- The verbatim line each imported incident was last read from (sitrep import):
-- nothing accepted is stored only in its parsed form.
CREATE TABLE imported_records (
	incident_id INTEGER PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
	origin      TEXT NOT NULL,
	line        INTEGER NOT NULL,
	imported_at INTEGER NOT NULL,
	text        TEXT NOT NULL
);

-- A database written before this version: index what is already there.
INSERT INTO incidents_fts (incidents_fts) VALUES ('rebuild');
INSERT INTO similar_dirty SELECT id FROM incidents WHERE state = 'resolved';
