-- How many confirmation emails went out in each minute, kept by triggers beside the log, so the
-- overall hourly cap reads at most one minute of log rows plus an hour of these counters instead
-- of counting every row of the last hour (a launch day can put tens of thousands there, and
-- every subscribe request asks). The key is the first 16 characters of `sent_at`
-- (`YYYY-MM-DDTHH:MM`); the triggers keep each count equal to the log rows of its minute, so
-- the overall-count query stays exact.
CREATE TABLE confirmation_log_minutes (
  minute TEXT PRIMARY KEY,
  count INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER confirmation_log_minutes_insert AFTER INSERT ON confirmation_log
BEGIN
  INSERT INTO confirmation_log_minutes (minute, count) VALUES (substr(NEW.sent_at, 1, 16), 1)
  ON CONFLICT (minute) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER confirmation_log_minutes_delete AFTER DELETE ON confirmation_log
BEGIN
  UPDATE confirmation_log_minutes SET count = count - 1 WHERE minute = substr(OLD.sent_at, 1, 16);
  DELETE FROM confirmation_log_minutes WHERE minute = substr(OLD.sent_at, 1, 16) AND count <= 0;
END;

CREATE TRIGGER confirmation_log_minutes_update AFTER UPDATE OF sent_at ON confirmation_log
BEGIN
  UPDATE confirmation_log_minutes SET count = count - 1 WHERE minute = substr(OLD.sent_at, 1, 16);
  DELETE FROM confirmation_log_minutes WHERE minute = substr(OLD.sent_at, 1, 16) AND count <= 0;
  INSERT INTO confirmation_log_minutes (minute, count) VALUES (substr(NEW.sent_at, 1, 16), 1)
  ON CONFLICT (minute) DO UPDATE SET count = count + 1;
END;

INSERT INTO confirmation_log_minutes (minute, count)
SELECT substr(sent_at, 1, 16), count(*) FROM confirmation_log WHERE true GROUP BY substr(sent_at, 1, 16);
