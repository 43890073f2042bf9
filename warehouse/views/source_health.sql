-- One row per configured source: when it last worked, its last error and how many polls
-- in a row have failed.
CREATE OR REPLACE VIEW source_health AS
SELECT
    s.source_id,
    s.kind,
    s.url,
    s.last_success_at,
    s.last_error_at,
    s.last_error_kind,
    s.last_error,
    s.consecutive_failures,
    s.next_check_at,
    CASE
        WHEN s.last_attempt_at IS NULL THEN 'never polled'
        WHEN s.consecutive_failures = 0 THEN 'ok'
        WHEN s.last_success_at IS NULL THEN 'failing (never succeeded)'
        ELSE 'failing'
    END AS state
FROM sources s
WHERE s.active
ORDER BY s.consecutive_failures DESC, s.source_id;
