-- SPDX-License-Identifier: MIT
-- Version 5 -> 6: fleet series and indexes for a central server's store
-- (see schema.sql and FLEET_KEY in storage/store_int.h).
--
-- Time lines need each row's total only: an index of (bucket, series,
-- total) answers them without reading the blobs, which fill the tables'
-- pages (an hour of 1000 hosts: a few MB of index instead of hundreds of
-- MB of table).
CREATE INDEX samples_10s_totals ON samples_10s (bucket, series, total);
CREATE INDEX samples_1m_totals ON samples_1m (bucket, series, total);
CREATE INDEX samples_1h_totals ON samples_1h (bucket, series, total);

-- Retention drops received window identities by end time.
CREATE INDEX push_windows_end ON push_windows (end_ns);

-- Fleet series are written from now on: data from the next hour on has
-- them (and data newer than anything stored, in case clocks ran ahead).
INSERT OR REPLACE INTO meta (key, value) VALUES ('fleet_since',
	(max(coalesce((SELECT max(bucket) FROM samples_10s) * 10 + 10, 0),
	     CAST(strftime('%s', 'now') AS INTEGER)) + 3599) / 3600 * 3600);
