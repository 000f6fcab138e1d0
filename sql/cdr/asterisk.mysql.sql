-- The stock Asterisk `cdr` table (contrib/ast-db-manage alembic: 210693f3123d create, 54cde9847798
-- accountcode/peeraccount → 80): start/answer/end instead of calldate, amaflags and disposition as
-- text, every column nullable, no primary key and no indexes. An unanswered row has answer NULL.
CREATE TABLE IF NOT EXISTS cdr (
  accountcode VARCHAR(80),
  src VARCHAR(80),
  dst VARCHAR(80),
  dcontext VARCHAR(80),
  clid VARCHAR(80),
  channel VARCHAR(80),
  dstchannel VARCHAR(80),
  lastapp VARCHAR(80),
  lastdata VARCHAR(80),
  start DATETIME,
  answer DATETIME,
  end DATETIME,
  duration INTEGER,
  billsec INTEGER,
  disposition VARCHAR(45),
  amaflags VARCHAR(45),
  userfield VARCHAR(256),
  uniqueid VARCHAR(150),
  linkedid VARCHAR(150),
  peeraccount VARCHAR(80),
  sequence INTEGER
) DEFAULT CHARSET=utf8mb4;
