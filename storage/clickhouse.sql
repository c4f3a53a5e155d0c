-- SPDX-License-Identifier: MIT
-- kiln's ClickHouse schema, version 4 (table kiln_schema). Embedded into the
-- binary and run by storage/clickhouse.c when a store URL names a database
-- without it (the first `kiln server --store clickhouse://...`, or --init);
-- every statement is idempotent, so servers starting together do no harm.
-- A database whose kiln_schema holds a higher version is refused, and so
-- is version 1, which only development builds made. Version 2 lacks the
-- last three columns of frames: a writer opening it adds them
-- (clickhouse.c, migrate_v3: ALTER TABLE ... ADD COLUMN, skipped for a
-- column already there), and readers of a version 2 database read ''/0.
-- Versions 2 and 3 lack push_attempts, which a writer creates.
--
-- The SQL runs on Debian 12's clickhouse-server 18.16 and on current
-- releases: no LowCardinality, Map, JSON, TTL or column codecs. Statements
-- end with ";" at the end of a line (the loader splits there).
--
-- Ids are content fingerprints computed by kiln (64 bits of hash__bytes
-- under two seeds), not counters: any number of kiln servers can write the
-- same database without coordinating, and writing a dictionary row twice
-- only leaves a duplicate that ReplacingMergeTree folds away.
--
-- One table per single server. A real cluster puts each table on every
-- shard as ReplicatedMergeTree/ReplicatedReplacingMergeTree and a
-- Distributed table of the same name over them: see docs/clickhouse.md.

CREATE TABLE IF NOT EXISTS kiln_schema (
	version UInt32,
	written DateTime
) ENGINE = TinyLog;

-- A frame as the profile model has it (profile/profile.h: struct frame).
CREATE TABLE IF NOT EXISTS frames (
	id UInt64,
	name String,
	file String,   -- '' when unknown
	module String, -- the binary, '' when unknown
	line UInt32,
	kind UInt8,    -- enum frame_kind
	addr UInt64,
	system_name String DEFAULT '', -- the mangled name (pprof), v3
	build_id String DEFAULT '',    -- hex, user code in a file with one, v3
	file_offset UInt64 DEFAULT 0   -- looked up in that file, v3
) ENGINE = ReplacingMergeTree ORDER BY id;

-- frames: frame ids, root first.
CREATE TABLE IF NOT EXISTS stacks (
	id UInt64,
	frames Array(UInt64)
) ENGINE = ReplacingMergeTree ORDER BY id;

-- A series is one label set, keys in name order. 'hour' is the newest hour
-- (unix seconds / 3600) a window of the series was written in: the row
-- with the highest one survives merges, and retention deletes series whose
-- newest hour has aged out.
CREATE TABLE IF NOT EXISTS series (
	id UInt64,
	label_keys Array(String),
	label_values Array(String),
	hour UInt32
) ENGINE = ReplacingMergeTree(hour) ORDER BY id;

-- Sample counts at the store's finest resolution: 20 ms. One row per
-- (series, stack, 20 ms slot) of a window. 'window_id' is the fingerprint of
-- the window's rows within one hour: a write that is retried after an
-- error whose outcome is unknown finds its rows and is not counted twice.
-- Partitions are hours, so retention drops whole partitions.
--
-- Sorted by 10-minute block, then series and stack: within a block the
-- rows of one (series, stack) sit together, so the 64-bit ids compress to
-- almost nothing, a label filter reads only its series' granules, and a
-- time range still skips whole blocks. 'block' is always intDiv(second,
-- 600); queries name it beside 'second' so the index is used on any server.
CREATE TABLE IF NOT EXISTS samples (
	block UInt32,  -- unix seconds / 600
	second UInt32, -- unix seconds
	slot UInt8,    -- 20 ms slot within the second, 0..49
	series UInt64,
	stack UInt64,
	count UInt64,
	window_id UInt64
) ENGINE = MergeTree PARTITION BY intDiv(second, 3600)
ORDER BY (block, series, stack, second, slot);

-- Hourly rollups, for long ranges: per (hour, series, stack) the sum of
-- the hour's counts, computed by kiln from the samples of an hour that is
-- no longer the newest. 'attempt' tells computations apart; a computation
-- is usable once its row in 'rollups' exists, and only while the hour still
-- has exactly 'version' sample rows: a window that arrives late sends the
-- hour back to the samples table until it is rolled up again, and rows of
-- an attempt cut short are never read.
CREATE TABLE IF NOT EXISTS samples_1h (
	hour UInt32, -- unix seconds / 3600
	series UInt64,
	stack UInt64,
	count UInt64,
	attempt UInt64
) ENGINE = MergeTree PARTITION BY intDiv(hour, 24)
ORDER BY (hour, attempt, series, stack);

-- Per (minute, series) totals of the same hours, same attempts: time lines
-- with steps of whole minutes read these instead of every sample.
CREATE TABLE IF NOT EXISTS totals_1m (
	minute UInt32, -- unix seconds / 60
	series UInt64,
	count UInt64,
	attempt UInt64
) ENGINE = MergeTree PARTITION BY intDiv(minute, 1440)
ORDER BY (minute, attempt, series);

CREATE TABLE IF NOT EXISTS rollups (
	hour UInt32,
	version UInt64, -- rows of the hour's samples it was computed from
	attempt UInt64,
	written DateTime
) ENGINE = MergeTree ORDER BY (hour, attempt);

-- Windows pushed by agents (kiln agent --push), one row each, written after
-- the window's samples (whose window_id derives from instance and seq, so a
-- retry finds them even without this row). The hosts page aggregates it per
-- instance; retention drops whole days of it with the data.
CREATE TABLE IF NOT EXISTS push_windows (
	instance UInt64,
	seq UInt64,
	host String,
	version String,
	start_ns UInt64,
	end_ns UInt64,
	samples UInt64,
	pending UInt64,      -- windows waiting at the agent, as it said
	lost_samples UInt64, -- samples the agent lost, as it said
	received_ns UInt64
) ENGINE = ReplacingMergeTree(received_ns)
PARTITION BY intDiv(end_ns, 86400000000000) ORDER BY (instance, seq);

-- Pushed windows a writer has started to store, one row each, written
-- before the window's samples (version 4). A window without a row here
-- has no samples yet, so a batch of first attempts skips looking for its
-- rows in 'samples' (a scan of the window's 10-minute block, which a
-- large fleet makes big); a window with one is looked for there.
CREATE TABLE IF NOT EXISTS push_attempts (
	instance UInt64,
	seq UInt64,
	end_ns UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY intDiv(end_ns, 86400000000000) ORDER BY (instance, seq);

-- Settings that apply to the whole store (period_ns: CPU time of a count).
CREATE TABLE IF NOT EXISTS meta (
	key String,
	value UInt64,
	updated UInt64
) ENGINE = ReplacingMergeTree(updated) ORDER BY key;
