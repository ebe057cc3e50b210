------------------------------------------------------------------------------
-- Periods: how a named period becomes a range of dates, for the VAT return
-- (billy._vat_period), the statements (billy._ledger_period) and analytics
-- (billy._analytics_period).  One parser of the fixed periods (a month, a
-- quarter, a half-year, a year, a range of dates; Billy's spellings too);
-- what is relative (a fiscal year, "month" to date) stays with its caller,
-- as does the error it raises.
------------------------------------------------------------------------------

-- _vat_period_of names the period a date range is, when it is a standard one
CREATE FUNCTION billy._vat_period_of(from_date date, to_date date, OUT key text, OUT period_type text)
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
           WHEN extract(day FROM from_date) <> 1 OR to_date <> (from_date + s.len)::date - 1 THEN
               to_char(from_date, 'YYYY-MM-DD') || '..' || to_char(to_date, 'YYYY-MM-DD')
           WHEN s.t = 'month' THEN to_char(from_date, 'YYYY-MM')
           WHEN s.t = 'quarter' THEN to_char(from_date, 'YYYY') || '-Q' || ((extract(month FROM from_date)::integer + 2) / 3)
           WHEN s.t = 'half-year' THEN to_char(from_date, 'YYYY') || '-H' || ((extract(month FROM from_date)::integer + 5) / 6)
           ELSE to_char(from_date, 'YYYY') END,
       CASE WHEN extract(day FROM from_date) <> 1 OR to_date <> (from_date + s.len)::date - 1 THEN 'custom'
            ELSE s.t END
FROM (SELECT CASE
                 WHEN to_date = (from_date + interval '1 month')::date - 1 THEN 'month'
                 WHEN to_date = (from_date + interval '3 months')::date - 1
                      AND extract(month FROM from_date)::integer % 3 = 1 THEN 'quarter'
                 WHEN to_date = (from_date + interval '6 months')::date - 1
                      AND extract(month FROM from_date)::integer % 6 = 1 THEN 'half-year'
                 WHEN to_date = (from_date + interval '1 year')::date - 1
                      AND extract(month FROM from_date) = 1 THEN 'year'
                 ELSE 'custom' END AS t,
             CASE
                 WHEN to_date = (from_date + interval '1 month')::date - 1 THEN interval '1 month'
                 WHEN to_date = (from_date + interval '3 months')::date - 1
                      AND extract(month FROM from_date)::integer % 3 = 1 THEN interval '3 months'
                 WHEN to_date = (from_date + interval '6 months')::date - 1
                      AND extract(month FROM from_date)::integer % 6 = 1 THEN interval '6 months'
                 WHEN to_date = (from_date + interval '1 year')::date - 1
                      AND extract(month FROM from_date) = 1 THEN interval '1 year'
                 ELSE interval '0' END AS len) s
$$;
COMMENT ON FUNCTION billy._vat_period_of(date, date) IS 'The canonical key and type of a date range: a month, quarter, half-year or year when it is exactly one, else custom. Internal.';

-- _period parses a fixed period: 2025-Q1 (2025q1, quarter:2025-1), 2025-H2
-- (halfYear:2025-2), 2025-03 (month:2025-03), 2025 (year:2025), or a range
-- 2025-01-01..2025-03-31 (or A/B).  It raises nothing: key is NULL when the
-- text is none of these (a range that ends before it starts has its dates
-- and period_type 'reversed').  ranged: written as a range of dates (whose
-- key still names the standard period it may be).
CREATE FUNCTION billy._period(period text, OUT key text, OUT period_type text,
                              OUT start_date date, OUT end_date date, OUT ranged boolean)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p text := lower(btrim(coalesce(period, '')));
    m text[];
    y integer;
    n integer;
BEGIN
    ranged := false;
    -- Billy's spellings first: quarter:2025-1, halfYear:2025-2, month:2025-03, year:2025
    p := regexp_replace(p, '^quarter:(\d{4})-([1-4])$', '\1-q\2');
    p := regexp_replace(p, '^halfyear:(\d{4})-([12])$', '\1-h\2');
    p := regexp_replace(p, '^(month|year):', '');
    m := regexp_match(p, '^(\d{4})-?q([1-4])$');
    IF m IS NOT NULL THEN
        y := m[1]::integer; n := m[2]::integer;
        period_type := 'quarter';
        start_date := make_date(y, 3 * n - 2, 1);
        end_date := (start_date + interval '3 months')::date - 1;
        key := format('%s-Q%s', y, n);
    END IF;
    m := regexp_match(p, '^(\d{4})-?h([12])$');
    IF m IS NOT NULL THEN
        y := m[1]::integer; n := m[2]::integer;
        period_type := 'half-year';
        start_date := make_date(y, 6 * n - 5, 1);
        end_date := (start_date + interval '6 months')::date - 1;
        key := format('%s-H%s', y, n);
    END IF;
    m := regexp_match(p, '^(\d{4})-(\d{2})$');
    IF m IS NOT NULL AND m[2]::integer BETWEEN 1 AND 12 THEN
        y := m[1]::integer; n := m[2]::integer;
        period_type := 'month';
        start_date := make_date(y, n, 1);
        end_date := (start_date + interval '1 month')::date - 1;
        key := to_char(start_date, 'YYYY-MM');
    END IF;
    m := regexp_match(p, '^(\d{4})$');
    IF m IS NOT NULL THEN
        y := m[1]::integer;
        period_type := 'year';
        start_date := make_date(y, 1, 1);
        end_date := make_date(y, 12, 31);
        key := y::text;
    END IF;
    m := regexp_match(p, '^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/)\s*(\d{4}-\d{2}-\d{2})$');
    IF m IS NOT NULL THEN
        ranged := true;
        start_date := m[1]::date;
        end_date := m[2]::date;
        IF end_date >= start_date THEN
            SELECT r.key, r.period_type INTO key, period_type
            FROM billy._vat_period_of(start_date, end_date) r;
        ELSE
            period_type := 'reversed';
        END IF;
    END IF;
EXCEPTION
    WHEN datetime_field_overflow OR invalid_datetime_format THEN
        key := NULL; period_type := NULL; start_date := NULL; end_date := NULL;
END
$$;
COMMENT ON FUNCTION billy._period(text) IS
'Parses a fixed period (a month, quarter, half-year, year or range of dates, in billy''s and Billy''s spellings) into its canonical key, type (month, quarter, half-year, year, custom; reversed for a range that ends before it starts, with no key) and dates, and whether it was written as a range; NULL key for anything else, never an error. Shared by the VAT return, the statements and analytics. Internal.';

GRANT EXECUTE ON FUNCTION billy._vat_period_of(date, date), billy._period(text) TO billy_reader;
