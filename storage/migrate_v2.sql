-- SPDX-License-Identifier: MIT
-- Version 1 -> 2: series.last_bucket (newest hour with data), so that
-- retention can delete the series of processes long gone without scanning
-- the sample tables. Filled from the data already stored.
ALTER TABLE series ADD COLUMN last_bucket INTEGER NOT NULL DEFAULT 0;

CREATE TEMP TABLE series_last AS
	SELECT series, max(hour) AS hour FROM (
		SELECT series, bucket / 360 AS hour FROM samples_10s
		UNION ALL SELECT series, bucket / 60 FROM samples_1m
		UNION ALL SELECT series, bucket FROM samples_1h)
	GROUP BY series;

UPDATE series SET last_bucket = coalesce(
	(SELECT hour FROM series_last WHERE series_last.series = series.id), 0);

DROP TABLE series_last;

INSERT OR IGNORE INTO meta (key, value) VALUES ('gc_generation', 0);
