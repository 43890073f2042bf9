-- 0014: a person's judgment of an article for a story (`newswatch label`). Every judgment
-- is kept (who, when, why): the latest one per (story, article) is the one that counts, the
-- earlier ones are the history. Judgments are facts a person gave, not conclusions: they
-- are never cleared by `rescore`, and the stored decision of a judged article follows them.
CREATE SEQUENCE judgment_seq;
CREATE TABLE judgments (
    judgment_id  BIGINT PRIMARY KEY DEFAULT nextval('judgment_seq'),
    story_id     VARCHAR NOT NULL,
    article_id   VARCHAR NOT NULL,
    label        VARCHAR NOT NULL,      -- relevant, not
    judged_at    TIMESTAMPTZ NOT NULL,
    judged_by    VARCHAR NOT NULL,      -- the person ($USER unless given)
    url          VARCHAR NOT NULL,      -- the URL the person named
    note         VARCHAR
);
CREATE INDEX judgments_story ON judgments (story_id, article_id);
