-- FreePBX `cdr` columns (calldate … sequence) for SQLite: the table `cdr1c demo` creates. calldate
-- is stored as text `YYYY-MM-DD HH:MM:SS` (local time), the form MySQL dumps and CSV exports use.
CREATE TABLE IF NOT EXISTS cdr (
  calldate DATETIME NOT NULL DEFAULT '1000-01-01 00:00:00',
  clid VARCHAR(80) NOT NULL DEFAULT '',
  src VARCHAR(80) NOT NULL DEFAULT '',
  dst VARCHAR(80) NOT NULL DEFAULT '',
  dcontext VARCHAR(80) NOT NULL DEFAULT '',
  channel VARCHAR(80) NOT NULL DEFAULT '',
  dstchannel VARCHAR(80) NOT NULL DEFAULT '',
  lastapp VARCHAR(80) NOT NULL DEFAULT '',
  lastdata VARCHAR(80) NOT NULL DEFAULT '',
  duration INTEGER NOT NULL DEFAULT 0,
  billsec INTEGER NOT NULL DEFAULT 0,
  disposition VARCHAR(45) NOT NULL DEFAULT '',
  amaflags INTEGER NOT NULL DEFAULT 0,
  accountcode VARCHAR(20) NOT NULL DEFAULT '',
  uniqueid VARCHAR(32) NOT NULL DEFAULT '',
  userfield VARCHAR(255) NOT NULL DEFAULT '',
  did VARCHAR(50) NOT NULL DEFAULT '',
  recordingfile VARCHAR(255) NOT NULL DEFAULT '',
  cnum VARCHAR(80) NOT NULL DEFAULT '',
  cnam VARCHAR(80) NOT NULL DEFAULT '',
  outbound_cnum VARCHAR(80) NOT NULL DEFAULT '',
  outbound_cnam VARCHAR(80) NOT NULL DEFAULT '',
  dst_cnam VARCHAR(80) NOT NULL DEFAULT '',
  linkedid VARCHAR(32) NOT NULL DEFAULT '',
  peeraccount VARCHAR(80) NOT NULL DEFAULT '',
  sequence INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cdr_calldate ON cdr (calldate);
CREATE INDEX IF NOT EXISTS cdr_dst ON cdr (dst);
CREATE INDEX IF NOT EXISTS cdr_accountcode ON cdr (accountcode);
CREATE INDEX IF NOT EXISTS cdr_uniqueid ON cdr (uniqueid);
CREATE INDEX IF NOT EXISTS cdr_did ON cdr (did);
CREATE INDEX IF NOT EXISTS cdr_recordingfile ON cdr (recordingfile);
