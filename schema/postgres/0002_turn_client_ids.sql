-- 0002: caller-chosen turn ids and token counts (Turn.id, Turn.token_count).
-- `id` stays uuid5(conversation_id, turn_index), the key every store agrees on; `client_id` is the id the
-- caller gave the turn, unique per user, returned on reads in place of `id`. `token_count` is the caller's
-- count; NULL means none was given (reads estimate it from the content).
ALTER TABLE conversation_logs ADD COLUMN client_id text CHECK (length(client_id) BETWEEN 1 AND 256);
ALTER TABLE conversation_logs ADD COLUMN token_count integer CHECK (token_count >= 0);
CREATE UNIQUE INDEX conversation_logs_client_id_idx ON conversation_logs (user_id, client_id)
    WHERE client_id IS NOT NULL;
