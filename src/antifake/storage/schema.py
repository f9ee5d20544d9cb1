"""The registry's schema, in each SQL dialect: the tables of version 1 and every migration
since (``MIGRATIONS[v]`` takes a store at version v - 1 to v, in one transaction). A schema
change is written here twice, once per dialect, with the same version number."""

from antifake.storage.abc import SCHEMA_VERSION

__all__ = ["MIGRATIONS", "PG_MIGRATIONS"]

# ----------------------------------------------------------------------------------------
# SQLite
# ----------------------------------------------------------------------------------------
_SCHEMA_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE parties (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE,
    role   TEXT,
    region TEXT,
    lat    REAL,
    lon    REAL
);
CREATE TABLE nodes (
    id     INTEGER PRIMARY KEY,
    epc    TEXT NOT NULL UNIQUE,
    serial INTEGER
);
CREATE TABLE batches (
    id            INTEGER PRIMARY KEY,
    issuer        TEXT NOT NULL,
    key_id        INTEGER NOT NULL,
    batch_id      INTEGER NOT NULL,
    first_index   INTEGER NOT NULL,
    n             INTEGER NOT NULL CHECK (n > 0),
    first_node    INTEGER NOT NULL,
    digest        BLOB NOT NULL,
    owner         INTEGER REFERENCES parties(id),
    gtin          TEXT,
    lot           TEXT,
    expiry        TEXT,
    registered_us INTEGER NOT NULL,
    UNIQUE (issuer, key_id, batch_id, first_index)
);
CREATE INDEX batches_first_node ON batches(first_node);
CREATE TABLE stamp_nodes (
    batch INTEGER NOT NULL REFERENCES batches(id),
    idx   INTEGER NOT NULL,
    node  INTEGER NOT NULL UNIQUE REFERENCES nodes(id),
    PRIMARY KEY (batch, idx)
);
CREATE TABLE contexts (
    id INTEGER PRIMARY KEY,
    ns TEXT NOT NULL UNIQUE
);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE,
    time_us     INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    by_party    INTEGER REFERENCES parties(id),
    src         INTEGER REFERENCES parties(id),
    dst         INTEGER REFERENCES parties(id),
    parent      INTEGER REFERENCES nodes(id),
    lat         REAL,
    lon         REAL,
    recorded_us INTEGER NOT NULL,
    ctx         INTEGER REFERENCES contexts(id),
    first_node  INTEGER,
    n_nodes     INTEGER,
    doc         TEXT NOT NULL
);
CREATE INDEX events_time ON events(time_us);
CREATE INDEX events_parent ON events(parent) WHERE parent IS NOT NULL;
CREATE INDEX events_range ON events(first_node) WHERE first_node IS NOT NULL;
CREATE TABLE incidence (
    node  INTEGER NOT NULL REFERENCES nodes(id),
    event INTEGER NOT NULL REFERENCES events(id),
    PRIMARY KEY (node, event)
) WITHOUT ROWID;
CREATE TABLE lifecycle (
    node       INTEGER PRIMARY KEY REFERENCES nodes(id),
    state      INTEGER NOT NULL DEFAULT 0,
    reason     TEXT,
    since_us   INTEGER,
    claim      INTEGER NOT NULL DEFAULT 0,
    wrong_pins INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    claim_us   INTEGER
);
CREATE TABLE columns (
    id          INTEGER PRIMARY KEY,
    first_event INTEGER NOT NULL,
    last_event  INTEGER NOT NULL,
    n_events    INTEGER NOT NULL,
    n_inc       INTEGER NOT NULL,
    events      BLOB NOT NULL,
    inc         BLOB NOT NULL
);
CREATE VIEW stamps AS
    SELECT n.id AS node, n.epc AS epc, b.issuer AS issuer, b.key_id AS key_id,
           b.batch_id AS batch_id, b.first_index + (n.id - b.first_node) AS idx,
           n.serial AS serial
    FROM batches b JOIN nodes n ON n.id >= b.first_node AND n.id < b.first_node + b.n
    WHERE n.id NOT IN (SELECT node FROM stamp_nodes)
    UNION ALL
    SELECT n.id, n.epc, b.issuer, b.key_id, b.batch_id, s.idx, n.serial
    FROM stamp_nodes s JOIN batches b ON b.id = s.batch JOIN nodes n ON n.id = s.node;
"""

# v2: codes that detection found copied (Registry.flag_suspected); verify says SUSPECTED_CLONE.
_SCHEMA_V2 = """
CREATE TABLE suspicions (
    node     INTEGER PRIMARY KEY REFERENCES nodes(id),
    kind     TEXT NOT NULL,
    score    REAL NOT NULL,
    since_us INTEGER NOT NULL,
    evidence TEXT NOT NULL
);
"""

# v3: each event's detail code (claim result, decommissioning reason), computed when it is
# written; events stored before are filled in once by the migration (_backfill_details).
_SCHEMA_V3 = """
ALTER TABLE events ADD COLUMN detail INTEGER NOT NULL DEFAULT 0;
"""

# v4: the GS1 identifiers of parties (their PGLN and SGLN locations).
_SCHEMA_V4 = """
CREATE TABLE party_glns (
    key   TEXT PRIMARY KEY,
    party INTEGER NOT NULL REFERENCES parties(id),
    kind  TEXT NOT NULL CHECK (kind IN (\'pgln\', \'sgln\'))
);
CREATE INDEX party_glns_party ON party_glns(party);
"""

#: Upgrades: MIGRATIONS[v] takes a database at schema v - 1 to v (run in one transaction).
MIGRATIONS: dict[int, str] = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4}


# ----------------------------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------------------------
_PG_SCHEMA_V1 = """
CREATE SEQUENCE parties_seq;
CREATE SEQUENCE nodes_seq;
CREATE SEQUENCE batches_seq;
CREATE SEQUENCE contexts_seq;
CREATE SEQUENCE events_seq;
CREATE SEQUENCE columns_seq;
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE version (
    id integer PRIMARY KEY CHECK (id = 1),
    n  bigint NOT NULL
);
INSERT INTO version VALUES (1, 0);
CREATE TABLE parties (
    id     integer PRIMARY KEY DEFAULT nextval('parties_seq'),
    name   text NOT NULL UNIQUE,
    role   text,
    region text,
    lat    double precision,
    lon    double precision
);
CREATE TABLE nodes (
    id     bigint PRIMARY KEY,
    epc    text NOT NULL UNIQUE,
    serial bigint
);
CREATE TABLE batches (
    id            bigint PRIMARY KEY DEFAULT nextval('batches_seq'),
    issuer        text NOT NULL,
    key_id        integer NOT NULL,
    batch_id      bigint NOT NULL,
    first_index   bigint NOT NULL,
    n             bigint NOT NULL CHECK (n > 0),
    first_node    bigint NOT NULL,
    digest        bytea NOT NULL,
    owner         integer REFERENCES parties(id),
    gtin          text,
    lot           text,
    expiry        text,
    registered_us bigint NOT NULL,
    UNIQUE (issuer, key_id, batch_id, first_index)
);
CREATE INDEX batches_first_node ON batches(first_node);
CREATE TABLE stamp_nodes (
    batch bigint NOT NULL REFERENCES batches(id),
    idx   bigint NOT NULL,
    node  bigint NOT NULL UNIQUE REFERENCES nodes(id),
    PRIMARY KEY (batch, idx)
);
CREATE TABLE contexts (
    id integer PRIMARY KEY DEFAULT nextval('contexts_seq'),
    ns text NOT NULL UNIQUE
);
CREATE TABLE events (
    id          bigint PRIMARY KEY,
    hash        bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    time_us     bigint NOT NULL,
    kind        smallint NOT NULL,
    by_party    integer REFERENCES parties(id),
    src         integer REFERENCES parties(id),
    dst         integer REFERENCES parties(id),
    parent      bigint REFERENCES nodes(id),
    lat         double precision,
    lon         double precision,
    recorded_us bigint NOT NULL,
    ctx         integer REFERENCES contexts(id),
    first_node  bigint,
    n_nodes     bigint,
    doc         text NOT NULL
);
CREATE INDEX events_time ON events(time_us);
CREATE INDEX events_parent ON events(parent) WHERE parent IS NOT NULL;
CREATE INDEX events_range ON events(first_node) WHERE first_node IS NOT NULL;
CREATE INDEX events_kind ON events(kind) WHERE kind IN (7, 9);
CREATE TABLE incidence (
    node  bigint NOT NULL REFERENCES nodes(id),
    event bigint NOT NULL REFERENCES events(id),
    PRIMARY KEY (node, event)
);
CREATE TABLE lifecycle (
    node       bigint PRIMARY KEY REFERENCES nodes(id),
    state      integer NOT NULL DEFAULT 0,
    reason     text,
    since_us   bigint,
    claim      integer NOT NULL DEFAULT 0,
    wrong_pins integer NOT NULL DEFAULT 0,
    attempts   integer NOT NULL DEFAULT 0,
    claim_us   bigint
);
CREATE TABLE columns (
    id          bigint PRIMARY KEY,
    first_event bigint NOT NULL,
    last_event  bigint NOT NULL,
    n_events    bigint NOT NULL,
    n_inc       bigint NOT NULL,
    events      bytea NOT NULL,
    inc         bytea NOT NULL
);
ALTER TABLE columns ALTER COLUMN events SET STORAGE EXTERNAL;
ALTER TABLE columns ALTER COLUMN inc SET STORAGE EXTERNAL;
CREATE FUNCTION af_alloc(seq regclass, n bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE v bigint;
BEGIN
    IF n <= 0 THEN RETURN NULL; END IF;
    PERFORM pg_advisory_lock(1095127623, 1);
    BEGIN
        v := nextval(seq);
        IF n > 1 THEN PERFORM setval(seq, v + n - 1); END IF;
    EXCEPTION WHEN OTHERS THEN
        PERFORM pg_advisory_unlock(1095127623, 1);
        RAISE;
    END;
    PERFORM pg_advisory_unlock(1095127623, 1);
    RETURN v;
END
$f$;
CREATE VIEW stamps AS
    SELECT n.id AS node, n.epc AS epc, b.issuer AS issuer, b.key_id AS key_id,
           b.batch_id AS batch_id, b.first_index + (n.id - b.first_node) AS idx,
           n.serial AS serial
    FROM batches b JOIN nodes n ON n.id >= b.first_node AND n.id < b.first_node + b.n
    WHERE n.id NOT IN (SELECT node FROM stamp_nodes)
    UNION ALL
    SELECT n.id, n.epc, b.issuer, b.key_id, b.batch_id, s.idx, n.serial
    FROM stamp_nodes s JOIN batches b ON b.id = s.batch JOIN nodes n ON n.id = s.node
"""

# v2: codes that detection found copied (as SQLite's schema 2).
_PG_SCHEMA_V2 = """
CREATE TABLE suspicions (
    node     bigint PRIMARY KEY REFERENCES nodes(id),
    kind     text NOT NULL,
    score    double precision NOT NULL,
    since_us bigint NOT NULL,
    evidence text NOT NULL
);
"""

# v3: each event's detail code, computed when it is written (as SQLite's schema 3).
_PG_SCHEMA_V3 = """
ALTER TABLE events ADD COLUMN detail smallint NOT NULL DEFAULT 0;
"""

# v4: the GS1 identifiers of parties (as SQLite\'s schema 4).
_PG_SCHEMA_V4 = """
CREATE TABLE party_glns (
    key   text PRIMARY KEY,
    party integer NOT NULL REFERENCES parties(id),
    kind  text NOT NULL CHECK (kind IN (\'pgln\', \'sgln\'))
);
CREATE INDEX party_glns_party ON party_glns(party);
"""

#: Upgrades: PG_MIGRATIONS[v] takes a schema at version v - 1 to v (one transaction).
PG_MIGRATIONS: dict[int, str] = {1: _PG_SCHEMA_V1, 2: _PG_SCHEMA_V2, 3: _PG_SCHEMA_V3,
                                  4: _PG_SCHEMA_V4}

assert max(MIGRATIONS) == max(PG_MIGRATIONS) == SCHEMA_VERSION, \
    "a schema change needs both dialects"
