import { MigrationInterface, QueryRunner } from 'typeorm';

/** Agents, API tokens, JWT revocations and the append-only, hash-chained audit log. */
export class Foundation1764460000000 implements MigrationInterface {
  name = 'Foundation1764460000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE agents (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        display_name text,
        role text NOT NULL DEFAULT 'agent',
        disabled boolean NOT NULL DEFAULT false,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        rate_limits jsonb,
        sessions_revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz,
        CONSTRAINT agents_name_format CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{1,62}$'),
        CONSTRAINT agents_role_valid CHECK (role IN ('admin', 'agent')),
        CONSTRAINT agents_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 128),
        CONSTRAINT agents_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
        -- The API caps metadata at 4 KiB of compact JSON; jsonb's text form adds spaces, hence 8 KiB.
        CONSTRAINT agents_metadata_size CHECK (octet_length(metadata::text) <= 8192),
        CONSTRAINT agents_rate_limits_object CHECK (rate_limits IS NULL OR jsonb_typeof(rate_limits) = 'object')
      )`);
    await db.query(`CREATE UNIQUE INDEX agents_name_key ON agents (name)`);

    await db.query(`
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY,
        agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        name text NOT NULL,
        prefix text NOT NULL,
        token_hash bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        last_used_at timestamptz,
        revoked_at timestamptz,
        CONSTRAINT api_tokens_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
        CONSTRAINT api_tokens_hash_sha256 CHECK (octet_length(token_hash) = 32)
      )`);
    await db.query(`CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash)`);
    await db.query(`CREATE INDEX api_tokens_agent_idx ON api_tokens (agent_id, created_at)`);

    await db.query(`
      CREATE TABLE jwt_revocations (
        jti uuid PRIMARY KEY,
        agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX jwt_revocations_expires_idx ON jwt_revocations (expires_at)`);

    await db.query(`
      CREATE TABLE audit_events (
        id bigint PRIMARY KEY,
        type text NOT NULL,
        agent_id uuid,
        target_type text,
        target_id text,
        ip text,
        request_id text,
        data jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        prev_hash text NOT NULL,
        hash text NOT NULL,
        CONSTRAINT audit_events_type_format CHECK (type ~ '^[a-z][a-z-]{1,62}$'),
        CONSTRAINT audit_events_data_object CHECK (jsonb_typeof(data) = 'object')
      )`);
    // No column default: the chain trigger draws ids from this sequence under its lock.
    await db.query(`CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id`);
    await db.query(`CREATE INDEX audit_events_created_idx ON audit_events (created_at)`);
    await db.query(`CREATE INDEX audit_events_type_idx ON audit_events (type, id)`);
    await db.query(`CREATE INDEX audit_events_agent_idx ON audit_events (agent_id, id)`);

    // The digest of one row, chained to the previous row's hash. Used by the insert trigger and by
    // `npm run audit:verify`, so both compute exactly the same thing.
    await db.query(`
      CREATE FUNCTION audit_event_digest(prev text, e audit_events) RETURNS text
      LANGUAGE sql STABLE AS $$
        SELECT encode(sha256(convert_to(concat_ws(chr(31),
          prev, e.id::text, e.type, coalesce(e.agent_id::text, ''), coalesce(e.target_type, ''),
          coalesce(e.target_id, ''), coalesce(e.ip, ''), coalesce(e.request_id, ''), e.data::text,
          to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        ), 'UTF8')), 'hex')
      $$`);
    // Inserts are serialised by a transaction-scoped advisory lock, and the id is drawn under that
    // lock, so id order is chain order even with concurrent writers.
    await db.query(`
      CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE previous text;
      BEGIN
        PERFORM pg_advisory_xact_lock(7261626564);
        NEW.id := nextval('audit_events_id_seq');
        SELECT hash INTO previous FROM audit_events ORDER BY id DESC LIMIT 1;
        NEW.prev_hash := coalesce(previous, repeat('0', 64));
        NEW.hash := audit_event_digest(NEW.prev_hash, NEW);
        RETURN NEW;
      END $$`);
    await db.query(`
      CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_chain()`);
    await db.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await db.query(`
      CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
    await db.query(`
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION audit_event_digest(text, audit_events)`);
    await db.query(`DROP TABLE audit_events`);
    await db.query(`DROP FUNCTION audit_events_append_only()`);
    await db.query(`DROP FUNCTION audit_events_chain()`);
    await db.query(`DROP TABLE jwt_revocations`);
    await db.query(`DROP TABLE api_tokens`);
    await db.query(`DROP TABLE agents`);
  }
}
