"""The board's tables in PostgreSQL, and the server-side rules that guard them.

`sb_events` holds the journal: one row per event, `line` being exactly the journal line
(`encode_event`), so the `prev` chain, the ids and the seqs are the file journal's and a
migration both ways keeps every byte. `sb_head` is one row: the last seq, its line hash,
and the highest fencing token granted. Every append locks that row first (`FOR UPDATE`),
so appends are serial in the server, never in a client lock, and readers never wait.

A trigger checks each new row against the head (seq = head + 1, prev = head hash, a
granted fence above the counter), moves the head, and notifies listeners; another refuses
updates, deletes and truncation. So even a client that skips the board code cannot break
the chain or rewind a fence; someone who bypasses triggers (a superuser) is caught by
`validate`, which re-hashes every line.
"""

from __future__ import annotations

__all__ = ["CHANNEL", "SCHEMA", "SCHEMA_VERSION"]

SCHEMA_VERSION = "1"
CHANNEL = "sprintboard_events"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sb_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO sb_meta VALUES ('board_id', gen_random_uuid()::text) ON CONFLICT DO NOTHING;
INSERT INTO sb_meta VALUES ('schema', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS sb_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL,
    hash text,
    fence bigint NOT NULL
);
INSERT INTO sb_head VALUES (true, 0, NULL, 0) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS sb_events (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    id text NOT NULL UNIQUE,
    line text NOT NULL,
    hash text NOT NULL,
    prev text,
    grant_fence bigint
);

CREATE TABLE IF NOT EXISTS sb_leases (
    name text PRIMARY KEY,
    holder text NOT NULL,
    expires timestamptz NOT NULL,
    token bigint NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS sb_lease_tokens;

CREATE OR REPLACE FUNCTION sb_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    h sb_head%ROWTYPE;
BEGIN
    SELECT * INTO h FROM sb_head FOR UPDATE;
    IF NEW.seq <> h.seq + 1 OR NEW.prev IS DISTINCT FROM h.hash THEN
        RAISE EXCEPTION 'event % does not follow the head (seq %, hash %)',
            NEW.seq, h.seq, h.hash USING ERRCODE = 'P0001';
    END IF;
    IF NEW.grant_fence IS NOT NULL AND NEW.grant_fence <= h.fence THEN
        RAISE EXCEPTION 'fencing token % is not above %', NEW.grant_fence, h.fence
            USING ERRCODE = 'P0001';
    END IF;
    UPDATE sb_head SET seq = NEW.seq, hash = NEW.hash,
        fence = GREATEST(h.fence, COALESCE(NEW.grant_fence, 0));
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION sb_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sb_events is append-only (% refused)', TG_OP USING ERRCODE = 'P0001';
END $$;

DROP TRIGGER IF EXISTS sb_chain ON sb_events;
CREATE TRIGGER sb_chain BEFORE INSERT ON sb_events FOR EACH ROW EXECUTE FUNCTION sb_chain();
DROP TRIGGER IF EXISTS sb_append_only ON sb_events;
CREATE TRIGGER sb_append_only BEFORE UPDATE OR DELETE ON sb_events
    FOR EACH ROW EXECUTE FUNCTION sb_append_only();
DROP TRIGGER IF EXISTS sb_no_truncate ON sb_events;
CREATE TRIGGER sb_no_truncate BEFORE TRUNCATE ON sb_events
    FOR EACH STATEMENT EXECUTE FUNCTION sb_append_only();
"""
