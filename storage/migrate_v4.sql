-- SPDX-License-Identifier: MIT
-- Version 3 -> 4: the push spool and acknowledgement (agent side), window
-- identities and agents (server side). See schema.sql.

-- Push, agent side (kiln agent --push, storage/wire.h): the local store is
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
