-- A broadcast's receipt as facts (JSON of ReceiptFacts), so that each reader
-- words it in their language; the body keeps the English wording.
ALTER TABLE messages ADD COLUMN receipt TEXT;
