-- SPDX-License-Identifier: MIT
-- Version 5 -> 6: indexes for a central server's store (see schema.sql).
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
