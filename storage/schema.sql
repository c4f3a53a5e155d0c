-- SPDX-License-Identifier: MIT
-- kiln store schema, version 6 (PRAGMA user_version). Embedded into the
-- binary at build time and run once on a new file. Older files are brought
-- up to date by storage/migrate_v<N>.sql; a file with a higher version than
-- this one is refused.
--
-- Size is the design constraint: 24 h of a 16-CPU host at 99 Hz is about
-- 137 million samples and should fit in about 1 GB. So samples are never
-- rows. Counts live in blobs of varints, one row per (time bucket, series),
-- and every row key is a pair of small integers in a WITHOUT ROWID table.
--
-- Times are bucket indexes: unix seconds divided by the bucket width.

-- Dictionary. Rows are only ever added (series excepted, see below), so
-- ids stay valid forever and readers can cache the whole dictionary and
-- refresh it by loading ids above the largest they know.
CREATE TABLE strings (
	id INTEGER PRIMARY KEY,
	s TEXT NOT NULL UNIQUE
);

-- A binary (exe, shared library, kernel module, "[kernel]") by path.
CREATE TABLE mappings (
	id INTEGER PRIMARY KEY,
	path INTEGER NOT NULL UNIQUE -- strings.id
);

CREATE TABLE functions (
	id INTEGER PRIMARY KEY,
	name INTEGER NOT NULL, -- strings.id
	file INTEGER NOT NULL, -- strings.id, the empty string when unknown
	-- strings.id of the mangled name (C++, Rust) for tooltips and pprof's
	-- system_name; 0 when the name was not mangled (v3)
	system_name INTEGER NOT NULL DEFAULT 0,
	UNIQUE (name, file)
);

-- A frame as first named. User code in a file with a build id also keeps
-- what names it again (v5): the build id and the file offset looked up
-- (a return address minus one), so when debug info arrives later
-- (debuginfod) the agent names the frames of that build id again, into
-- frame_names, and windows written before show the new names.
CREATE TABLE frames (
	id INTEGER PRIMARY KEY,
	function INTEGER NOT NULL, -- functions.id
	mapping INTEGER NOT NULL,  -- mappings.id
	line INTEGER NOT NULL,     -- 0 when unknown
	kind INTEGER NOT NULL,     -- enum frame_kind in profile/profile.h
	addr INTEGER NOT NULL,     -- address in the module, 0 when unknown
	build_id INTEGER NOT NULL DEFAULT 0,	-- strings.id of the hex, 0: none
	file_offset INTEGER NOT NULL DEFAULT 0, -- with build_id, 0 otherwise
	UNIQUE (function, mapping, line, kind, addr, build_id, file_offset)
);
CREATE INDEX frames_build_id ON frames (build_id, id) WHERE build_id != 0;

-- A frame's better name (v5), which readers use instead of the frame's
-- own function and line. A frame named again gets a new row (REPLACE),
-- so 'seq' orders the changes: readers that cache the dictionary load the
-- rows above the largest seq they know. Only the outermost function of an
-- address is renamed: inlined frames the debug info reveals appear in
-- windows written after it arrived, not in older stacks.
CREATE TABLE frame_names (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	frame INTEGER NOT NULL UNIQUE, -- frames.id
	function INTEGER NOT NULL,     -- functions.id
	line INTEGER NOT NULL
);

-- frames: LEB128 varints of frames.id, root first. A stack costs its
-- depth in bytes, about, rather than a row per frame.
CREATE TABLE stacks (
	id INTEGER PRIMARY KEY,
	frames BLOB NOT NULL UNIQUE
);

-- A series is one label set (host, comm, pid, exe, build_id, container,
-- or whatever an importer attaches). 'labels' is the canonical identity:
-- varint pairs (key string id, value string id) in key-name order.
-- AUTOINCREMENT because series are garbage collected once their data has
-- aged out and a reused id would confuse a reader's cache.
CREATE TABLE series (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	labels BLOB NOT NULL UNIQUE,
	last_bucket INTEGER NOT NULL DEFAULT 0 -- newest hour with data (v2)
);

-- Label lookup for filters and the label pickers of the UI.
CREATE TABLE series_labels (
	key INTEGER NOT NULL,   -- strings.id
	value INTEGER NOT NULL, -- strings.id
	series INTEGER NOT NULL,
	PRIMARY KEY (key, value, series)
) WITHOUT ROWID;

-- Raw counts, one row per 10 s bucket and series. 'data' holds one entry
-- per (stack, 20 ms slot of the bucket), sorted by stack then slot:
--   varint(stack id delta), varint(slot' * 2 + (count != 1)),
--   [varint(count) when count != 1]
-- where slot' is the slot (0..499) when the stack changed and the slot
-- delta otherwise. So the heat map and sub-second ranges come from the
-- same bytes as the flame graph. 'total' (the sum of counts) sits before
-- the blob so time lines never read the blob's overflow pages.
CREATE TABLE samples_10s (
	bucket INTEGER NOT NULL, -- unix seconds / 10
	series INTEGER NOT NULL,
	total INTEGER NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (bucket, series)
) WITHOUT ROWID;

-- Time lines need each row's total only: these indexes (v6) answer them
-- without reading the blobs, which fill the tables' pages (an hour of
-- 1000 hosts: a few MB of index instead of hundreds of MB of table).
CREATE INDEX samples_10s_totals ON samples_10s (bucket, series, total);

-- Rollups for long ranges: entries varint(stack id delta), varint(count).
-- A minute is rolled up from samples_10s once a later minute has data, an
-- hour from samples_1m once its minutes are; meta holds the watermarks.
-- Data that arrives for an already rolled-up period is merged in directly.
CREATE TABLE samples_1m (
	bucket INTEGER NOT NULL, -- unix seconds / 60
	series INTEGER NOT NULL,
	total INTEGER NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (bucket, series)
) WITHOUT ROWID;
CREATE INDEX samples_1m_totals ON samples_1m (bucket, series, total);

CREATE TABLE samples_1h (
	bucket INTEGER NOT NULL, -- unix seconds / 3600
	series INTEGER NOT NULL,
	total INTEGER NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (bucket, series)
) WITHOUT ROWID;
CREATE INDEX samples_1h_totals ON samples_1h (bucket, series, total);

-- rolled_1m / rolled_1h: first minute / hour not yet rolled up (rollups
-- cover every bucket below it). gc_generation: bumped whenever series are
-- deleted, so writers in other processes drop their cached ids.
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

-- fleet_since (v6): unix seconds from which every sample is also in its
-- fleet series (storage/store_int.h); a new store has them all along.
-- fleet_slots_from / fleet_slots_to (absent: 0): the 10 s buckets whose
-- fleet rows hold 20 ms slots, written by the minute rollup (store_int.h).
INSERT INTO meta (key, value) VALUES ('rolled_1m', 0), ('rolled_1h', 0),
	('gc_generation', 0), ('fleet_since', 0);

-- Push (v4), agent side (kiln agent --push, storage/wire.h): the local store is
-- the spool. Each committed window is also kept here, encoded for the
-- wire, in the same transaction as its samples, until the server has
-- acknowledged it. AUTOINCREMENT: a window number is never reused, even
-- after every row was acknowledged and deleted, since the server dedupes
-- by (instance, seq). The instance id is meta 'instance_id'.
CREATE TABLE push_spool (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	start_ns INTEGER NOT NULL,
	end_ns INTEGER NOT NULL,
	samples INTEGER NOT NULL, -- sum of counts in the payload
	raw_len INTEGER NOT NULL, -- payload size before compression
	data BLOB NOT NULL	  -- the compressed wire payload
);

-- How far the server has acknowledged (one row), and what retention took
-- from the spool before it could be delivered.
CREATE TABLE push_ack (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	acked_seq INTEGER NOT NULL,
	acked_ns INTEGER NOT NULL, -- unix ns of the last acknowledgement
	dropped_windows INTEGER NOT NULL,
	dropped_samples INTEGER NOT NULL
);
INSERT INTO push_ack VALUES (1, 0, 0, 0, 0);

-- Push, server side: the identity of every window received, written in
-- the same transaction as its samples, so a retried window is recognised
-- and stored once. Rows older than the retention go with the data.
CREATE TABLE push_windows (
	instance INTEGER NOT NULL, -- the agent's instance id
	seq INTEGER NOT NULL,
	start_ns INTEGER NOT NULL,
	end_ns INTEGER NOT NULL,
	samples INTEGER NOT NULL,
	received_ns INTEGER NOT NULL,
	PRIMARY KEY (instance, seq)
) WITHOUT ROWID;
-- Retention drops them by end time (v6).
CREATE INDEX push_windows_end ON push_windows (end_ns);

-- One row per agent instance that pushed: the hosts page.
CREATE TABLE push_agents (
	instance INTEGER PRIMARY KEY,
	host TEXT NOT NULL,
	version TEXT NOT NULL,
	first_push_ns INTEGER NOT NULL,
	last_push_ns INTEGER NOT NULL,
	last_end_ns INTEGER NOT NULL, -- newest window end received
	windows INTEGER NOT NULL,
	samples INTEGER NOT NULL,
	pending INTEGER NOT NULL,      -- windows waiting, as the agent said
	lost_samples INTEGER NOT NULL  -- samples the agent lost, as it said
);
