"""The registry's schema: the tables of version 1 and every migration since
(``MIGRATIONS[v]`` takes a store at version v - 1 to v, in one transaction).

Each table is written once, with column types named by width (``{I64}``, ``{I32}``, ``{I16}``,
``{F64}``, ``{BYTES}``, ``{TEXT}``) and rendered in each SQL dialect; what only one dialect has
(PostgreSQL's id sequences, version row and id allocator, SQLite's ``WITHOUT ROWID``) is
rendered from the same slots or added beside the shared tables."""

from antifake.epcis.kinds import EventKind
from antifake.storage.abc import SCHEMA_VERSION

__all__ = ["MIGRATIONS", "PG_MIGRATIONS"]

_DIALECTS: dict[str, dict[str, str]] = {
    "sqlite": {
        "I64": "INTEGER", "I32": "INTEGER", "I16": "INTEGER", "F64": "REAL", "BYTES": "BLOB",
        "TEXT": "TEXT",
        "seq_parties": "", "seq_batches": "", "seq_contexts": "",
        "hash_check": "", "without_rowid": " WITHOUT ROWID",
    },
    "postgresql": {
        "I64": "bigint", "I32": "integer", "I16": "smallint", "F64": "double precision",
        "BYTES": "bytea", "TEXT": "text",
        "seq_parties": " DEFAULT nextval('parties_seq')",
        "seq_batches": " DEFAULT nextval('batches_seq')",
        "seq_contexts": " DEFAULT nextval('contexts_seq')",
        "hash_check": " CHECK (length(hash) = 32)", "without_rowid": "",
    },
}

_META = """
CREATE TABLE meta (
    key   {TEXT} PRIMARY KEY,
    value {TEXT} NOT NULL
);
"""

_TABLES_V1 = """
CREATE TABLE parties (
    id     {I32} PRIMARY KEY{seq_parties},
    name   {TEXT} NOT NULL UNIQUE,
    role   {TEXT},
    region {TEXT},
    lat    {F64},
    lon    {F64}
);
CREATE TABLE nodes (
    id     {I64} PRIMARY KEY,
    epc    {TEXT} NOT NULL UNIQUE,
    serial {I64}
);
CREATE TABLE batches (
    id            {I64} PRIMARY KEY{seq_batches},
    issuer        {TEXT} NOT NULL,
    key_id        {I32} NOT NULL,
    batch_id      {I64} NOT NULL,
    first_index   {I64} NOT NULL,
    n             {I64} NOT NULL CHECK (n > 0),
    first_node    {I64} NOT NULL,
    digest        {BYTES} NOT NULL,
    owner         {I32} REFERENCES parties(id),
    gtin          {TEXT},
    lot           {TEXT},
    expiry        {TEXT},
    registered_us {I64} NOT NULL,
    UNIQUE (issuer, key_id, batch_id, first_index)
);
CREATE INDEX batches_first_node ON batches(first_node);
CREATE TABLE stamp_nodes (
    batch {I64} NOT NULL REFERENCES batches(id),
    idx   {I64} NOT NULL,
    node  {I64} NOT NULL UNIQUE REFERENCES nodes(id),
    PRIMARY KEY (batch, idx)
);
CREATE TABLE contexts (
    id {I32} PRIMARY KEY{seq_contexts},
    ns {TEXT} NOT NULL UNIQUE
);
CREATE TABLE events (
    id          {I64} PRIMARY KEY,
    hash        {BYTES} NOT NULL UNIQUE{hash_check},
    time_us     {I64} NOT NULL,
    kind        {I16} NOT NULL,
    by_party    {I32} REFERENCES parties(id),
    src         {I32} REFERENCES parties(id),
    dst         {I32} REFERENCES parties(id),
    parent      {I64} REFERENCES nodes(id),
    lat         {F64},
    lon         {F64},
    recorded_us {I64} NOT NULL,
    ctx         {I32} REFERENCES contexts(id),
    first_node  {I64},
    n_nodes     {I64},
    doc         {TEXT} NOT NULL
);
CREATE INDEX events_time ON events(time_us);
CREATE INDEX events_parent ON events(parent) WHERE parent IS NOT NULL;
CREATE INDEX events_range ON events(first_node) WHERE first_node IS NOT NULL;
CREATE TABLE incidence (
    node  {I64} NOT NULL REFERENCES nodes(id),
    event {I64} NOT NULL REFERENCES events(id),
    PRIMARY KEY (node, event)
){without_rowid};
CREATE TABLE lifecycle (
    node       {I64} PRIMARY KEY REFERENCES nodes(id),
    state      {I32} NOT NULL DEFAULT 0,
    reason     {TEXT},
    since_us   {I64},
    claim      {I32} NOT NULL DEFAULT 0,
    wrong_pins {I32} NOT NULL DEFAULT 0,
    attempts   {I32} NOT NULL DEFAULT 0,
    claim_us   {I64}
);
CREATE TABLE columns (
    id          {I64} PRIMARY KEY,
    first_event {I64} NOT NULL,
    last_event  {I64} NOT NULL,
    n_events    {I64} NOT NULL,
    n_inc       {I64} NOT NULL,
    events      {BYTES} NOT NULL,
    inc         {BYTES} NOT NULL
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

# PostgreSQL only: id sequences, the store's version row (bumped by every commit that changes
# what the graph reads), packed columns kept out of line, and the id allocator that hands
# out consecutive ids to one writer at a time.
_PG_ONLY_V1 = """
CREATE SEQUENCE parties_seq;
CREATE SEQUENCE nodes_seq;
CREATE SEQUENCE batches_seq;
CREATE SEQUENCE contexts_seq;
CREATE SEQUENCE events_seq;
CREATE SEQUENCE columns_seq;
CREATE TABLE version (
    id integer PRIMARY KEY CHECK (id = 1),
    n  bigint NOT NULL
);
INSERT INTO version VALUES (1, 0);
"""

_PG_ONLY_V1_AFTER = f"""
CREATE INDEX events_kind ON events(kind)
    WHERE kind IN ({int(EventKind.CLAIM)}, {int(EventKind.DECOMMISSION)});
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
"""

# v2: codes that detection found copied (Registry.flag_suspected); verify says SUSPECTED_CLONE.
_V2 = """
CREATE TABLE suspicions (
    node     {I64} PRIMARY KEY REFERENCES nodes(id),
    kind     {TEXT} NOT NULL,
    score    {F64} NOT NULL,
    since_us {I64} NOT NULL,
    evidence {TEXT} NOT NULL
);
"""

# v3: each event's detail code (claim result, decommissioning reason), computed when it is
# written; events stored before are filled in once by the migration (_upgrade.DATA_STEPS).
_V3 = """
ALTER TABLE events ADD COLUMN detail {I16} NOT NULL DEFAULT 0;
"""

# v4: the GS1 identifiers of parties (their PGLN and SGLN locations).
_V4 = """
CREATE TABLE party_glns (
    key   {TEXT} PRIMARY KEY,
    party {I32} NOT NULL REFERENCES parties(id),
    kind  {TEXT} NOT NULL CHECK (kind IN ('pgln', 'sgln'))
);
CREATE INDEX party_glns_party ON party_glns(party);
"""

# v5: no DDL: the packed event rows of the columns table gain each event's record time
# (recorded_us), filled in by the migration's data step.


def _render(dialect: str) -> dict[int, str]:
    slots = _DIALECTS[dialect]
    v1 = (_META + _TABLES_V1).format(**slots)
    if dialect == "postgresql":
        v1 = _PG_ONLY_V1 + v1 + _PG_ONLY_V1_AFTER
    return {1: v1, 2: _V2.format(**slots), 3: _V3.format(**slots), 4: _V4.format(**slots),
            5: ""}


#: SQLite upgrades: MIGRATIONS[v] takes a database at schema v - 1 to v (one transaction).
MIGRATIONS: dict[int, str] = _render("sqlite")
#: PostgreSQL upgrades: PG_MIGRATIONS[v] takes a schema at version v - 1 to v.
PG_MIGRATIONS: dict[int, str] = _render("postgresql")

assert max(MIGRATIONS) == max(PG_MIGRATIONS) == SCHEMA_VERSION
