-- SPDX-License-Identifier: MIT
-- Version 2 -> 3: functions.system_name, the mangled name of a demangled
-- C++ or Rust function (0: not mangled). Older rows have none.
ALTER TABLE functions ADD COLUMN system_name INTEGER NOT NULL DEFAULT 0;
