-- Full-text search over transcripts: the words of each body ('simple': no
-- stemming, so any language matches by word prefix), indexed.
ALTER TABLE messages ADD COLUMN body_words tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED;
CREATE INDEX messages_by_words ON messages USING GIN (body_words);
