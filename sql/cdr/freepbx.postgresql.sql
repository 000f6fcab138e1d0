-- FreePBX `cdr` columns (calldate … sequence) for PostgreSQL: same names, sizes and defaults as
-- freepbx.mysql.sql; calldate is local time without zone, as cdr_pgsql/odbc write it.
CREATE TABLE IF NOT EXISTS cdr (
  calldate timestamp without time zone NOT NULL DEFAULT '1000-01-01 00:00:00',
  clid varchar(80) NOT NULL DEFAULT '',
  src varchar(80) NOT NULL DEFAULT '',
  dst varchar(80) NOT NULL DEFAULT '',
  dcontext varchar(80) NOT NULL DEFAULT '',
  channel varchar(80) NOT NULL DEFAULT '',
  dstchannel varchar(80) NOT NULL DEFAULT '',
  lastapp varchar(80) NOT NULL DEFAULT '',
  lastdata varchar(80) NOT NULL DEFAULT '',
  duration integer NOT NULL DEFAULT 0,
  billsec integer NOT NULL DEFAULT 0,
  disposition varchar(45) NOT NULL DEFAULT '',
  amaflags integer NOT NULL DEFAULT 0,
  accountcode varchar(20) NOT NULL DEFAULT '',
  uniqueid varchar(32) NOT NULL DEFAULT '',
  userfield varchar(255) NOT NULL DEFAULT '',
  did varchar(50) NOT NULL DEFAULT '',
  recordingfile varchar(255) NOT NULL DEFAULT '',
  cnum varchar(80) NOT NULL DEFAULT '',
  cnam varchar(80) NOT NULL DEFAULT '',
  outbound_cnum varchar(80) NOT NULL DEFAULT '',
  outbound_cnam varchar(80) NOT NULL DEFAULT '',
  dst_cnam varchar(80) NOT NULL DEFAULT '',
  linkedid varchar(32) NOT NULL DEFAULT '',
  peeraccount varchar(80) NOT NULL DEFAULT '',
  sequence integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cdr_calldate ON cdr (calldate);
CREATE INDEX IF NOT EXISTS cdr_dst ON cdr (dst);
CREATE INDEX IF NOT EXISTS cdr_accountcode ON cdr (accountcode);
CREATE INDEX IF NOT EXISTS cdr_uniqueid ON cdr (uniqueid);
CREATE INDEX IF NOT EXISTS cdr_did ON cdr (did);
CREATE INDEX IF NOT EXISTS cdr_recordingfile ON cdr (recordingfile);
