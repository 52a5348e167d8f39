import { MigrationInterface, QueryRunner } from 'typeorm';

/** Rooms, membership and messages with a per-room gapless `seq`. */
export class Messaging1764460100000 implements MigrationInterface {
  name = 'Messaging1764460100000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE rooms (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        topic text,
        visibility text NOT NULL,
        kind text NOT NULL DEFAULT 'group',
        direct_key text,
        created_by uuid REFERENCES agents (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        archived_at timestamptz,
        last_seq bigint NOT NULL DEFAULT 0,
        CONSTRAINT rooms_name_format CHECK (name ~ '^[a-z0-9][a-z0-9_-]{1,79}$'),
        CONSTRAINT rooms_topic_length CHECK (char_length(topic) <= 1000),
        CONSTRAINT rooms_visibility_valid CHECK (visibility IN ('public', 'private')),
        CONSTRAINT rooms_kind_valid CHECK (kind IN ('group', 'direct')),
        CONSTRAINT rooms_direct_is_private CHECK (kind = 'group' OR visibility = 'private'),
        CONSTRAINT rooms_direct_key_iff_direct CHECK ((kind = 'direct') = (direct_key IS NOT NULL)),
        CONSTRAINT rooms_last_seq_nonnegative CHECK (last_seq >= 0)
      )`);
    await db.query(`CREATE UNIQUE INDEX rooms_name_key ON rooms (name)`);
    await db.query(
      `CREATE UNIQUE INDEX rooms_direct_key_key ON rooms (direct_key) WHERE direct_key IS NOT NULL`,
    );

    await db.query(`
      CREATE TABLE room_members (
        room_id uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
        role text NOT NULL DEFAULT 'member',
        joined_at timestamptz NOT NULL DEFAULT now(),
        last_read_seq bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (room_id, agent_id),
        CONSTRAINT room_members_role_valid CHECK (role IN ('owner', 'member'))
      )`);
    await db.query(`CREATE INDEX room_members_agent_idx ON room_members (agent_id)`);

    await db.query(`
      CREATE TABLE messages (
        id uuid PRIMARY KEY,
        room_id uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        sender_id uuid NOT NULL REFERENCES agents (id),
        body text NOT NULL,
        data jsonb,
        reply_to uuid,
        client_msg_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT messages_room_seq_key UNIQUE (room_id, seq),
        CONSTRAINT messages_room_id_key UNIQUE (room_id, id),
        CONSTRAINT messages_reply_same_room FOREIGN KEY (room_id, reply_to)
          REFERENCES messages (room_id, id),
        CONSTRAINT messages_seq_positive CHECK (seq > 0),
        CONSTRAINT messages_body_size CHECK (octet_length(body) BETWEEN 1 AND 1048576),
        CONSTRAINT messages_data_object CHECK (data IS NULL OR jsonb_typeof(data) = 'object'),
        CONSTRAINT messages_client_msg_id_length CHECK (char_length(client_msg_id) BETWEEN 1 AND 64)
      )`);
    await db.query(`
      CREATE UNIQUE INDEX messages_sender_client_msg_id_key ON messages (sender_id, client_msg_id)
      WHERE client_msg_id IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE messages`);
    await db.query(`DROP TABLE room_members`);
    await db.query(`DROP TABLE rooms`);
  }
}
