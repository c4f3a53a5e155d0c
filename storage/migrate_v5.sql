-- SPDX-License-Identifier: MIT
-- Version 4 -> 5: frames.build_id and frames.file_offset, what names a
-- user frame again once better debug info arrives (debuginfod), and
-- frame_names, where the new names go. See schema.sql.
--
-- The frames table is rebuilt (SQLite cannot change a UNIQUE constraint in
-- place): ids are kept, so stacks stay valid. Older rows have no build id
-- and keep their names.
CREATE TABLE frames_v5 (
	id INTEGER PRIMARY KEY,
	function INTEGER NOT NULL,
	mapping INTEGER NOT NULL,
	line INTEGER NOT NULL,
	kind INTEGER NOT NULL,
	addr INTEGER NOT NULL,
	build_id INTEGER NOT NULL DEFAULT 0,
	file_offset INTEGER NOT NULL DEFAULT 0,
	UNIQUE (function, mapping, line, kind, addr, build_id, file_offset)
);
INSERT INTO frames_v5 (id, function, mapping, line, kind, addr)
	SELECT id, function, mapping, line, kind, addr FROM frames;
DROP TABLE frames;
ALTER TABLE frames_v5 RENAME TO frames;
CREATE INDEX frames_build_id ON frames (build_id, id) WHERE build_id != 0;

CREATE TABLE frame_names (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	frame INTEGER NOT NULL UNIQUE,
	function INTEGER NOT NULL,
	line INTEGER NOT NULL
);
