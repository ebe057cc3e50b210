------------------------------------------------------------------------------
-- The Danish VAT return (momsangivelse), computed from the mirror
--
-- Vocabulary:
--   a field      is one box of the return: the four VAT fields (salgsmoms,
--                moms af varekøb / ydelseskøb i udlandet, købsmoms), the six
--                energy-duty fields and the rubrikker A, B and C (values);
--   a treatment  is what a Billy tax rate means for the return (domestic
--                sale 25%, EU goods sale, reverse-charge purchase, ...);
--                billy.vat_rate_map says which rate has which treatment;
--   a period     is a month (2025-03), a quarter (2025-Q1), a half-year
--                (2025-H2), a year (2025) or any from..to range;
--   a filing     is an immutable snapshot of a computed return
--                (billy.vat_filings); filing again after changes makes a
--                correction (correction_no + 1).
--
-- Rules (spec: shared/spec/moms.md): approved documents only (no drafts,
-- voided or deleted ones), by entry date; credit notes subtract in their
-- own period; amounts in the document's currency are converted to the base
-- currency with its exchange rate line by line, rounded to øre; a line's VAT
-- is Billy's stored VAT, except on reverse-charge purchases, where the
-- buyer computes it (rate × net, per line, rounded to øre); the deductible
-- part of a purchase's VAT is rounded to øre per line.  Each field is exact
-- in øre and reported in whole kroner truncated toward zero (ML § 57); the
-- reported momstilsvar is the arithmetic of the reported fields.
--
-- In this file: the reference tables (EU countries, the form's fields, the
-- treatments, the predefined mapping of Billy's rates); periods, deadlines
-- and holidays; the line table billy._vat_facts, kept current by triggers on
-- the mirror so that a period is an index range scan, and the placement
-- rules (billy._vat_routes) that billy.vat_lines and billy.vat_return share;
-- the return and its drill-down; mapping rates and entering adjustments;
-- filings; checks; privileges.
------------------------------------------------------------------------------

-- The EU member states (VAT area), by ISO country code; Greece also as EL,
-- its VAT prefix.  Denmark is a member: "another EU country" is EU and not DK.
CREATE TABLE billy.eu_countries (
    country_id text PRIMARY KEY,
    name       text NOT NULL,
    vat_prefix text NOT NULL
);
COMMENT ON TABLE billy.eu_countries IS
'The EU member states by ISO country code (Greece also as EL), with their VAT-number prefixes. The VAT return uses it to tell EU from non-EU contacts (billy.contacts.country_id). Members since 1 February 2020 (the United Kingdom is not one); edit it when membership changes.';
INSERT INTO billy.eu_countries (country_id, name, vat_prefix) VALUES
    ('AT', 'Austria', 'ATU'), ('BE', 'Belgium', 'BE'), ('BG', 'Bulgaria', 'BG'),
    ('CY', 'Cyprus', 'CY'), ('CZ', 'Czechia', 'CZ'), ('DE', 'Germany', 'DE'),
    ('DK', 'Denmark', 'DK'), ('EE', 'Estonia', 'EE'), ('EL', 'Greece', 'EL'),
    ('ES', 'Spain', 'ES'), ('FI', 'Finland', 'FI'), ('FR', 'France', 'FR'),
    ('GR', 'Greece', 'EL'), ('HR', 'Croatia', 'HR'), ('HU', 'Hungary', 'HU'),
    ('IE', 'Ireland', 'IE'), ('IT', 'Italy', 'IT'), ('LT', 'Lithuania', 'LT'),
    ('LU', 'Luxembourg', 'LU'), ('LV', 'Latvia', 'LV'), ('MT', 'Malta', 'MT'),
    ('NL', 'Netherlands', 'NL'), ('PL', 'Poland', 'PL'), ('PT', 'Portugal', 'PT'),
    ('RO', 'Romania', 'RO'), ('SE', 'Sweden', 'SE'), ('SI', 'Slovenia', 'SI'),
    ('SK', 'Slovakia', 'SK');

-- The fields of the return, in the order of the form.
CREATE TABLE billy.vat_fields (
    field    text PRIMARY KEY,
    field_no integer NOT NULL UNIQUE,
    label    text NOT NULL,
    kind     text NOT NULL CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['vat', 'duty', 'value'])),
    sign     integer NOT NULL CHECK (sign OPERATOR(pg_catalog.=) ANY (ARRAY[-1, 0, 1])),
    content  text NOT NULL
);
COMMENT ON TABLE billy.vat_fields IS
'The fields of the Danish VAT return (momsangivelse) in the order of the form: the name billy uses (columns <field>_exact and <field>_reported of billy.vat_return, field of billy.vat_return_lines), the TastSelv label, kind (vat amount, energy duty, or value box), sign in the momstilsvar (+1 payable, -1 deductible, 0 information only) and what goes in.';
INSERT INTO billy.vat_fields (field, field_no, label, kind, sign, content) VALUES
    ('salgsmoms', 1, 'Salgsmoms (udgående moms)', 'vat', 1,
     'Output VAT on sales (the VAT stored on invoice lines, net of credit notes); the buyer''s VAT under domestic reverse charge.'),
    ('moms_varekoeb_udland', 2, 'Moms af varekøb i udlandet (både EU og lande uden for EU)', 'vat', 1,
     '25% of goods bought from other EU countries (reverse charge); import VAT on non-EU goods (billy.vat_adjustments).'),
    ('moms_ydelseskoeb_udland', 3, 'Moms af ydelseskøb i udlandet med omvendt betalingspligt', 'vat', 1,
     '25% of services bought from abroad, EU and non-EU, under reverse charge.'),
    ('koebsmoms', 4, 'Købsmoms (indgående moms)', 'vat', -1,
     'Deductible input VAT: the deductible part of the VAT on bills, including the reverse-charge VAT of fields 2 and 3.'),
    ('olie_flaskegasafgift', 5, 'Olie- og flaskegasafgift', 'duty', -1, 'Refund of oil and bottled-gas duty (billy.vat_adjustments).'),
    ('elafgift', 6, 'Elafgift', 'duty', -1, 'Refund of electricity duty (billy.vat_adjustments).'),
    ('naturgas_bygasafgift', 7, 'Naturgas- og bygasafgift', 'duty', -1, 'Refund of natural-gas and town-gas duty (billy.vat_adjustments).'),
    ('kulafgift', 8, 'Kulafgift', 'duty', -1, 'Refund of coal duty (billy.vat_adjustments).'),
    ('co2afgift', 9, 'CO2-afgift', 'duty', -1, 'Refund of CO2 duty (billy.vat_adjustments).'),
    ('vandafgift', 10, 'Vandafgift', 'duty', -1, 'Refund of water duty (billy.vat_adjustments).'),
    ('rubrik_a_varer', 11, 'Rubrik A - varer', 'value', 0,
     'Value excl. VAT of goods bought from other EU countries.'),
    ('rubrik_a_ydelser', 12, 'Rubrik A - ydelser', 'value', 0,
     'Value excl. VAT of services bought from other EU countries under reverse charge (not from outside the EU).'),
    ('rubrik_b_varer_eu_salg', 13, 'Rubrik B - varer (indberettes til EU-salg uden moms)', 'value', 0,
     'Value of goods sold VAT-free to VAT-registered buyers in other EU countries.'),
    ('rubrik_b_varer_ikke_eu_salg', 14, 'Rubrik B - varer (indberettes ikke til EU-salg uden moms)', 'value', 0,
     'EU goods supplies not on the EU-sales list (installation abroad, distance sales registered abroad, new means of transport).'),
    ('rubrik_b_ydelser', 15, 'Rubrik B - ydelser', 'value', 0,
     'Value of services sold to buyers in other EU countries who pay the VAT (reverse charge).'),
    ('rubrik_c', 16, 'Rubrik C - Andre varer og ydelser, der leveres uden afgift', 'value', 0,
     'Other supplies without Danish VAT: exports outside the EU, supply abroad, domestic reverse charge sales. Not exempt (ML § 13) sales.');

-- The treatments a tax rate can have, and what each puts on the return.
CREATE TABLE billy.vat_treatments (
    treatment         text PRIMARY KEY,
    side              text NOT NULL CHECK (side OPERATOR(pg_catalog.=) ANY (ARRAY['sales', 'purchases', 'both'])),
    reverse_charge    boolean NOT NULL DEFAULT false,
    default_deduction numeric CHECK (default_deduction OPERATOR(pg_catalog.>=) 0 AND default_deduction OPERATOR(pg_catalog.<=) 1),
    description       text NOT NULL
);
COMMENT ON TABLE billy.vat_treatments IS
'What a tax rate can mean for the VAT return, and what a line with that treatment contributes. side: whether it applies to invoice lines (sales), bill lines (purchases) or both. On every invoice line the stored VAT goes to salgsmoms; reverse_charge: the buyer computes the VAT (the rate, 25% when the rate is 0, of the net). default_deduction: the deductible share of a purchase''s VAT unless billy.vat_rate_map says otherwise.';
INSERT INTO billy.vat_treatments (treatment, side, reverse_charge, default_deduction, description) VALUES
    ('sale_domestic', 'sales', false, NULL,
     'Sale with Danish VAT: the stored VAT goes to salgsmoms; no value box.'),
    ('sale_eu_goods', 'sales', false, NULL,
     'Goods sold VAT-free to a VAT-registered buyer in another EU country: the net goes to rubrik B varer (EU-salg); to a buyer outside the EU, rubrik C.'),
    ('sale_eu_goods_unlisted', 'sales', false, NULL,
     'EU goods supply not reported to EU-salg uden moms (installation abroad, distance sales registered abroad): the net goes to rubrik B varer (ikke EU-salg); to a buyer outside the EU, rubrik C.'),
    ('sale_eu_services', 'sales', false, NULL,
     'Services sold to a business in another EU country that pays the VAT (reverse charge): the net goes to rubrik B ydelser; to a buyer outside the EU, rubrik C.'),
    ('sale_abroad', 'sales', false, NULL,
     'Export outside the EU or another supply without Danish VAT (ML §§ 14-21 d, 34): the net goes to rubrik C.'),
    ('sale_domestic_reverse_charge', 'sales', false, NULL,
     'Domestic reverse-charge sale (ML § 46 stk. 1 nr. 7-11: scrap, mobile phones, ...): the net goes to rubrik C; the buyer pays the VAT.'),
    ('sale_exempt', 'sales', false, NULL,
     'Sale exempt from VAT (ML § 13): on no field.'),
    ('purchase_domestic', 'purchases', false, 1,
     'Danish purchase with VAT: the deductible share of the stored VAT goes to købsmoms.'),
    ('purchase_restaurant', 'purchases', false, 0.25,
     'Restaurant and hotel meals (ML § 42 stk. 2): 25% of the stored VAT goes to købsmoms.'),
    ('purchase_no_deduction', 'purchases', false, 0,
     'Purchase whose VAT is not deductible (representation, passenger cars, ...): on no field.'),
    ('purchase_eu_goods', 'purchases', true, 1,
     'Goods bought from another EU country (reverse charge): the computed VAT goes to moms af varekøb i udlandet and its deductible share to købsmoms; the net goes to rubrik A varer (supplier in the EU).'),
    ('purchase_eu_services', 'purchases', true, 1,
     'Services bought from another EU country (reverse charge): the computed VAT goes to moms af ydelseskøb i udlandet and its deductible share to købsmoms; the net goes to rubrik A ydelser when the supplier''s country is in the EU.'),
    ('purchase_non_eu_services', 'purchases', true, 1,
     'Services bought from outside the EU (reverse charge): the computed VAT goes to moms af ydelseskøb i udlandet and its deductible share to købsmoms; no rubrik A unless the supplier''s country is in the EU.'),
    ('purchase_domestic_reverse_charge', 'purchases', true, 1,
     'Domestic reverse-charge purchase (ML § 46 stk. 1 nr. 7-11): the computed VAT goes to salgsmoms and its deductible share to købsmoms.'),
    ('none', 'both', false, 0,
     'No VAT (outside the VAT system: wages, fees, transfers): on no field.');

-- The predefined mapping, by the abbreviation (else the name) of a tax rate.
CREATE TABLE billy.vat_rate_seeds (
    abbreviation text,
    name         text,
    treatment    text NOT NULL REFERENCES billy.vat_treatments (treatment),
    deduction    numeric CHECK (deduction OPERATOR(pg_catalog.>=) 0 AND deduction OPERATOR(pg_catalog.<=) 1),
    note         text,
    CHECK (abbreviation IS NOT NULL OR name IS NOT NULL)
);
CREATE UNIQUE INDEX vat_rate_seeds_abbreviation ON billy.vat_rate_seeds (pg_catalog.lower(abbreviation));
CREATE UNIQUE INDEX vat_rate_seeds_name ON billy.vat_rate_seeds (pg_catalog.lower(name));
COMMENT ON TABLE billy.vat_rate_seeds IS
'The treatment of Billy''s predefined Danish tax rates, matched by abbreviation (case-insensitive), else by name: the mapping every organization starts from (billy.vat_rate_map). These are billy-sandbox''s abbreviations and our understanding of Billy''s conventions: on reverse-charge purchase rates Billy stores no VAT on the line (the buyer self-assesses), on the restaurant rate it stores the full VAT of which 25% is deductible. Override per organization and rate with billy.vat_map_rate.';
INSERT INTO billy.vat_rate_seeds (abbreviation, name, treatment, deduction, note) VALUES
    ('S25', 'Salgsmoms 25%', 'sale_domestic', NULL, 'Danish sale, 25%'),
    ('EUV', 'EU-salg af varer (0%)', 'sale_eu_goods', NULL, 'EU B2B goods sale, 0%, rubrik B varer'),
    ('EUY', 'EU-salg af ydelser (0%)', 'sale_eu_services', NULL, 'EU B2B service sale, 0%, rubrik B ydelser'),
    ('EKS', 'Eksport uden for EU (0%)', 'sale_abroad', NULL, 'export outside the EU, rubrik C'),
    ('FRI', 'Momsfritaget salg', 'sale_exempt', NULL, 'exempt sale (ML § 13), no box'),
    ('K25', 'Købsmoms 25%', 'purchase_domestic', 1, 'Danish purchase, full deduction'),
    ('UV25', 'Udlandsmoms varer (EU) 25%', 'purchase_eu_goods', 1, 'EU goods purchase, reverse charge'),
    ('UY25', 'Udlandsmoms ydelser (EU) 25%', 'purchase_eu_services', 1, 'EU service purchase, reverse charge'),
    ('UYX25', 'Udlandsmoms ydelser (uden for EU) 25%', 'purchase_non_eu_services', 1, 'non-EU service purchase, reverse charge'),
    ('REP25', 'Restaurant 25% (25% fradrag)', 'purchase_restaurant', 0.25, 'restaurant: 25% of the VAT deductible'),
    ('INGEN', 'Ingen moms', 'none', NULL, 'no VAT');

-- Per organization and tax rate: what the user decided.
CREATE TABLE billy.vat_rate_overrides (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    tax_rate_id     text NOT NULL,
    treatment       text NOT NULL REFERENCES billy.vat_treatments (treatment),
    deduction       numeric CHECK (deduction OPERATOR(pg_catalog.>=) 0 AND deduction OPERATOR(pg_catalog.<=) 1),
    note            text,
    set_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    set_by          name NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (organization_id, tax_rate_id)
);
COMMENT ON TABLE billy.vat_rate_overrides IS
'An organization''s own treatment of a tax rate, set with billy.vat_map_rate; wins over billy.vat_rate_seeds. deduction NULL: the treatment''s default.';

CREATE VIEW billy.vat_rate_map WITH (security_invoker = true) AS
SELECT t.organization_id, t.id AS tax_rate_id, t.abbreviation, t.name, t.rate,
       t.applies_to_sales, t.applies_to_purchases,
       COALESCE(o.treatment, sa.treatment, sn.treatment) AS treatment,
       COALESCE(CASE WHEN o.treatment IS NOT NULL THEN o.deduction END,
                CASE WHEN o.treatment IS NULL THEN COALESCE(sa.deduction, sn.deduction) END,
                tr.default_deduction) AS deduction,
       tr.side, tr.reverse_charge,
       CASE WHEN o.treatment IS NOT NULL THEN 'organization'
            WHEN sa.treatment IS NOT NULL THEN 'seed (abbreviation)'
            WHEN sn.treatment IS NOT NULL THEN 'seed (name)' END AS mapped_by,
       COALESCE(o.note, sa.note, sn.note) AS note,
       t.deleted_at IS NOT NULL AS deleted
FROM billy.tax_rates t
LEFT JOIN billy.vat_rate_overrides o
       ON o.organization_id OPERATOR(pg_catalog.=) t.organization_id AND o.tax_rate_id OPERATOR(pg_catalog.=) t.id
LEFT JOIN billy.vat_rate_seeds sa
       ON pg_catalog.lower(sa.abbreviation) OPERATOR(pg_catalog.=) pg_catalog.lower(t.abbreviation)
LEFT JOIN billy.vat_rate_seeds sn
       ON sa.treatment IS NULL AND pg_catalog.lower(sn.name) OPERATOR(pg_catalog.=) pg_catalog.lower(t.name)
LEFT JOIN billy.vat_treatments tr
       ON tr.treatment OPERATOR(pg_catalog.=) COALESCE(o.treatment, sa.treatment, sn.treatment);
COMMENT ON VIEW billy.vat_rate_map IS
'Each Billy tax rate of each organization with its VAT treatment (billy.vat_treatments) and deductible share: the organization''s override (billy.vat_map_rate) if any, else the predefined mapping by abbreviation or name (billy.vat_rate_seeds). treatment NULL: unmapped; lines with that rate are flagged on the return (unmapped_lines) and by billy.vat_check, never silently dropped.';

-- What the user fills per period: energy-duty refunds and manual amounts.
CREATE TABLE billy.vat_adjustments (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    field           text NOT NULL REFERENCES billy.vat_fields (field),
    amount          numeric(14, 2) NOT NULL,
    note            text,
    set_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    set_by          name NOT NULL DEFAULT CURRENT_USER,
    PRIMARY KEY (organization_id, start_date, end_date, field),
    CHECK (end_date OPERATOR(pg_catalog.>=) start_date)
);
COMMENT ON TABLE billy.vat_adjustments IS
'Amounts the books in Billy do not hold, per organization, period and field (set with billy.vat_set_adjustment): the six energy-duty refunds (computed per kWh or m³, entered as positive amounts that the momstilsvar subtracts), import VAT on non-EU goods from Skattestyrelsen''s importspecifikation (moms_varekoeb_udland) and its deductible part (koebsmoms), or any other manual amount. A return includes the adjustments whose period lies within its own.';

------------------------------------------------------------------------------
-- Periods, deadlines, holidays, small helpers
------------------------------------------------------------------------------

CREATE FUNCTION billy._easter_sunday(year integer) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- the anonymous Gregorian algorithm (Meeus/Jones/Butcher)
    a integer := year % 19;
    b integer := year / 100;
    c integer := year % 100;
    d integer := b / 4;
    e integer := b % 4;
    f integer := (b + 8) / 25;
    g integer := (b - f + 1) / 3;
    h integer := (19 * a + b - d - g + 15) % 30;
    i integer := c / 4;
    k integer := c % 4;
    l integer := (32 + 2 * e + 2 * i - h - k) % 7;
    m integer := (a + 11 * h + 22 * l) / 451;
BEGIN
    RETURN make_date(year, (h + l - 7 * m + 114) / 31, (h + l - 7 * m + 114) % 31 + 1);
END
$$;
COMMENT ON FUNCTION billy._easter_sunday(integer) IS 'Easter Sunday of a Gregorian year (anonymous Gregorian algorithm). Internal.';

CREATE FUNCTION billy.danish_holidays(year integer) RETURNS SETOF date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    easter date;
BEGIN
    IF year < 1700 OR year > 9999 THEN
        RAISE EXCEPTION 'year % is out of range', year
            USING ERRCODE = '22023', HINT = 'Pass a year from 1700 to 9999.';
    END IF;
    easter := billy._easter_sunday(year);
    RETURN QUERY
    SELECT d FROM unnest(ARRAY[
        make_date(year, 1, 1),      -- nytårsdag
        easter - 3,                 -- skærtorsdag
        easter - 2,                 -- langfredag
        easter,                     -- påskedag
        easter + 1,                 -- 2. påskedag
        CASE WHEN year <= 2023 THEN easter + 26 END,   -- store bededag (abolished from 2024)
        easter + 39,                -- kristi himmelfartsdag
        easter + 49,                -- pinsedag
        easter + 50,                -- 2. pinsedag
        make_date(year, 6, 5),      -- grundlovsdag (bank closing day)
        make_date(year, 12, 24),    -- juleaftensdag (bank closing day)
        make_date(year, 12, 25),    -- juledag
        make_date(year, 12, 26),    -- 2. juledag
        make_date(year, 12, 31)     -- nytårsaftensdag (bank closing day)
    ]) AS d
    WHERE d IS NOT NULL
    ORDER BY d;
END
$$;
COMMENT ON FUNCTION billy.danish_holidays(integer) IS
'The Danish public holidays of a year, with the Easter-based ones computed (skærtorsdag, langfredag, påske, 2. påskedag, store bededag until 2023, kristi himmelfart, pinse, 2. pinsedag), plus the bank closing days grundlovsdag (5 June), 24 and 31 December: the days on which a VAT deadline moves to the next weekday. Returns the dates in order.';

CREATE FUNCTION billy._next_business_day(d date) RETURNS date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result date := d;
BEGIN
    WHILE extract(isodow FROM result) >= 6
          OR result IN (SELECT h FROM billy.danish_holidays(extract(year FROM result)::integer) h) LOOP
        result := result + 1;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._next_business_day(date) IS 'The day itself when it is a Danish weekday and not a holiday or bank closing day, else the next such day. Internal.';

-- _vat_period: a VAT period (billy._period), or the error that names it
CREATE FUNCTION billy._vat_period(period text, OUT key text, OUT period_type text,
                                  OUT start_date date, OUT end_date date)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT p.key, p.period_type, p.start_date, p.end_date INTO key, period_type, start_date, end_date
    FROM billy._period(period) p;
    IF key IS NULL OR start_date < '1700-01-01' THEN
        RAISE EXCEPTION 'invalid VAT period "%"', period
            USING ERRCODE = '22023',
                  DETAIL = 'A period is a quarter, a half-year, a month, a year, or a range of dates.',
                  HINT = 'Write 2025-Q1, 2025-H2, 2025-03, 2025 or 2025-01-01..2025-03-31 (also Billy''s quarter:2025-1, halfYear:2025-2, month:2025-03).';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._vat_period(text) IS 'Parses a VAT period (billy._period) into its canonical key, type (month, quarter, half-year, year, custom) and dates; raises 22023 naming the bad period. Internal.';

-- _vat_args: the organization and period arguments of the vat_* functions,
-- the period checked first: a bad one is the caller's to fix whatever is
-- connected (an unknown organization is named only with a good period)
CREATE FUNCTION billy._vat_args(org text, period text, OUT org_id text, OUT key text, OUT period_type text,
                                OUT start_date date, OUT end_date date)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
-- the period is parsed (FROM) before the organization is resolved (the row)
AS $$ SELECT billy._resolve_org(org), p.* FROM billy._vat_period(period) p $$;
COMMENT ON FUNCTION billy._vat_args(text, text) IS 'The organization id and the parsed period (billy._vat_period) of the vat_* functions'' (org, period) arguments, checked in that order for every one of them: the period first (22023 naming it), then the organization. Internal.';

CREATE FUNCTION billy._vat_statutory_deadline(period_type text, end_date date) RETURNS date
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
RETURN CASE period_type
    -- ML § 57 stk. 2: the 25th of the next month; June: 17 August
    WHEN 'month' THEN CASE WHEN extract(month FROM end_date) = 6
                           THEN make_date(extract(year FROM end_date)::integer, 8, 17)
                           ELSE (date_trunc('month', end_date) + interval '1 month 24 days')::date END
    -- ML § 57 stk. 3 and 4: the first day of the third month after the period
    WHEN 'quarter' THEN (date_trunc('month', end_date) + interval '3 months')::date
    WHEN 'half-year' THEN (date_trunc('month', end_date) + interval '3 months')::date
END;
COMMENT ON FUNCTION billy._vat_statutory_deadline(text, date) IS 'The deadline the law names for a month, quarter or half-year ending on end_date, before moving it past weekends and holidays; NULL for other periods. Internal.';

CREATE FUNCTION billy.vat_deadline(period text) RETURNS date
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record := billy._vat_period(period);
BEGIN
    IF p.period_type NOT IN ('month', 'quarter', 'half-year') THEN
        RAISE EXCEPTION 'VAT period "%" is a % and has no deadline', period, p.period_type
            USING ERRCODE = '22023', HINT = 'A VAT period is a month (2025-03), a quarter (2025-Q1) or a half-year (2025-H2).';
    END IF;
    RETURN billy._next_business_day(billy._vat_statutory_deadline(p.period_type, p.end_date));
END
$$;
COMMENT ON FUNCTION billy.vat_deadline(text) IS
'The day the return and payment of a VAT period are due (ML § 57): a month (2025-03) on the 25th of the next month (June: 17 August), a quarter (2025-Q1) or half-year (2025-H2) on the first day of the third month after it; a deadline on a Saturday, Sunday, Danish public holiday or bank closing day (billy.danish_holidays) moves to the next weekday. Example: 2025-Q1 is due 2025-06-02 (1 June is a Sunday).';

CREATE FUNCTION billy.vat_period_type(annual_turnover numeric, business_age interval DEFAULT NULL) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF annual_turnover IS NULL OR annual_turnover < 0 THEN
        RAISE EXCEPTION 'annual_turnover must be a non-negative amount, not %', coalesce(annual_turnover::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass the annual taxable turnover in kroner.';
    END IF;
    IF business_age < interval '0' THEN
        RAISE EXCEPTION 'business_age must not be negative, not %', business_age
            USING ERRCODE = '22023', HINT = 'Pass how long the business has been registered, e.g. interval ''8 months''.';
    END IF;
    IF annual_turnover > 50000000 THEN
        RETURN 'month';
    ELSIF annual_turnover > 5000000 OR business_age < interval '18 months' THEN
        RETURN 'quarter';
    END IF;
    RETURN 'half-year';
END
$$;
COMMENT ON FUNCTION billy.vat_period_type(numeric, interval) IS
'The VAT period a business files for (ML § 57): month above 50,000,000 kr. of annual taxable turnover, quarter above 5,000,000 (up to and including 50,000,000), half-year up to and including 5,000,000; a new business (business_age under 18 months) files quarterly at least, unless monthly. Returns month, quarter or half-year.';

CREATE FUNCTION billy._vat_rate(rate numeric) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF rate IS NULL OR rate < 0 OR rate > 1 THEN
        RAISE EXCEPTION 'rate must be a fraction from 0 to 1 (0.25 is 25%%), not %', coalesce(rate::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    RETURN rate;
END
$$;
COMMENT ON FUNCTION billy._vat_rate(numeric) IS 'A VAT rate checked to be a fraction from 0 to 1; raises 22023 otherwise. Internal.';

CREATE FUNCTION billy.vat_from_gross(amount numeric, rate numeric DEFAULT 0.25) RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN round(amount * billy._vat_rate(rate) / (1 + rate), 2);
COMMENT ON FUNCTION billy.vat_from_gross(numeric, numeric) IS
'The VAT contained in an amount including VAT: amount × rate / (1 + rate), rounded to øre (half away from zero). At 25% that is a fifth: 1234.56 gives 246.91.';

CREATE FUNCTION billy.vat_from_net(amount numeric, rate numeric DEFAULT 0.25) RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN round(amount * billy._vat_rate(rate), 2);
COMMENT ON FUNCTION billy.vat_from_net(numeric, numeric) IS
'The VAT on an amount excluding VAT: amount × rate, rounded to øre (half away from zero). At 25%: 987.65 gives 246.91.';

------------------------------------------------------------------------------
-- Every line of every approved document, with what it puts on the return
------------------------------------------------------------------------------

-- Per contact and per tax rate, what the lines need: computed once per
-- contact or rate, not once per line (a view on the nullable side of an outer
-- join keeps its expressions at its own level).
CREATE FUNCTION billy._vat_region(country_id text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN upper(country_id) = 'DK' THEN 'DK'
                WHEN EXISTS (SELECT 1 FROM billy.eu_countries e WHERE e.country_id = upper(_vat_region.country_id)) THEN 'EU'
                WHEN COALESCE(country_id, '') <> '' THEN 'non-EU' END
$$;
COMMENT ON FUNCTION billy._vat_region(text) IS 'The VAT region of a country: DK, EU (another member state, billy.eu_countries), non-EU, or NULL without a country. Internal.';

CREATE VIEW billy._vat_contacts WITH (security_invoker = true) AS
SELECT c.organization_id, c.id, c.name, c.country_id, c.registration_no, c.type,
       billy._vat_region(c.country_id) AS region
FROM billy.contacts c;
COMMENT ON VIEW billy._vat_contacts IS 'Contacts with their VAT region now: DK, EU (another member state), non-EU, or NULL without a country. Internal (billy.vat_lines).';

-- What a document was booked with: the contact's country when it was
-- approved.  A contact that moves (Germany to Switzerland) must not rewrite
-- the returns of past periods, so when a contact's country changes in the
-- mirror from one country to another, every approved document of that
-- contact without a record yet gets the old country; documents booked after
-- the move have none and follow the contact.  A country filled in where
-- there was none, or removed, corrects the contact: nothing is recorded.
CREATE TABLE billy.vat_booked_countries (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    document_type   text NOT NULL CHECK (document_type OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'bill'])),
    document_id     text NOT NULL,
    contact_id      text,
    country_id      text,
    recorded_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (organization_id, document_type, document_id)
);
COMMENT ON TABLE billy.vat_booked_countries IS
'The contact''s country an approved invoice or bill was booked with, recorded when the contact later moved to another country in the mirror (the old country, for every approved document of that contact not recorded yet). The VAT return classifies a document by this country when there is a row (billy.vat_lines contact_country and contact_region), else by the contact''s current one: a customer moving from Germany to Switzerland does not move past EU sales from rubrik B to rubrik C. Kept in dumps; an admin may correct a row.';

CREATE FUNCTION billy._vat_booked_countries_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO billy.vat_booked_countries (organization_id, document_type, document_id, contact_id, country_id)
    SELECT d.organization_id, d.kind, d.id, p.id, p.country_id
    FROM new_rows n
    JOIN old_rows p ON p.organization_id = n.organization_id AND p.id = n.id
    CROSS JOIN LATERAL (
        SELECT i.organization_id, 'invoice' AS kind, i.id FROM billy.invoices i
        WHERE i.organization_id = p.organization_id AND i.contact_id = p.id AND i.state = 'approved' AND i.deleted_at IS NULL
        UNION ALL
        SELECT b.organization_id, 'bill', b.id FROM billy.bills b
        WHERE b.organization_id = p.organization_id AND b.contact_id = p.id AND b.state = 'approved' AND b.deleted_at IS NULL) d
    -- a move from one country to another; a country filled in or removed
    -- is a correction of the contact, which past documents follow
    WHERE COALESCE(p.country_id, '') <> '' AND COALESCE(n.country_id, '') <> ''
      AND upper(n.country_id) <> upper(p.country_id)
    ON CONFLICT (organization_id, document_type, document_id) DO NOTHING;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._vat_booked_countries_trigger() IS 'Trigger function on billy.contacts: when a contact''s country changes, records the old country for its approved documents (billy.vat_booked_countries). Internal.';
CREATE TRIGGER vat_booked_countries AFTER UPDATE ON billy.contacts
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION billy._vat_booked_countries_trigger();

-- The region each line is classified by: the country its document was
-- booked with when recorded, else its contact's country now.
CREATE VIEW billy._vat_booked WITH (security_invoker = true) AS
SELECT b.organization_id, b.document_type, b.document_id, b.country_id, billy._vat_region(b.country_id) AS region
FROM billy.vat_booked_countries b;
COMMENT ON VIEW billy._vat_booked IS 'billy.vat_booked_countries with the VAT region of each recorded country. Internal (billy.vat_lines, the VAT return).';

CREATE VIEW billy._vat_rates WITH (security_invoker = true) AS
SELECT m.organization_id, m.tax_rate_id, m.abbreviation, m.treatment, m.reverse_charge,
       COALESCE(m.deduction, 0) AS deduction,
       CASE WHEN m.treatment IS NULL THEN 'unmapped'
            WHEN m.side OPERATOR(pg_catalog.=) 'purchases' THEN 'wrong_side' ELSE 'ok' END AS sale_status,
       CASE WHEN m.treatment IS NULL THEN 'unmapped'
            WHEN m.side OPERATOR(pg_catalog.=) 'sales' THEN 'wrong_side' ELSE 'ok' END AS purchase_status,
       -- where a sale's net goes: buyer in Denmark, the EU or unknown; buyer outside the EU
       CASE m.treatment WHEN 'sale_eu_goods' THEN 'rubrik_b_varer_eu_salg'
                        WHEN 'sale_eu_goods_unlisted' THEN 'rubrik_b_varer_ikke_eu_salg'
                        WHEN 'sale_eu_services' THEN 'rubrik_b_ydelser'
                        WHEN 'sale_abroad' THEN 'rubrik_c'
                        WHEN 'sale_domestic_reverse_charge' THEN 'rubrik_c' END AS sale_field,
       CASE m.treatment WHEN 'sale_eu_goods' THEN 'rubrik_c'
                        WHEN 'sale_eu_goods_unlisted' THEN 'rubrik_c'
                        WHEN 'sale_eu_services' THEN 'rubrik_c'
                        WHEN 'sale_abroad' THEN 'rubrik_c'
                        WHEN 'sale_domestic_reverse_charge' THEN 'rubrik_c' END AS sale_field_non_eu,
       -- where a purchase's net goes: supplier in another EU country; supplier's country unknown
       CASE m.treatment WHEN 'purchase_eu_goods' THEN 'rubrik_a_varer'
                        WHEN 'purchase_eu_services' THEN 'rubrik_a_ydelser'
                        WHEN 'purchase_non_eu_services' THEN 'rubrik_a_ydelser' END AS purchase_field_eu,
       CASE m.treatment WHEN 'purchase_eu_goods' THEN 'rubrik_a_varer'
                        WHEN 'purchase_eu_services' THEN 'rubrik_a_ydelser' END AS purchase_field_unknown,
       -- where the VAT a buyer computes under reverse charge goes, and at which rate
       CASE m.treatment WHEN 'purchase_domestic_reverse_charge' THEN 'salgsmoms'
                        WHEN 'purchase_eu_goods' THEN 'moms_varekoeb_udland'
                        WHEN 'purchase_eu_services' THEN 'moms_ydelseskoeb_udland'
                        WHEN 'purchase_non_eu_services' THEN 'moms_ydelseskoeb_udland' END AS computed_field,
       CASE WHEN m.rate OPERATOR(pg_catalog.>) 0 THEN m.rate ELSE 0.25 END AS computed_rate,
       m.rate, m.side
FROM billy.vat_rate_map m;
COMMENT ON VIEW billy._vat_rates IS 'Per tax rate: its treatment''s status on sales and purchase lines and the fields its amounts go to, by the contact''s region; its rate and its treatment''s side. Internal (billy.vat_lines).';

CREATE VIEW billy._vat_routes WITH (security_invoker = true) AS
SELECT m.organization_id, m.tax_rate_id, d.document_type, g.region, m.abbreviation, m.treatment,
       CASE d.document_type WHEN 'invoice' THEN m.sale_status WHEN 'bill' THEN m.purchase_status
            ELSE CASE WHEN m.treatment IS NULL THEN 'unmapped' ELSE 'ok' END END AS status,
       CASE WHEN k.sale THEN
                 CASE WHEN g.region OPERATOR(pg_catalog.=) 'non-EU' THEN m.sale_field_non_eu ELSE m.sale_field END
            WHEN NOT k.purchase THEN NULL
            WHEN g.region OPERATOR(pg_catalog.=) 'EU' THEN m.purchase_field_eu
            WHEN g.region OPERATOR(pg_catalog.=) 'unknown' THEN m.purchase_field_unknown END AS net_field,
       CASE WHEN k.purchase AND m.purchase_status OPERATOR(pg_catalog.=) 'ok'
            THEN m.computed_field END AS computed_field,
       m.computed_rate,
       CASE WHEN k.purchase THEN m.deduction END AS deduction,
       k.purchase AND m.purchase_status OPERATOR(pg_catalog.=) 'ok' AS deductible,
       k.sale, m.rate, COALESCE(m.reverse_charge, false) AS reverse_charge
FROM billy._vat_rates m
CROSS JOIN (VALUES ('invoice'), ('bill'), ('daybookTransaction')) d(document_type)
CROSS JOIN (VALUES ('DK'), ('EU'), ('non-EU'), ('unknown')) g(region)
-- a journal entry line is a sale or a purchase by its rate's treatment
CROSS JOIN LATERAL (SELECT
    d.document_type OPERATOR(pg_catalog.=) 'invoice'
        OR (d.document_type OPERATOR(pg_catalog.=) 'daybookTransaction' AND m.side IS NOT DISTINCT FROM 'sales') AS sale,
    d.document_type OPERATOR(pg_catalog.=) 'bill'
        OR (d.document_type OPERATOR(pg_catalog.=) 'daybookTransaction' AND m.side IS NOT DISTINCT FROM 'purchases') AS purchase) k;
COMMENT ON VIEW billy._vat_routes IS 'Where the amounts of a line go, per tax rate, document type (invoice, bill, daybookTransaction: a journal entry, a sale when its rate''s treatment is for sales, a purchase when it is for purchases) and contact region (DK, EU, non-EU, unknown; a journal entry line has no contact: unknown): its status, whether it is a sale (sale: its VAT is salgsmoms), the fields of its net (net_field), the VAT a buyer computes (computed_field, at computed_rate) and whether its VAT is deductible (at deduction); the rate and whether its treatment is reverse charge (a journal entry line''s VAT is split off its gross amount by the rate unless it is). The one place the return''s placement rules live: billy.vat_lines and billy.vat_return both read it. Internal.';

-- The lines of approved documents, in the base currency, by date: kept
-- current by triggers on the mirror (any write: the sync, write-back, a
-- restore), so a period's return is an index range scan of its own lines
-- instead of a join over every line of the organization.
CREATE TABLE billy._vat_facts (
    organization_id text NOT NULL,
    document_type   text NOT NULL CHECK (document_type OPERATOR(pg_catalog.=) ANY (ARRAY['invoice', 'bill', 'daybookTransaction'])),
    document_id     text NOT NULL,
    line_id         text NOT NULL,
    entry_date      date,
    document_kind   text,
    contact_id      text,
    tax_rate_id     text,
    currency_id     text,
    exchange_rate   numeric,
    net             numeric,
    tax             numeric,
    net_base        numeric,
    tax_base        numeric NOT NULL,
    PRIMARY KEY (organization_id, document_type, line_id)
);
CREATE INDEX _vat_facts_entry_date ON billy._vat_facts (organization_id, entry_date);
CREATE INDEX _vat_facts_document ON billy._vat_facts (organization_id, document_type, document_id);
COMMENT ON TABLE billy._vat_facts IS
'One row per line of every approved, not deleted invoice, credit note and bill, and per line with a tax rate of every approved journal entry (document_type daybookTransaction, not voided, not deleted): its date, contact, tax rate, stored net and VAT, and both in the base currency (times the document''s exchange rate, rounded to øre, negative on credit notes). A journal entry line has no contact and no stored VAT: net and net_base hold its gross amount, positive on the debit side and negative on the credit side, tax NULL and tax_base 0 (billy.vat_lines splits the VAT off by the rate''s treatment); currency_id is the line''s, and a line in another currency than the organization''s base currency has net_base NULL: Billy gives it no exchange rate, and what it is in the base currency is what Billy booked (billy.vat_lines reads it from the entry''s postings). Derived from the mirror and kept current by triggers on billy.invoices, invoice_lines, bills, bill_lines, daybook_transactions and daybook_transaction_lines (no foreign key: an organization''s deletion reaches it through those tables); billy.vat_rebuild_lines recomputes it. Internal (billy.vat_lines).';

-- Invoices, bills and journal entries, and their lines, as one kind of
-- document for the line table below.  A journal entry line's amount is
-- gross, on its side (debit positive); only lines with a tax rate count.
CREATE VIEW billy._vat_documents WITH (security_invoker = true) AS
SELECT 'invoice'::text AS kind, i.organization_id, i.id, i.type, i.state, i.deleted_at, i.entry_date,
       i.contact_id, i.currency_id, i.exchange_rate
FROM billy.invoices i
UNION ALL
SELECT 'bill', b.organization_id, b.id, b.type, b.state, b.deleted_at, b.entry_date,
       b.contact_id, b.currency_id, b.exchange_rate
FROM billy.bills b
UNION ALL
SELECT 'daybookTransaction', j.organization_id, j.id, 'journalEntry', j.state, j.deleted_at, j.entry_date,
       NULL, NULL, NULL
FROM billy.daybook_transactions j;
COMMENT ON VIEW billy._vat_documents IS 'Invoices, bills and journal entries (kind daybookTransaction, type journalEntry) with what the VAT line table needs of them. Internal.';

CREATE VIEW billy._vat_document_lines WITH (security_invoker = true) AS
SELECT 'invoice'::text AS kind, l.organization_id, l.id, l.invoice_id AS document_id, l.amount, l.tax, l.tax_rate_id,
       NULL::text AS currency_id
FROM billy.invoice_lines l
UNION ALL
SELECT 'bill', l.organization_id, l.id, l.bill_id, l.amount, l.tax, l.tax_rate_id, NULL
FROM billy.bill_lines l
UNION ALL
SELECT 'daybookTransaction', l.organization_id, l.id, l.daybook_transaction_id,
       CASE WHEN l.side = 'credit' THEN -l.amount ELSE l.amount END, NULL, l.tax_rate_id, l.currency_id
FROM billy.daybook_transaction_lines l
WHERE l.tax_rate_id IS NOT NULL;
COMMENT ON VIEW billy._vat_document_lines IS 'Invoice and bill lines, and the journal entry lines with a tax rate (kind daybookTransaction: amount the gross, negative on the credit side; no stored VAT; currency_id the line''s own, NULL on invoice and bill lines, whose currency is their document''s), with what the VAT line table needs of them. Internal.';

-- _vat_fact_rows computes the facts of some documents (docs) or some lines
-- (lines) of one organization from the mirror.  Every lookup goes by primary
-- key or by the lines' (organization, document) index, row by row: the plans
-- cannot depend on the mirror's statistics, which are often stale while a
-- sync runs (a whole-table scan per page would make a sync quadratic).
CREATE FUNCTION billy._vat_fact_rows(kind text, org text, docs text[], lines text[])
RETURNS SETOF billy._vat_facts
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
WITH pairs AS (
    SELECT d.*, l.id AS line_id, l.amount, l.tax, l.tax_rate_id, l.currency_id AS line_currency_id
    FROM unnest(docs) k(id)
    CROSS JOIN LATERAL (SELECT * FROM billy._vat_documents x
                        WHERE x.kind = _vat_fact_rows.kind AND x.organization_id = org AND x.id = k.id LIMIT 1) d
    CROSS JOIN LATERAL (SELECT * FROM billy._vat_document_lines x
                        WHERE x.kind = _vat_fact_rows.kind AND x.organization_id = org AND x.document_id = k.id OFFSET 0) l
    UNION ALL
    SELECT d.*, l.id, l.amount, l.tax, l.tax_rate_id, l.currency_id
    FROM unnest(lines) k(id)
    CROSS JOIN LATERAL (SELECT * FROM billy._vat_document_lines x
                        WHERE x.kind = _vat_fact_rows.kind AND x.organization_id = org AND x.id = k.id LIMIT 1) l
    CROSS JOIN LATERAL (SELECT * FROM billy._vat_documents x
                        WHERE x.kind = _vat_fact_rows.kind AND x.organization_id = org AND x.id = l.document_id LIMIT 1) d
)
SELECT p.organization_id, kind, p.id, p.line_id, p.entry_date, p.type, p.contact_id, p.tax_rate_id,
       COALESCE(p.line_currency_id, p.currency_id), p.exchange_rate, p.amount, p.tax,
       -- a journal entry line in another currency than the base currency:
       -- its base amount is in the ledger (billy.vat_lines), not here
       CASE WHEN p.line_currency_id IS DISTINCT FROM COALESCE(o.base_currency, 'DKK') AND p.line_currency_id IS NOT NULL
            THEN NULL
            ELSE CASE WHEN p.type = 'creditNote' THEN -1 ELSE 1 END * round(coalesce(p.amount, 0) * coalesce(p.exchange_rate, 1), 2) END,
       CASE WHEN p.type = 'creditNote' THEN -1 ELSE 1 END * round(coalesce(p.tax, 0) * coalesce(p.exchange_rate, 1), 2)
FROM pairs p
LEFT JOIN billy.organizations o ON o.id = org
WHERE p.state = 'approved' AND p.deleted_at IS NULL
$$;
COMMENT ON FUNCTION billy._vat_fact_rows(text, text, text[], text[]) IS 'The rows of billy._vat_facts for some invoices, bills or journal entries (kind invoice, bill, daybookTransaction) of an organization, given by document ids or by line ids, computed from the mirror. Internal.';

-- _vat_refresh_facts recomputes the facts of some documents
CREATE FUNCTION billy._vat_refresh_facts(kind text, orgs text[], ids text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    o text;
    docs text[];
BEGIN
    FOR o IN SELECT DISTINCT u.o FROM unnest(orgs) u(o) WHERE u.o IS NOT NULL LOOP
        docs := ARRAY(SELECT DISTINCT u.d FROM unnest(orgs, ids) u(o2, d) WHERE u.o2 = o AND u.d IS NOT NULL);
        DELETE FROM billy._vat_facts f
        WHERE f.organization_id = o AND f.document_type = kind AND f.document_id = ANY (docs);
        INSERT INTO billy._vat_facts SELECT * FROM billy._vat_fact_rows(kind, o, docs, NULL);
    END LOOP;
END
$$;
COMMENT ON FUNCTION billy._vat_refresh_facts(text, text[], text[]) IS 'Recomputes billy._vat_facts for the given invoices, bills or journal entries (kind invoice, bill or daybookTransaction; parallel arrays of organization ids and document ids). Internal.';

-- _vat_facts_trigger: after a statement changed documents or lines, bring
-- the facts up to date.  TG_ARGV: the kind (invoice, bill or
-- daybookTransaction) and the column holding the document id (id on
-- documents, invoice_id, bill_id or daybook_transaction_id on lines).
-- Lines: the facts of exactly the lines deleted or inserted (a sync replaces
-- a changed document's lines).  Documents: a refresh of the documents whose
-- VAT-relevant columns changed (a payment changes only the balance) or that
-- were deleted; an inserted document has no lines yet, so no trigger.
CREATE FUNCTION billy._vat_facts_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind text := TG_ARGV[0];
    col text := TG_ARGV[1];
    orgs text[];
    ids text[];
    o text;
    -- organizations whose VAT lines of this kind a first sync builds at its end
    skip text[];
BEGIN
    -- TRUNCATE of documents or of their lines: no fact of that kind is left
    -- (the lines reference the documents, so both go together or the lines alone)
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM billy._vat_facts f WHERE f.document_type = kind;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        skip := billy._derived_skipped(kind || 's', ARRAY(SELECT DISTINCT n.organization_id FROM new_rows n));
    ELSE
        skip := billy._derived_skipped(kind || 's', ARRAY(SELECT DISTINCT p.organization_id FROM old_rows p));
    END IF;
    IF col = 'id' THEN
        IF TG_OP = 'UPDATE' AND kind = 'daybookTransaction' THEN
            -- a journal entry has no contact, type or currency of its own
            SELECT array_agg(n.organization_id), array_agg(n.id) INTO orgs, ids
            FROM new_rows n JOIN old_rows p ON p.organization_id = n.organization_id AND p.id = n.id
            WHERE (n.state, n.deleted_at, n.entry_date) IS DISTINCT FROM (p.state, p.deleted_at, p.entry_date)
              AND n.organization_id <> ALL (skip);
        ELSIF TG_OP = 'UPDATE' THEN
            SELECT array_agg(n.organization_id), array_agg(n.id) INTO orgs, ids
            FROM new_rows n JOIN old_rows p ON p.organization_id = n.organization_id AND p.id = n.id
            WHERE (n.state, n.deleted_at, n.entry_date, n.type, n.contact_id, n.currency_id, n.exchange_rate)
                  IS DISTINCT FROM (p.state, p.deleted_at, p.entry_date, p.type, p.contact_id, p.currency_id, p.exchange_rate)
              AND n.organization_id <> ALL (skip);
        ELSE
            -- a deleted document's facts go: it is no longer there to be found
            SELECT array_agg(p.organization_id), array_agg(p.id) INTO orgs, ids FROM old_rows p
            WHERE p.organization_id <> ALL (skip);
        END IF;
        PERFORM billy._vat_refresh_facts(kind, orgs, ids);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        FOR o IN SELECT DISTINCT p.organization_id FROM old_rows p WHERE p.organization_id <> ALL (skip) LOOP
            DELETE FROM billy._vat_facts f
            WHERE f.organization_id = o AND f.document_type = kind
              AND f.line_id = ANY (ARRAY(SELECT p.id FROM old_rows p WHERE p.organization_id = o));
        END LOOP;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        FOR o IN SELECT DISTINCT n.organization_id FROM new_rows n WHERE n.organization_id <> ALL (skip) LOOP
            INSERT INTO billy._vat_facts
            SELECT * FROM billy._vat_fact_rows(kind, o, NULL, ARRAY(SELECT n.id FROM new_rows n WHERE n.organization_id = o));
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._vat_facts_trigger() IS 'Trigger function on billy.invoices, invoice_lines, bills, bill_lines, daybook_transactions and daybook_transaction_lines (insert, update, delete, truncate): keeps billy._vat_facts current. Internal.';

DO $trg$
DECLARE
    t record;
    op text;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('invoices', 'invoice', 'id'), ('invoice_lines', 'invoice', 'invoice_id'),
                                   ('bills', 'bill', 'id'), ('bill_lines', 'bill', 'bill_id'),
                                   ('daybook_transactions', 'daybookTransaction', 'id'),
                                   ('daybook_transaction_lines', 'daybookTransaction', 'daybook_transaction_id')) v(tbl, kind, col)
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER vat_facts_truncate AFTER TRUNCATE ON billy.%I FOR EACH STATEMENT '
            'EXECUTE FUNCTION billy._vat_facts_trigger(%L, %L)', t.tbl, t.kind, t.col);
        FOREACH op IN ARRAY ARRAY['INSERT', 'UPDATE', 'DELETE'] LOOP
            -- a document just inserted has no lines yet (they reference it)
            CONTINUE WHEN op = 'INSERT' AND t.col = 'id';
            EXECUTE pg_catalog.format(
                'CREATE TRIGGER vat_facts_%s AFTER %s ON billy.%I REFERENCING %s FOR EACH STATEMENT '
                'EXECUTE FUNCTION billy._vat_facts_trigger(%L, %L)',
                pg_catalog.lower(op), op, t.tbl,
                CASE op WHEN 'INSERT' THEN 'NEW TABLE AS new_rows'
                        WHEN 'DELETE' THEN 'OLD TABLE AS old_rows'
                        ELSE 'NEW TABLE AS new_rows OLD TABLE AS old_rows' END,
                t.kind, t.col);
        END LOOP;
    END LOOP;
END
$trg$;

CREATE FUNCTION billy.vat_rebuild_lines(org text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
    o record;
    n bigint;
    marked text;
BEGIN
    FOR o IN SELECT x.id FROM billy.organizations x WHERE org_id IS NULL OR x.id = org_id LOOP
        -- what a first sync cut short left to rebuild (billy.derived_pending)
        -- is rebuilt here, its rollups too: the mark goes first, waiting for
        -- the writers that skipped (75-derived.sql)
        FOR marked IN DELETE FROM billy.derived_pending
                      WHERE organization_id = o.id AND resource IN ('invoices', 'bills', 'daybookTransactions')
                      RETURNING resource
        LOOP
            IF marked <> 'daybookTransactions' THEN
                PERFORM billy._analytics_rebuild_family(o.id, rtrim(marked, 's'));
            END IF;
        END LOOP;
        DELETE FROM billy._vat_facts f WHERE f.organization_id = o.id;
        INSERT INTO billy._vat_facts
        SELECT * FROM billy._vat_fact_rows('invoice', o.id, ARRAY(SELECT i.id FROM billy.invoices i WHERE i.organization_id = o.id), NULL);
        INSERT INTO billy._vat_facts
        SELECT * FROM billy._vat_fact_rows('bill', o.id, ARRAY(SELECT b.id FROM billy.bills b WHERE b.organization_id = o.id), NULL);
        INSERT INTO billy._vat_facts
        SELECT * FROM billy._vat_fact_rows('daybookTransaction', o.id,
                                           ARRAY(SELECT j.id FROM billy.daybook_transactions j WHERE j.organization_id = o.id), NULL);
    END LOOP;
    SELECT count(*) INTO n FROM billy._vat_facts f WHERE org_id IS NULL OR f.organization_id = org_id;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy.vat_rebuild_lines(text) IS
'Recomputes the VAT line table (billy._vat_facts, behind billy.vat_lines and billy.vat_return) of an organization (every organization when NULL) from the mirror. Triggers keep it current on every write; this repairs it after the triggers were bypassed (session_replication_role = replica, triggers disabled), and finishes what a first sync cut short left to rebuild (billy.derived_pending: those rollups too). Returns the number of lines.';

CREATE VIEW billy.vat_lines WITH (security_invoker = true) AS
SELECT f.organization_id, f.document_type, f.document_id,
       COALESCE(i.invoice_no, b.voucher_no, j.voucher_no) AS document_no, f.document_kind, f.entry_date, f.contact_id,
       COALESCE(c.name, b.contact_name) AS contact_name,
       CASE WHEN bk.document_id IS NOT NULL THEN bk.country_id ELSE c.country_id END AS contact_country,
       CASE WHEN bk.document_id IS NOT NULL THEN bk.region ELSE c.region END AS contact_region,
       f.currency_id, f.exchange_rate, f.line_id,
       COALESCE(il.description, bl.description, jl.text, j.description) AS description, f.tax_rate_id,
       m.abbreviation AS tax_rate, m.treatment, x.deduction, x.status, f.net, f.tax,
       y.net_base, y.tax_base, x.computed_vat, x.deductible_vat,
       x.net_field, x.tax_field, x.computed_field,
       CASE WHEN x.tax_field OPERATOR(pg_catalog.=) 'salgsmoms' THEN y.tax_base ELSE 0 END
           OPERATOR(pg_catalog.+) CASE WHEN x.computed_field OPERATOR(pg_catalog.=) 'salgsmoms' THEN x.computed_vat ELSE 0 END AS salgsmoms,
       CASE WHEN x.computed_field OPERATOR(pg_catalog.=) 'moms_varekoeb_udland' THEN x.computed_vat ELSE 0 END AS moms_varekoeb_udland,
       CASE WHEN x.computed_field OPERATOR(pg_catalog.=) 'moms_ydelseskoeb_udland' THEN x.computed_vat ELSE 0 END AS moms_ydelseskoeb_udland,
       x.deductible_vat AS koebsmoms,
       CASE WHEN x.net_field OPERATOR(pg_catalog.=) 'rubrik_a_varer' THEN y.net_base ELSE 0 END AS rubrik_a_varer,
       CASE WHEN x.net_field OPERATOR(pg_catalog.=) 'rubrik_a_ydelser' THEN y.net_base ELSE 0 END AS rubrik_a_ydelser,
       CASE WHEN x.net_field OPERATOR(pg_catalog.=) 'rubrik_b_varer_eu_salg' THEN y.net_base ELSE 0 END AS rubrik_b_varer_eu_salg,
       CASE WHEN x.net_field OPERATOR(pg_catalog.=) 'rubrik_b_varer_ikke_eu_salg' THEN y.net_base ELSE 0 END AS rubrik_b_varer_ikke_eu_salg,
       CASE WHEN x.net_field OPERATOR(pg_catalog.=) 'rubrik_b_ydelser' THEN y.net_base ELSE 0 END AS rubrik_b_ydelser,
       CASE WHEN x.net_field OPERATOR(pg_catalog.=) 'rubrik_c' THEN y.net_base ELSE 0 END AS rubrik_c
FROM billy._vat_facts f
LEFT JOIN billy._vat_contacts c
       ON c.organization_id OPERATOR(pg_catalog.=) f.organization_id AND c.id OPERATOR(pg_catalog.=) f.contact_id
LEFT JOIN billy._vat_booked bk
       ON bk.organization_id OPERATOR(pg_catalog.=) f.organization_id
      AND bk.document_type OPERATOR(pg_catalog.=) f.document_type AND bk.document_id OPERATOR(pg_catalog.=) f.document_id
LEFT JOIN billy._vat_routes m
       ON m.organization_id OPERATOR(pg_catalog.=) f.organization_id AND m.tax_rate_id OPERATOR(pg_catalog.=) f.tax_rate_id
      AND m.document_type OPERATOR(pg_catalog.=) f.document_type
      AND m.region OPERATOR(pg_catalog.=) COALESCE(CASE WHEN bk.document_id IS NOT NULL THEN bk.region ELSE c.region END, 'unknown')
LEFT JOIN billy.invoices i
       ON f.document_type OPERATOR(pg_catalog.=) 'invoice'
      AND i.organization_id OPERATOR(pg_catalog.=) f.organization_id AND i.id OPERATOR(pg_catalog.=) f.document_id
LEFT JOIN billy.invoice_lines il
       ON f.document_type OPERATOR(pg_catalog.=) 'invoice'
      AND il.organization_id OPERATOR(pg_catalog.=) f.organization_id AND il.id OPERATOR(pg_catalog.=) f.line_id
LEFT JOIN billy.bills b
       ON f.document_type OPERATOR(pg_catalog.=) 'bill'
      AND b.organization_id OPERATOR(pg_catalog.=) f.organization_id AND b.id OPERATOR(pg_catalog.=) f.document_id
LEFT JOIN billy.bill_lines bl
       ON f.document_type OPERATOR(pg_catalog.=) 'bill'
      AND bl.organization_id OPERATOR(pg_catalog.=) f.organization_id AND bl.id OPERATOR(pg_catalog.=) f.line_id
LEFT JOIN billy.daybook_transactions j
       ON f.document_type OPERATOR(pg_catalog.=) 'daybookTransaction'
      AND j.organization_id OPERATOR(pg_catalog.=) f.organization_id AND j.id OPERATOR(pg_catalog.=) f.document_id
LEFT JOIN billy.daybook_transaction_lines jl
       ON f.document_type OPERATOR(pg_catalog.=) 'daybookTransaction'
      AND jl.organization_id OPERATOR(pg_catalog.=) f.organization_id AND jl.id OPERATOR(pg_catalog.=) f.line_id
-- a journal entry line in another currency than the base currency (its
-- fact has no net_base): Billy gives the line no exchange rate; what it is
-- in the base currency is what Billy booked, so it is read from the entry's
-- transaction (not its voiding image): the postings of the line's priority,
-- but for its contra account, add up to its gross amount in the base
-- currency, debit positive (jg.gross; NULL while the mirror has no such
-- postings: the line is then unbooked, on no field)
CROSS JOIN LATERAL (SELECT CASE WHEN f.net_base IS NOT NULL THEN f.net_base
              ELSE (SELECT pg_catalog.sum(p.signed_amount)
                    FROM billy.transactions t
                    JOIN billy.postings p
                      ON p.organization_id OPERATOR(pg_catalog.=) t.organization_id
                     AND p.transaction_id OPERATOR(pg_catalog.=) t.id
                    WHERE t.organization_id OPERATOR(pg_catalog.=) f.organization_id
                      AND t.originator_type OPERATOR(pg_catalog.=) 'daybookTransaction'
                      AND t.originator_id OPERATOR(pg_catalog.=) f.document_id AND t.is_void IS NOT TRUE
                      AND p.priority OPERATOR(pg_catalog.=) jl.priority
                      AND p.account_id IS DISTINCT FROM jl.contra_account_id) END AS gross) jg
-- a journal entry line holds its gross amount, debit positive: its VAT is
-- split off by the rate (gross x rate / (1 + rate), rounded to øre; none
-- under reverse charge, where the buyer computes it from the amount as the
-- net), and a sale counts with the credit side positive
CROSS JOIN LATERAL (SELECT
    CASE WHEN f.document_type OPERATOR(pg_catalog.<>) 'daybookTransaction' THEN f.net_base
         ELSE jv.sign OPERATOR(pg_catalog.*) (COALESCE(jg.gross, 0) OPERATOR(pg_catalog.-) jv.vat) END AS net_base,
    CASE WHEN f.document_type OPERATOR(pg_catalog.<>) 'daybookTransaction' THEN f.tax_base
         ELSE jv.sign OPERATOR(pg_catalog.*) jv.vat END AS tax_base
    FROM (SELECT CASE WHEN m.sale THEN -1 ELSE 1 END AS sign,
                 CASE WHEN m.treatment IS NULL OR m.reverse_charge OR COALESCE(m.rate, 0) OPERATOR(pg_catalog.<=) 0
                           OR jg.gross IS NULL THEN 0
                      ELSE pg_catalog.round(jg.gross OPERATOR(pg_catalog.*) m.rate
                                            OPERATOR(pg_catalog./) (1 OPERATOR(pg_catalog.+) m.rate), 2) END AS vat) jv) y
CROSS JOIN LATERAL (SELECT
    -- the placement comes from billy._vat_routes (rate, document type, the
    -- contact's region); what is left per line is the arithmetic: on every
    -- invoice line the stored VAT is salgsmoms, whatever the rate, and so is
    -- a journal entry sale's; a bill's or journal entry purchase's
    -- reverse-charge VAT and its deductible share are rounded per line
    m.deduction,
    CASE WHEN jg.gross IS NULL THEN 'unbooked' ELSE COALESCE(m.status, 'unmapped') END AS status,
    CASE WHEN m.computed_field IS NOT NULL
         THEN pg_catalog.round(y.net_base OPERATOR(pg_catalog.*) m.computed_rate, 2) ELSE 0 END AS computed_vat,
    CASE WHEN NOT COALESCE(m.deductible, false) THEN 0
         WHEN m.computed_field IS NOT NULL
         THEN pg_catalog.round(pg_catalog.round(y.net_base OPERATOR(pg_catalog.*) m.computed_rate, 2) OPERATOR(pg_catalog.*) m.deduction, 2)
         ELSE pg_catalog.round(y.tax_base OPERATOR(pg_catalog.*) m.deduction, 2) END AS deductible_vat,
    m.net_field,
    CASE WHEN f.document_type OPERATOR(pg_catalog.=) 'invoice' OR m.sale THEN 'salgsmoms' END AS tax_field,
    m.computed_field) x;
COMMENT ON VIEW billy.vat_lines IS
'Every line of every approved, not deleted invoice, credit note and bill, and every line with a tax rate of every approved journal entry (document_type daybookTransaction; a voided one is out), with its VAT treatment (billy.vat_rate_map) and what it puts on the VAT return, in the base currency: net_base and tax_base are the line''s stored net and VAT times the document''s exchange rate, rounded to øre, negative on credit notes; a journal entry line''s amount is gross, so its VAT is split off by the rate (gross x rate / (1 + rate), rounded to øre; nothing under reverse charge), and it counts as a sale (VAT to salgsmoms, net to the rubrik its treatment names, the credit side positive) when its rate''s treatment is for sales, as a purchase (the deductible share of the VAT to købsmoms, reverse charge as on a bill, the debit side positive) when it is for purchases; it has no contact (region unknown); a journal entry line in another currency than the base currency (currency_id; Billy gives it no exchange rate, so exchange_rate is NULL) counts as Billy booked it: the postings of its entry''s transaction with the line''s priority, but for its contra account, add up to its gross amount in the base currency, from which the VAT is split off as above; computed_vat is the reverse-charge VAT a buyer computes (the rate, 25% when it is 0, times net_base, rounded to øre); deductible_vat the deductible share of the VAT (købsmoms, rounded to øre). net_field, tax_field and computed_field name the field (billy.vat_fields) that net_base, tax_base and computed_vat go to; the columns salgsmoms to rubrik_c spell that out per field. status: ok, unmapped (the rate has no treatment), wrong_side (a sales treatment on a bill or the reverse; never on a journal entry, whose side follows the treatment) or unbooked (a journal entry line in another currency whose postings the mirror does not hold yet: on no field, amounts 0). contact_country and contact_region (DK, EU, non-EU, or NULL when the contact has no country) are the contact''s as the document was booked: billy.vat_booked_countries when the contact moved since, else the contact''s now. billy.vat_return sums these per period; billy.vat_return_lines lists them.';

------------------------------------------------------------------------------
-- The return
------------------------------------------------------------------------------

CREATE TYPE billy.vat_return_result AS (
    organization_id                      text,
    period                               text,
    period_type                          text,
    start_date                           date,
    end_date                             date,
    deadline                             date,
    salgsmoms_exact                      numeric,
    salgsmoms_reported                   numeric,
    moms_varekoeb_udland_exact           numeric,
    moms_varekoeb_udland_reported        numeric,
    moms_ydelseskoeb_udland_exact        numeric,
    moms_ydelseskoeb_udland_reported     numeric,
    koebsmoms_exact                      numeric,
    koebsmoms_reported                   numeric,
    olie_flaskegasafgift_exact           numeric,
    olie_flaskegasafgift_reported        numeric,
    elafgift_exact                       numeric,
    elafgift_reported                    numeric,
    naturgas_bygasafgift_exact           numeric,
    naturgas_bygasafgift_reported        numeric,
    kulafgift_exact                      numeric,
    kulafgift_reported                   numeric,
    co2afgift_exact                      numeric,
    co2afgift_reported                   numeric,
    vandafgift_exact                     numeric,
    vandafgift_reported                  numeric,
    rubrik_a_varer_exact                 numeric,
    rubrik_a_varer_reported              numeric,
    rubrik_a_ydelser_exact               numeric,
    rubrik_a_ydelser_reported            numeric,
    rubrik_b_varer_eu_salg_exact         numeric,
    rubrik_b_varer_eu_salg_reported      numeric,
    rubrik_b_varer_ikke_eu_salg_exact    numeric,
    rubrik_b_varer_ikke_eu_salg_reported numeric,
    rubrik_b_ydelser_exact               numeric,
    rubrik_b_ydelser_reported            numeric,
    rubrik_c_exact                       numeric,
    rubrik_c_reported                    numeric,
    tilsvar_exact                        numeric,
    tilsvar_reported                     numeric,
    lines                                bigint,
    unmapped_lines                       bigint,
    complete                             boolean
);
COMMENT ON TYPE billy.vat_return_result IS 'A computed VAT return: see billy.vat_return.';

-- _vat_return computes the return of one organization for a date range
CREATE FUNCTION billy._vat_return(org_id text, period_key text, kind text, from_date date, to_date date)
RETURNS billy.vat_return_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
-- the lines fall into a handful of groups, which the planner cannot know: hash them
SET enable_sort = off
AS $$
DECLARE
    r billy.vat_return_result;
    a record;
    x record;
BEGIN
    -- Invoice lines go to fields by rate and the customer's region (as the
    -- invoice was booked: billy.vat_booked_countries) only (their
    -- amounts are summed exactly), so they are summed per rate and region
    -- first and placed by billy._vat_routes; bill and journal entry lines are
    -- taken one by one from billy.vat_lines (reverse charge, deductions and a
    -- journal entry line's VAT split off its gross amount round per line).
    WITH inv AS (
        SELECT f.tax_rate_id,
               COALESCE(CASE WHEN bk.document_id IS NOT NULL THEN bk.region ELSE c.region END, 'unknown') AS region,
               sum(f.net_base) AS net, sum(f.tax_base) AS tax, count(*) AS lines
        FROM billy._vat_facts f
        LEFT JOIN billy._vat_contacts c ON c.organization_id = f.organization_id AND c.id = f.contact_id
        LEFT JOIN billy._vat_booked bk ON bk.organization_id = f.organization_id AND bk.document_type = 'invoice'
                                      AND bk.document_id = f.document_id
        WHERE f.organization_id = org_id AND f.document_type = 'invoice'
          AND f.entry_date BETWEEN from_date AND to_date
        GROUP BY 1, 2
    ), g AS (
        SELECT rt.net_field, 'salgsmoms'::text AS tax_field, NULL::text AS computed_field,
               sum(i.net) AS net, sum(i.tax) AS tax, 0::numeric AS computed, 0::numeric AS deductible,
               sum(i.lines) AS lines, coalesce(sum(i.lines) FILTER (WHERE COALESCE(rt.status, 'unmapped') <> 'ok'), 0) AS unmapped
        FROM inv i
        LEFT JOIN billy._vat_routes rt ON rt.organization_id = org_id AND rt.tax_rate_id = i.tax_rate_id
                                      AND rt.document_type = 'invoice' AND rt.region = i.region
        GROUP BY 1
        UNION ALL
        SELECT v.net_field, v.tax_field, v.computed_field,
               sum(v.net_base), sum(v.tax_base), sum(v.computed_vat), sum(v.deductible_vat),
               count(*), count(*) FILTER (WHERE v.status <> 'ok')
        FROM billy.vat_lines v
        WHERE v.organization_id = org_id AND v.document_type <> 'invoice' AND v.entry_date BETWEEN from_date AND to_date
        GROUP BY 1, 2, 3
    )
    SELECT coalesce(sum(g.tax) FILTER (WHERE g.tax_field = 'salgsmoms'), 0)
               + coalesce(sum(g.computed) FILTER (WHERE g.computed_field = 'salgsmoms'), 0) AS salgsmoms,
           coalesce(sum(g.computed) FILTER (WHERE g.computed_field = 'moms_varekoeb_udland'), 0) AS moms_varekoeb_udland,
           coalesce(sum(g.computed) FILTER (WHERE g.computed_field = 'moms_ydelseskoeb_udland'), 0) AS moms_ydelseskoeb_udland,
           coalesce(sum(g.deductible), 0) AS koebsmoms,
           coalesce(sum(g.net) FILTER (WHERE g.net_field = 'rubrik_a_varer'), 0) AS rubrik_a_varer,
           coalesce(sum(g.net) FILTER (WHERE g.net_field = 'rubrik_a_ydelser'), 0) AS rubrik_a_ydelser,
           coalesce(sum(g.net) FILTER (WHERE g.net_field = 'rubrik_b_varer_eu_salg'), 0) AS rubrik_b_varer_eu_salg,
           coalesce(sum(g.net) FILTER (WHERE g.net_field = 'rubrik_b_varer_ikke_eu_salg'), 0) AS rubrik_b_varer_ikke_eu_salg,
           coalesce(sum(g.net) FILTER (WHERE g.net_field = 'rubrik_b_ydelser'), 0) AS rubrik_b_ydelser,
           coalesce(sum(g.net) FILTER (WHERE g.net_field = 'rubrik_c'), 0) AS rubrik_c,
           coalesce(sum(g.lines), 0) AS lines,
           coalesce(sum(g.unmapped), 0) AS unmapped
    INTO x
    FROM g;

    SELECT coalesce(sum(j.amount) FILTER (WHERE j.field = 'salgsmoms'), 0) AS salgsmoms,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'moms_varekoeb_udland'), 0) AS moms_varekoeb_udland,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'moms_ydelseskoeb_udland'), 0) AS moms_ydelseskoeb_udland,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'koebsmoms'), 0) AS koebsmoms,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'olie_flaskegasafgift'), 0) AS olie,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'elafgift'), 0) AS el,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'naturgas_bygasafgift'), 0) AS naturgas,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'kulafgift'), 0) AS kul,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'co2afgift'), 0) AS co2,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'vandafgift'), 0) AS vand,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'rubrik_a_varer'), 0) AS rubrik_a_varer,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'rubrik_a_ydelser'), 0) AS rubrik_a_ydelser,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'rubrik_b_varer_eu_salg'), 0) AS rubrik_b_varer_eu_salg,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'rubrik_b_varer_ikke_eu_salg'), 0) AS rubrik_b_varer_ikke_eu_salg,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'rubrik_b_ydelser'), 0) AS rubrik_b_ydelser,
           coalesce(sum(j.amount) FILTER (WHERE j.field = 'rubrik_c'), 0) AS rubrik_c
    INTO a
    FROM billy.vat_adjustments j
    WHERE j.organization_id = org_id AND j.start_date >= from_date AND j.end_date <= to_date;

    r.organization_id := org_id;
    r.period := period_key;
    r.period_type := kind;
    r.start_date := from_date;
    r.end_date := to_date;
    r.deadline := billy._next_business_day(billy._vat_statutory_deadline(kind, to_date));
    r.salgsmoms_exact := x.salgsmoms + a.salgsmoms;
    r.moms_varekoeb_udland_exact := x.moms_varekoeb_udland + a.moms_varekoeb_udland;
    r.moms_ydelseskoeb_udland_exact := x.moms_ydelseskoeb_udland + a.moms_ydelseskoeb_udland;
    r.koebsmoms_exact := x.koebsmoms + a.koebsmoms;
    r.olie_flaskegasafgift_exact := a.olie;
    r.elafgift_exact := a.el;
    r.naturgas_bygasafgift_exact := a.naturgas;
    r.kulafgift_exact := a.kul;
    r.co2afgift_exact := a.co2;
    r.vandafgift_exact := a.vand;
    r.rubrik_a_varer_exact := x.rubrik_a_varer + a.rubrik_a_varer;
    r.rubrik_a_ydelser_exact := x.rubrik_a_ydelser + a.rubrik_a_ydelser;
    r.rubrik_b_varer_eu_salg_exact := x.rubrik_b_varer_eu_salg + a.rubrik_b_varer_eu_salg;
    r.rubrik_b_varer_ikke_eu_salg_exact := x.rubrik_b_varer_ikke_eu_salg + a.rubrik_b_varer_ikke_eu_salg;
    r.rubrik_b_ydelser_exact := x.rubrik_b_ydelser + a.rubrik_b_ydelser;
    r.rubrik_c_exact := x.rubrik_c + a.rubrik_c;
    -- whole kroner, øre disregarded (ML § 57 stk. 1): truncation toward zero
    r.salgsmoms_reported := trunc(r.salgsmoms_exact);
    r.moms_varekoeb_udland_reported := trunc(r.moms_varekoeb_udland_exact);
    r.moms_ydelseskoeb_udland_reported := trunc(r.moms_ydelseskoeb_udland_exact);
    r.koebsmoms_reported := trunc(r.koebsmoms_exact);
    r.olie_flaskegasafgift_reported := trunc(r.olie_flaskegasafgift_exact);
    r.elafgift_reported := trunc(r.elafgift_exact);
    r.naturgas_bygasafgift_reported := trunc(r.naturgas_bygasafgift_exact);
    r.kulafgift_reported := trunc(r.kulafgift_exact);
    r.co2afgift_reported := trunc(r.co2afgift_exact);
    r.vandafgift_reported := trunc(r.vandafgift_exact);
    r.rubrik_a_varer_reported := trunc(r.rubrik_a_varer_exact);
    r.rubrik_a_ydelser_reported := trunc(r.rubrik_a_ydelser_exact);
    r.rubrik_b_varer_eu_salg_reported := trunc(r.rubrik_b_varer_eu_salg_exact);
    r.rubrik_b_varer_ikke_eu_salg_reported := trunc(r.rubrik_b_varer_ikke_eu_salg_exact);
    r.rubrik_b_ydelser_reported := trunc(r.rubrik_b_ydelser_exact);
    r.rubrik_c_reported := trunc(r.rubrik_c_exact);
    r.tilsvar_exact := r.salgsmoms_exact + r.moms_varekoeb_udland_exact + r.moms_ydelseskoeb_udland_exact
        - r.koebsmoms_exact - r.olie_flaskegasafgift_exact - r.elafgift_exact - r.naturgas_bygasafgift_exact
        - r.kulafgift_exact - r.co2afgift_exact - r.vandafgift_exact;
    r.tilsvar_reported := r.salgsmoms_reported + r.moms_varekoeb_udland_reported + r.moms_ydelseskoeb_udland_reported
        - r.koebsmoms_reported - r.olie_flaskegasafgift_reported - r.elafgift_reported
        - r.naturgas_bygasafgift_reported - r.kulafgift_reported - r.co2afgift_reported - r.vandafgift_reported;
    r.lines := x.lines;
    r.unmapped_lines := x.unmapped;
    r.complete := x.unmapped = 0;
    RETURN r;
END
$$;
COMMENT ON FUNCTION billy._vat_return(text, text, text, date, date) IS 'Computes the VAT return of one organization for a date range (see billy.vat_return). Internal.';

CREATE FUNCTION billy.vat_return(org text, period text) RETURNS SETOF billy.vat_return_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record := billy._vat_args(org, period);
    org_id text := p.org_id;
BEGIN
    RETURN NEXT billy._vat_return(org_id, p.key, p.period_type, p.start_date, p.end_date);
END
$$;
COMMENT ON FUNCTION billy.vat_return(text, text) IS
'The Danish VAT return (momsangivelse) of an organization (id or name; NULL when one is connected) for a period: 2025-Q1, 2025-H2, 2025-03, 2025, or any range of entry dates 2025-01-01..2025-03-31 (also Billy''s quarter:2025-1, halfYear:2025-2, month:2025-03). One row: each field of the form (billy.vat_fields) exact to the øre (<field>_exact) and as reported, whole kroner truncated toward zero (<field>_reported): salgsmoms, moms af varekøb and ydelseskøb i udlandet, købsmoms, the six energy duties (from billy.vat_adjustments), rubrik A varer/ydelser, rubrik B varer (EU-salg and ikke EU-salg) and ydelser, rubrik C; tilsvar_exact and tilsvar_reported (the arithmetic of the reported fields; positive: pay, negative: refund); the period''s start, end and deadline (for a month, quarter or half-year, also when given as a range); lines counted and unmapped_lines (lines on no field because their tax rate has no treatment for them, or, a journal entry line in a foreign currency, because the mirror does not hold its booking yet: complete is false, see billy.vat_check). Computed from the mirror: approved invoices, credit notes and bills, and the lines with a tax rate of approved journal entries (their VAT split off the gross amount by the rate), by entry date, credit notes subtracting, amounts in the base currency (a journal entry line in another currency as Billy booked it: its postings). billy.vat_return_lines shows where every amount comes from.';

CREATE FUNCTION billy.vat_return_form(org text, period text)
RETURNS TABLE (field_no integer, field text, label text, exact numeric, reported numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT f.field_no, f.field, f.label, (j ->> (f.field || '_exact'))::numeric, (j ->> (f.field || '_reported'))::numeric
FROM (SELECT to_jsonb(r) AS j FROM billy.vat_return(org, period) r) x, billy.vat_fields f
UNION ALL
SELECT 17, 'tilsvar', 'Momstilsvar (afgiftstilsvar)', (j ->> 'tilsvar_exact')::numeric, (j ->> 'tilsvar_reported')::numeric
FROM (SELECT to_jsonb(r) AS j FROM billy.vat_return(org, period) r) x
ORDER BY 1
$$;
COMMENT ON FUNCTION billy.vat_return_form(text, text) IS
'The VAT return of billy.vat_return as the form reads, one row per field in TastSelv order (billy.vat_fields) and a last row for the momstilsvar: field_no, field, label, the exact amount and the reported whole kroner.';

CREATE FUNCTION billy.vat_return_lines(org text, period text)
RETURNS TABLE (field text, amount numeric, document_type text, document_id text, document_no text,
               document_kind text, entry_date date, contact_id text, contact_name text,
               contact_country text, line_id text, description text, tax_rate text,
               treatment text, status text, currency_id text, exchange_rate numeric, net numeric,
               tax numeric, explanation text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record := billy._vat_args(org, period);
    org_id text := p.org_id;
    base_ccy text := COALESCE((SELECT o.base_currency FROM billy.organizations o WHERE o.id = p.org_id), 'DKK');
BEGIN
    RETURN QUERY
    SELECT x.field, x.amount, v.document_type, v.document_id, v.document_no, v.document_kind,
           v.entry_date, v.contact_id, v.contact_name, v.contact_country, v.line_id, v.description,
           v.tax_rate, v.treatment, v.status, v.currency_id, v.exchange_rate, v.net, v.tax, x.explanation
    FROM billy.vat_lines v
    CROSS JOIN LATERAL (
        SELECT u.field, u.amount, u.explanation
        FROM (VALUES
            (v.tax_field, v.tax_base,
             CASE WHEN v.document_type = 'daybookTransaction'
                  THEN format('the VAT %s in the journal entry line''s gross amount %s%s', v.tax_base, abs(v.net_base + v.tax_base),
                              CASE WHEN v.currency_id IS DISTINCT FROM base_ccy AND v.currency_id IS NOT NULL
                                   THEN format(' (%s %s as Billy booked it)', v.currency_id, abs(v.net)) ELSE '' END)
                  ELSE format('the line''s VAT %s', v.tax_base) END),
            (v.computed_field, v.computed_vat,
             format('%s%% of %s (%s)', trim_scale(round(v.computed_vat / nullif(v.net_base, 0) * 100, 2)), v.net_base,
                    CASE v.computed_field WHEN 'salgsmoms' THEN 'domestic reverse charge' ELSE 'reverse charge' END)),
            (CASE WHEN v.document_type <> 'invoice' THEN 'koebsmoms' END, v.deductible_vat,
             format('%s%% of the VAT %s', trim_scale(round(v.deduction * 100, 2)),
                    CASE WHEN v.computed_field IS NOT NULL THEN v.computed_vat ELSE v.tax_base END)),
            (v.net_field, v.net_base,
             CASE WHEN v.net_field = 'rubrik_c' AND v.treatment LIKE 'sale\_eu\_%'
                  THEN 'the line''s net value (buyer outside the EU)' ELSE 'the line''s net value' END)
        ) u(field, amount, explanation)
        WHERE u.field IS NOT NULL AND u.amount <> 0
        UNION ALL
        -- a line on no field is listed too, so every line of the period is accounted for
        SELECT CASE WHEN v.status = 'ok' THEN 'none' ELSE 'unmapped' END, v.net_base,
               CASE v.status
                   WHEN 'unmapped' THEN 'the tax rate has no VAT treatment (billy.vat_map_rate)'
                   WHEN 'wrong_side' THEN format('treatment %s does not apply to %s lines', v.treatment, v.document_type)
                   WHEN 'unbooked' THEN format('a line in %s whose booking in the base currency is not in the mirror''s ledger yet (billy.sync)', v.currency_id)
                   ELSE format('treatment %s puts the line on no field', v.treatment) END
        WHERE v.status <> 'ok'
           OR ((v.tax_field IS NULL OR v.tax_base = 0) AND (v.computed_field IS NULL OR v.computed_vat = 0)
               AND v.deductible_vat = 0 AND (v.net_field IS NULL OR v.net_base = 0))
    ) x
    WHERE v.organization_id = org_id AND v.entry_date BETWEEN p.start_date AND p.end_date
    UNION ALL
    SELECT j.field, j.amount, 'adjustment', NULL, NULL, NULL, j.start_date, NULL, NULL, NULL, NULL,
           j.note, NULL, NULL, 'ok', NULL, NULL, NULL, NULL,
           format('entered for %s..%s by %s', j.start_date, j.end_date, j.set_by)
    FROM billy.vat_adjustments j
    WHERE j.organization_id = org_id AND j.start_date >= p.start_date AND j.end_date <= p.end_date
    ORDER BY 1, 7, 3, 4, 11;
END
$$;
COMMENT ON FUNCTION billy.vat_return_lines(text, text) IS
'Where every amount of billy.vat_return(org, period) comes from: one row per document line and field it contributes to (a reverse-charge bill line gives three: moms af ydelseskøb i udlandet, købsmoms and rubrik A; a journal entry line with a tax rate is a line of document_type daybookTransaction, numbered by its voucher), with the amount in base-currency kroner (negative for credit notes), the invoice or bill (id, number, kind, date, contact and country), the line (description, tax rate, treatment, currency, exchange rate, stored net and VAT) and how the amount was computed. Lines that reach no field appear once as field none, lines whose rate has no treatment as unmapped; billy.vat_adjustments rows appear as document_type adjustment. The amounts of each field add up to its _exact value.';

CREATE FUNCTION billy.vat_eu_sales(org text, period text)
RETURNS TABLE (contact_id text, contact_name text, country_id text, vat_number text, goods numeric,
               services numeric, total numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record := billy._vat_args(org, period);
    org_id text := p.org_id;
BEGIN
    RETURN QUERY
    SELECT v.contact_id, min(v.contact_name), min(v.contact_country), min(c.registration_no),
           sum(v.rubrik_b_varer_eu_salg), sum(v.rubrik_b_ydelser),
           sum(v.rubrik_b_varer_eu_salg) + sum(v.rubrik_b_ydelser)
    FROM billy.vat_lines v
    LEFT JOIN billy.contacts c ON c.organization_id = v.organization_id AND c.id = v.contact_id
    WHERE v.organization_id = org_id AND v.entry_date BETWEEN p.start_date AND p.end_date
      AND (v.rubrik_b_varer_eu_salg <> 0 OR v.rubrik_b_ydelser <> 0)
    GROUP BY v.contact_id
    ORDER BY 3, 4, 1;
END
$$;
COMMENT ON FUNCTION billy.vat_eu_sales(text, text) IS
'The list for EU-salg uden moms (due the 25th after the period) of an organization''s period: per buyer, its country and VAT number and the net value of VAT-free goods and services sold to it, credit notes subtracted, in base-currency kroner. Totals equal rubrik B varer (EU-salg) and rubrik B ydelser of billy.vat_return.';

------------------------------------------------------------------------------
-- Mapping rates, entering adjustments
------------------------------------------------------------------------------

CREATE FUNCTION billy.vat_map_rate(org text, tax_rate text, treatment text, deduction numeric DEFAULT NULL,
                                   note text DEFAULT NULL)
RETURNS SETOF billy.vat_rate_map
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    rate_id text;
    n integer;
BEGIN
    SELECT count(*), min(t.id) INTO n, rate_id
    FROM billy.tax_rates t
    WHERE t.organization_id = org_id AND (t.id = tax_rate OR lower(t.abbreviation) = lower(btrim(tax_rate)));
    IF n = 0 THEN
        RAISE EXCEPTION 'organization % has no tax rate "%"', org_id, tax_rate
            USING ERRCODE = '42704', HINT = 'Pass a tax rate id or abbreviation from SELECT tax_rate_id, abbreviation, name FROM billy.vat_rate_map.';
    ELSIF n > 1 THEN
        RAISE EXCEPTION 'several tax rates of organization % are abbreviated "%"', org_id, tax_rate
            USING ERRCODE = '22023', HINT = 'Pass the tax rate id instead.';
    END IF;
    IF treatment IS NULL THEN
        DELETE FROM billy.vat_rate_overrides o WHERE o.organization_id = org_id AND o.tax_rate_id = rate_id;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM billy.vat_treatments t WHERE t.treatment = vat_map_rate.treatment) THEN
            RAISE EXCEPTION 'unknown VAT treatment "%"', treatment
                USING ERRCODE = '22023',
                      HINT = 'Known treatments: ' || (SELECT string_agg(t.treatment, ', ' ORDER BY t.treatment) FROM billy.vat_treatments t) || '.';
        END IF;
        IF deduction < 0 OR deduction > 1 THEN
            RAISE EXCEPTION 'deduction must be a share from 0 to 1 (0.25 is 25%%), not %', deduction
                USING ERRCODE = '22023';
        END IF;
        INSERT INTO billy.vat_rate_overrides AS o (organization_id, tax_rate_id, treatment, deduction, note)
        VALUES (org_id, rate_id, vat_map_rate.treatment, vat_map_rate.deduction, vat_map_rate.note)
        ON CONFLICT (organization_id, tax_rate_id) DO UPDATE SET
            treatment = EXCLUDED.treatment, deduction = EXCLUDED.deduction, note = EXCLUDED.note,
            set_at = now(), set_by = CURRENT_USER;
    END IF;
    RETURN QUERY SELECT * FROM billy.vat_rate_map m WHERE m.organization_id = org_id AND m.tax_rate_id = rate_id;
END
$$;
COMMENT ON FUNCTION billy.vat_map_rate(text, text, text, numeric, text) IS
'Sets the VAT treatment (billy.vat_treatments) of one tax rate of an organization (tax_rate: id or abbreviation), with an optional deductible share (0 to 1; NULL: the treatment''s default, e.g. 0.5 for employees'' home phones) and note; treatment NULL removes the override, back to the predefined mapping. Returns the rate''s row of billy.vat_rate_map.';

CREATE FUNCTION billy.vat_set_adjustment(org text, period text, field text, amount numeric, note text DEFAULT NULL)
RETURNS SETOF billy.vat_adjustments
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record := billy._vat_args(org, period);
    org_id text := p.org_id;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM billy.vat_fields f WHERE f.field = vat_set_adjustment.field) THEN
        RAISE EXCEPTION 'unknown VAT return field "%"', field
            USING ERRCODE = '22023',
                  HINT = 'Fields: ' || (SELECT string_agg(f.field, ', ' ORDER BY f.field_no) FROM billy.vat_fields f) || '.';
    END IF;
    IF amount IS NULL OR amount = 0 THEN
        DELETE FROM billy.vat_adjustments j
        WHERE j.organization_id = org_id AND j.start_date = p.start_date AND j.end_date = p.end_date
          AND j.field = vat_set_adjustment.field;
        RETURN;
    END IF;
    IF amount <> round(amount, 2) THEN
        RAISE EXCEPTION 'amount % has more than two decimals', amount
            USING ERRCODE = '22023', HINT = 'Amounts are kroner and øre.';
    END IF;
    RETURN QUERY
    INSERT INTO billy.vat_adjustments AS j (organization_id, start_date, end_date, field, amount, note)
    VALUES (org_id, p.start_date, p.end_date, vat_set_adjustment.field, vat_set_adjustment.amount, vat_set_adjustment.note)
    ON CONFLICT ON CONSTRAINT vat_adjustments_pkey DO UPDATE SET
        amount = EXCLUDED.amount, note = EXCLUDED.note, set_at = now(), set_by = CURRENT_USER
    RETURNING j.*;
END
$$;
COMMENT ON FUNCTION billy.vat_set_adjustment(text, text, text, numeric, text) IS
'Enters an amount the books do not hold for one field of an organization''s VAT period (billy.vat_adjustments): an energy-duty refund (olie_flaskegasafgift, elafgift, naturgas_bygasafgift, kulafgift, co2afgift, vandafgift, as a positive amount), import VAT from the importspecifikation (moms_varekoeb_udland) and its deductible part (koebsmoms), or another manual amount. Replaces the amount entered before; 0 or NULL removes it. Returns the stored row.';

------------------------------------------------------------------------------
-- Periods of a year
------------------------------------------------------------------------------

CREATE FUNCTION billy.vat_periods(org text, year integer DEFAULT NULL, vat_period text DEFAULT NULL)
RETURNS TABLE (period text, period_type text, start_date date, end_date date, deadline date,
               billy_deadline date, billy_settled boolean, filed_correction_no integer,
               filed_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := billy._resolve_org(org);
    kind text := lower(coalesce(vat_period,
                                (SELECT o.vat_period FROM billy.organizations o WHERE o.id = org_id), 'quarter'));
    step interval;
    y integer := coalesce(year, extract(year FROM current_date)::integer);
BEGIN
    IF y < 1700 OR y > 9999 THEN
        RAISE EXCEPTION 'year % is out of range', y
            USING ERRCODE = '22023', HINT = 'Pass a year such as 2025.';
    END IF;
    kind := CASE kind WHEN 'halfyear' THEN 'half-year' WHEN 'half_year' THEN 'half-year' ELSE kind END;
    step := CASE kind WHEN 'month' THEN interval '1 month' WHEN 'quarter' THEN interval '3 months'
                      WHEN 'half-year' THEN interval '6 months' END;
    IF step IS NULL THEN
        RAISE EXCEPTION 'unknown VAT period type "%"', kind
            USING ERRCODE = '22023', HINT = 'Use month, quarter or half-year.';
    END IF;
    RETURN QUERY
    SELECT k.key, kind, s::date, (s + step)::date - 1,
           billy._next_business_day(billy._vat_statutory_deadline(kind, (s + step)::date - 1)),
           b.report_deadline, b.is_settled, f.correction_no, f.filed_at
    FROM generate_series(make_date(y, 1, 1)::timestamp, make_date(y, 12, 1)::timestamp, step) s
    CROSS JOIN LATERAL billy._vat_period_of(s::date, (s + step)::date - 1) k
    LEFT JOIN LATERAL (SELECT r.report_deadline, r.is_settled FROM billy.sales_tax_returns r
                       WHERE r.organization_id = org_id AND r.deleted_at IS NULL
                         AND r.start_date = s::date AND r.end_date = (s + step)::date - 1
                       ORDER BY r.correction_no DESC NULLS LAST LIMIT 1) b ON true
    LEFT JOIN LATERAL (SELECT x.correction_no, x.filed_at FROM billy.vat_filings x
                       WHERE x.organization_id = org_id AND x.start_date = s::date
                         AND x.end_date = (s + step)::date - 1
                       ORDER BY x.correction_no DESC LIMIT 1) f ON true
    ORDER BY 3;
END
$$;
COMMENT ON FUNCTION billy.vat_periods(text, integer, text) IS
'The VAT periods of a calendar year (default: this year) for an organization: by its VAT period in Billy (month, quarter or half-year; vat_period overrides it), each with its start, end and deadline (billy.vat_deadline), the deadline Billy''s own sales tax return states and whether Billy marks it settled (when the mirror has it), and the latest filing (billy.vat_file): its correction number and time.';

------------------------------------------------------------------------------
-- Filing: immutable snapshots, corrections, a hash chain
------------------------------------------------------------------------------

CREATE TABLE billy.vat_filings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id),
    period          text NOT NULL,
    period_type     text NOT NULL,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    deadline        date,
    correction_no   integer NOT NULL CHECK (correction_no OPERATOR(pg_catalog.>=) 0),
    filed_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    filed_by        name NOT NULL DEFAULT CURRENT_USER,
    fields          jsonb NOT NULL,
    entries         bigint NOT NULL,
    lines_digest    text NOT NULL,
    differences     jsonb,
    previous_hash   text,
    hash            text NOT NULL,
    UNIQUE (organization_id, start_date, end_date, correction_no)
);
COMMENT ON TABLE billy.vat_filings IS
'Filed VAT returns (billy.vat_file), kept as filed: rows can be neither changed nor deleted (Bogføringsloven). fields: the return as computed (billy.vat_return); entries and lines_digest: the number of drill-down rows behind it (billy.vat_filing_lines: a line counts once per field it reaches) and their SHA-256; correction_no 0 is the first filing of a period, each correction adds one and records in differences what changed against the previous filing (per field: filed, now, difference; and the documents that changed). hash: SHA-256 of the filing''s content and previous_hash, the hash of the organization''s previous filing, so the filings form a chain that billy.vat_verify_filings checks.';

CREATE TABLE billy.vat_filing_lines (
    filing_id       bigint NOT NULL REFERENCES billy.vat_filings (id),
    organization_id text NOT NULL,
    field           text NOT NULL,
    document_type   text NOT NULL,
    document_id     text,
    document_no     text,
    line_id         text,
    amount          numeric NOT NULL
);
CREATE INDEX vat_filing_lines_filing ON billy.vat_filing_lines (filing_id, document_type, document_id);
COMMENT ON TABLE billy.vat_filing_lines IS
'The drill-down of each filed VAT return as it was filed (billy.vat_return_lines at filing time: field, document, line, amount): which documents made each number. Immutable, like billy.vat_filings.';

CREATE FUNCTION billy._vat_filings_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'filed VAT returns cannot be changed or deleted (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '42501',
              DETAIL = 'Bogføringsloven: a filed return is kept as it was filed, with its corrections.',
              HINT = 'To correct a filed period, call billy.vat_file(org, period) again: it files a correction (correction_no + 1) with the differences.';
END
$$;
COMMENT ON FUNCTION billy._vat_filings_immutable() IS 'Trigger function: refuses UPDATE, DELETE and TRUNCATE of filed VAT returns. Internal.';

CREATE TRIGGER immutable BEFORE UPDATE OR DELETE ON billy.vat_filings
    FOR EACH ROW EXECUTE FUNCTION billy._vat_filings_immutable();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON billy.vat_filings
    FOR EACH STATEMENT EXECUTE FUNCTION billy._vat_filings_immutable();
CREATE TRIGGER immutable BEFORE UPDATE OR DELETE ON billy.vat_filing_lines
    FOR EACH ROW EXECUTE FUNCTION billy._vat_filings_immutable();
CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON billy.vat_filing_lines
    FOR EACH STATEMENT EXECUTE FUNCTION billy._vat_filings_immutable();

-- _vat_lines_digest: SHA-256 over a drill-down, in a fixed order
CREATE FUNCTION billy._vat_lines_digest(lines jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN encode(sha256(convert_to(coalesce((
    SELECT string_agg(concat_ws('|', e ->> 'field', e ->> 'document_type', e ->> 'document_id', e ->> 'line_id', e ->> 'amount'),
                      E'\n' ORDER BY e ->> 'field' COLLATE "C", e ->> 'document_type' COLLATE "C",
                                     e ->> 'document_id' COLLATE "C", e ->> 'line_id' COLLATE "C", e ->> 'amount' COLLATE "C")
    FROM jsonb_array_elements(lines) e), ''), 'UTF8')), 'hex');
COMMENT ON FUNCTION billy._vat_lines_digest(jsonb) IS 'SHA-256 (hex) of a VAT drill-down given as a jsonb array of {field, document_type, document_id, line_id, amount}, in a fixed order. Internal.';

CREATE FUNCTION billy._vat_filing_hash(f billy.vat_filings) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN encode(sha256(convert_to(concat_ws('|',
    f.organization_id, f.period, f.period_type, f.start_date::text, f.end_date::text,
    coalesce(f.deadline::text, ''), f.correction_no::text,
    to_char(f.filed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), f.filed_by::text,
    f.fields::text, f.entries::text, f.lines_digest, coalesce(f.differences::text, ''),
    coalesce(f.previous_hash, '')), 'UTF8')), 'hex');
COMMENT ON FUNCTION billy._vat_filing_hash(billy.vat_filings) IS 'SHA-256 (hex) of a filing''s content and its predecessor''s hash. Internal.';

CREATE FUNCTION billy.vat_file(org text, period text, allow_incomplete boolean DEFAULT false)
RETURNS billy.vat_filings
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record := billy._vat_args(org, period);
    org_id text := p.org_id;
    r billy.vat_return_result;
    fields jsonb;
    lines jsonb;
    digest text;
    prev billy.vat_filings;
    last_hash text;
    f billy.vat_filings;
    diff jsonb;
    docs jsonb;
    ndocs bigint;
BEGIN
    IF p.period_type NOT IN ('month', 'quarter', 'half-year') THEN
        RAISE EXCEPTION 'only a VAT period can be filed, and "%" is a % period', period, p.period_type
            USING ERRCODE = '22023', HINT = 'File a month (2025-03), a quarter (2025-Q1) or a half-year (2025-H2).';
    END IF;
    IF p.end_date >= current_date THEN
        RAISE EXCEPTION 'VAT period % has not ended yet', p.key
            USING ERRCODE = '55000', DETAIL = format('It ends on %s.', p.end_date),
                  HINT = 'File it after the period has ended; billy.vat_return shows it meanwhile.';
    END IF;
    -- one filer per organization at a time: corrections and the chain stay in order
    PERFORM pg_advisory_xact_lock(hashtext('billy vat_file'), hashtext(org_id));

    r := billy._vat_return(org_id, p.key, p.period_type, p.start_date, p.end_date);
    IF r.unmapped_lines > 0 AND NOT allow_incomplete THEN
        RAISE EXCEPTION 'VAT period % has % line(s) on no field', p.key, r.unmapped_lines
            USING ERRCODE = '55000',
                  DETAIL = 'Their tax rate has no VAT treatment, or they are journal entry lines in a foreign currency whose booking the mirror does not hold yet: the return would be incomplete.',
                  HINT = 'See SELECT * FROM billy.vat_check(org, period); map the rates with billy.vat_map_rate, or pass allow_incomplete => true.';
    END IF;
    fields := to_jsonb(r);
    SELECT coalesce(jsonb_agg(jsonb_build_object('field', l.field, 'document_type', l.document_type,
                                                 'document_id', l.document_id, 'document_no', l.document_no,
                                                 'line_id', l.line_id, 'amount', l.amount)), '[]')
    INTO lines
    FROM billy.vat_return_lines(org_id, p.key) l;
    digest := billy._vat_lines_digest(lines);

    SELECT * INTO prev FROM billy.vat_filings x
    WHERE x.organization_id = org_id AND x.start_date = p.start_date AND x.end_date = p.end_date
    ORDER BY x.correction_no DESC LIMIT 1;
    IF FOUND AND prev.fields = fields AND prev.lines_digest = digest THEN
        RAISE NOTICE 'VAT period % is unchanged since filing % (correction %); nothing filed', p.key, prev.id, prev.correction_no;
        RETURN prev;
    END IF;

    IF prev.id IS NOT NULL THEN
        SELECT jsonb_object_agg(k.field, jsonb_build_object(
                   'filed', (prev.fields ->> (k.field || '_exact'))::numeric,
                   'now', (fields ->> (k.field || '_exact'))::numeric,
                   'difference', (fields ->> (k.field || '_exact'))::numeric - (prev.fields ->> (k.field || '_exact'))::numeric,
                   'filed_reported', (prev.fields ->> (k.field || '_reported'))::numeric,
                   'reported', (fields ->> (k.field || '_reported'))::numeric,
                   'reported_difference', (fields ->> (k.field || '_reported'))::numeric - (prev.fields ->> (k.field || '_reported'))::numeric))
        INTO diff
        FROM (SELECT vf.field, vf.field_no FROM billy.vat_fields vf UNION ALL SELECT 'tilsvar', 17) k
        WHERE (prev.fields ->> (k.field || '_exact'))::numeric IS DISTINCT FROM (fields ->> (k.field || '_exact'))::numeric;
        -- the documents whose contribution to a field changed
        WITH was AS (
            SELECT l.field, l.document_type, l.document_id, max(l.document_no) AS document_no, sum(l.amount) AS amount
            FROM billy.vat_filing_lines l WHERE l.filing_id = prev.id
            GROUP BY 1, 2, 3
        ), now_ AS (
            SELECT e ->> 'field' AS field, e ->> 'document_type' AS document_type, e ->> 'document_id' AS document_id,
                   max(e ->> 'document_no') AS document_no, sum((e ->> 'amount')::numeric) AS amount
            FROM jsonb_array_elements(lines) e
            GROUP BY 1, 2, 3
        ), d AS (
            SELECT coalesce(n.field, w.field) AS field, coalesce(n.document_type, w.document_type) AS document_type,
                   coalesce(n.document_id, w.document_id) AS document_id,
                   coalesce(n.document_no, w.document_no) AS document_no,
                   coalesce(w.amount, 0) AS filed, coalesce(n.amount, 0) AS now_amount
            FROM now_ n FULL JOIN was w
              ON w.field = n.field AND w.document_type = n.document_type
             AND w.document_id IS NOT DISTINCT FROM n.document_id
            WHERE coalesce(w.amount, 0) <> coalesce(n.amount, 0)
        )
        SELECT count(DISTINCT (d.document_type, d.document_id)),
               (SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.document_type, x.document_id, x.field), '[]')
                FROM (SELECT d2.document_type, d2.document_id, d2.document_no, d2.field, d2.filed,
                             d2.now_amount AS now, d2.now_amount - d2.filed AS difference
                      FROM d d2 ORDER BY 1, 2, 4 LIMIT 500) x)
        INTO ndocs, docs
        FROM d;
        diff := jsonb_build_object('correction_of', prev.id, 'fields', coalesce(diff, '{}'),
                                   'documents_changed', ndocs, 'documents', docs);
    END IF;

    SELECT x.hash INTO last_hash FROM billy.vat_filings x
    WHERE x.organization_id = org_id ORDER BY x.id DESC LIMIT 1;

    f.organization_id := org_id;
    f.period := p.key;
    f.period_type := p.period_type;
    f.start_date := p.start_date;
    f.end_date := p.end_date;
    f.deadline := r.deadline;
    f.correction_no := coalesce(prev.correction_no + 1, 0);
    f.filed_at := now();
    f.filed_by := CURRENT_USER;
    f.fields := fields;
    f.entries := jsonb_array_length(lines);
    f.lines_digest := digest;
    f.differences := diff;
    f.previous_hash := last_hash;
    f.hash := billy._vat_filing_hash(f);

    INSERT INTO billy.vat_filings (organization_id, period, period_type, start_date, end_date, deadline,
                                   correction_no, filed_at, filed_by, fields, entries, lines_digest,
                                   differences, previous_hash, hash)
    VALUES (f.organization_id, f.period, f.period_type, f.start_date, f.end_date, f.deadline,
            f.correction_no, f.filed_at, f.filed_by, f.fields, f.entries, f.lines_digest,
            f.differences, f.previous_hash, f.hash)
    RETURNING * INTO f;
    INSERT INTO billy.vat_filing_lines (filing_id, organization_id, field, document_type, document_id,
                                        document_no, line_id, amount)
    SELECT f.id, org_id, e ->> 'field', e ->> 'document_type', e ->> 'document_id', e ->> 'document_no',
           e ->> 'line_id', (e ->> 'amount')::numeric
    FROM jsonb_array_elements(lines) e;
    RETURN f;
END
$$;
COMMENT ON FUNCTION billy.vat_file(text, text, boolean) IS
'Files the VAT return of an ended period (month, quarter or half-year) of an organization: stores the return as computed now (billy.vat_return), its drill-down (billy.vat_filing_lines) and a SHA-256 hash chained to the organization''s previous filing, in billy.vat_filings, where nothing can be changed or deleted (Bogføringsloven). The first filing of a period has correction_no 0; filing again after the books changed files a correction (correction_no + 1) whose differences list each changed field (filed, now, difference) and each changed document; filing again without changes files nothing and returns the latest filing. Refuses a period with lines whose tax rate has no VAT treatment unless allow_incomplete. billy.vat_file does not send anything to Skattestyrelsen: it records what was (or is to be) reported.';

CREATE FUNCTION billy.vat_verify_filings(org text DEFAULT NULL)
RETURNS TABLE (filing_id bigint, organization_id text, period text, correction_no integer, ok boolean, problem text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org_id text := CASE WHEN org IS NULL THEN NULL ELSE billy._resolve_org(org) END;
    f billy.vat_filings;
    prev_hash text;
    prev_org text;
    expected_no integer;
    stored_digest text;
    n bigint;
BEGIN
    FOR f IN SELECT * FROM billy.vat_filings x WHERE org_id IS NULL OR x.organization_id = org_id
             ORDER BY x.organization_id, x.id LOOP
        IF prev_org IS DISTINCT FROM f.organization_id THEN
            prev_hash := NULL;
            prev_org := f.organization_id;
        END IF;
        SELECT billy._vat_lines_digest(coalesce(jsonb_agg(jsonb_build_object(
                   'field', l.field, 'document_type', l.document_type, 'document_id', l.document_id,
                   'line_id', l.line_id, 'amount', l.amount)), '[]')), count(*)
        INTO stored_digest, n
        FROM billy.vat_filing_lines l WHERE l.filing_id = f.id;
        SELECT coalesce(max(x.correction_no) + 1, 0) INTO expected_no FROM billy.vat_filings x
        WHERE x.organization_id = f.organization_id AND x.start_date = f.start_date
          AND x.end_date = f.end_date AND x.id < f.id;
        filing_id := f.id;
        organization_id := f.organization_id;
        period := f.period;
        correction_no := f.correction_no;
        problem := CASE
            WHEN billy._vat_filing_hash(f) <> f.hash THEN 'the filing''s content does not match its hash'
            WHEN f.previous_hash IS DISTINCT FROM prev_hash THEN 'the chain is broken: previous_hash is not the hash of the organization''s previous filing'
            WHEN stored_digest <> f.lines_digest OR n <> f.entries THEN 'the stored lines do not match lines_digest'
            WHEN f.correction_no <> expected_no THEN format('correction_no should be %s', expected_no)
        END;
        ok := problem IS NULL;
        prev_hash := f.hash;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION billy.vat_verify_filings(text) IS
'Checks the filed VAT returns of an organization (all visible ones when org is NULL): each filing''s hash matches its content, its previous_hash is the hash of the organization''s filing before it, its stored lines match lines_digest, and corrections are numbered 0, 1, 2... per period. One row per filing with ok and, when not ok, the problem.';

------------------------------------------------------------------------------
-- Checks
------------------------------------------------------------------------------

-- a finding of billy.vat_check, as its parts below return them
CREATE TYPE billy._vat_finding AS (severity text, code text, document_type text, document_id text, document_no text,
                                   entry_date date, line_id text, message text);
COMMENT ON TYPE billy._vat_finding IS 'A row of billy.vat_check, as its parts (billy._vat_check_lines, billy._vat_check_drafts) return it. Internal.';

-- _vat_check_lines: what billy.vat_check finds on the lines of a period
CREATE FUNCTION billy._vat_check_lines(org_id text, from_date date, to_date date) RETURNS SETOF billy._vat_finding
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    WITH l AS (
        SELECT v.*, c.registration_no, c.type AS contact_type
        FROM billy.vat_lines v
        LEFT JOIN billy.contacts c ON c.organization_id = v.organization_id AND c.id = v.contact_id
        WHERE v.organization_id = org_id AND v.entry_date BETWEEN from_date AND to_date
    ), found AS (
        SELECT 'error' AS severity, 'unmapped_rate' AS code, l.*,
               format('tax rate %s has no VAT treatment, so the line is on no field (net %s): map it with billy.vat_map_rate',
                      coalesce(l.tax_rate, l.tax_rate_id, 'NULL'), l.net_base) AS message
        FROM l WHERE l.status = 'unmapped'
        UNION ALL
        SELECT 'error', 'wrong_side', l.*,
               format('tax rate %s (%s) is for %s, but the line is on %s %s', l.tax_rate, l.treatment,
                      CASE WHEN l.document_type = 'bill' THEN 'sales' ELSE 'purchases' END,
                      CASE WHEN l.document_type = 'bill' THEN 'a' ELSE 'an' END, l.document_type)
        FROM l WHERE l.status = 'wrong_side'
        UNION ALL
        SELECT 'error', 'zero_rate_domestic_sale', l.*,
               format('a sale without Danish VAT (%s) to a Danish customer: domestic sales carry 25%% VAT', l.treatment)
        FROM l WHERE l.document_type = 'invoice' AND l.contact_region = 'DK'
                 AND l.treatment IN ('sale_eu_goods', 'sale_eu_goods_unlisted', 'sale_eu_services', 'sale_abroad')
        UNION ALL
        SELECT 'warning', 'eu_sale_without_vat_number', l.*,
               format('a VAT-free EU sale (%s) to a buyer without a VAT number: only VAT-registered businesses may buy VAT-free (rubrik B, EU-salg uden moms)', l.treatment)
        FROM l WHERE l.document_type = 'invoice' AND l.contact_region IS DISTINCT FROM 'non-EU'
                 AND l.contact_region IS DISTINCT FROM 'DK'
                 AND l.treatment IN ('sale_eu_goods', 'sale_eu_goods_unlisted', 'sale_eu_services')
                 AND (coalesce(btrim(l.registration_no), '') = '' OR l.contact_type = 'person')
        UNION ALL
        SELECT 'warning', 'eu_sale_outside_eu', l.*,
               format('an EU sale rate (%s) on a sale to %s, outside the EU: counted in rubrik C', l.tax_rate, l.contact_country)
        FROM l WHERE l.document_type = 'invoice' AND l.contact_region = 'non-EU'
                 AND l.treatment IN ('sale_eu_goods', 'sale_eu_goods_unlisted', 'sale_eu_services')
        UNION ALL
        SELECT 'warning', 'vat_on_export', l.*,
               format('Danish VAT (%s) on a sale to %s, outside the EU: exports are VAT-free (rubrik C)', l.tax_base, l.contact_country)
        FROM l WHERE l.document_type = 'invoice' AND l.contact_region = 'non-EU' AND l.tax <> 0
        UNION ALL
        SELECT 'warning', 'vat_on_eu_business_sale', l.*,
               format('Danish VAT (%s) on a sale to a business in %s with VAT number %s: EU business sales are normally VAT-free (rubrik B)',
                      l.tax_base, l.contact_country, l.registration_no)
        FROM l WHERE l.document_type = 'invoice' AND l.contact_region = 'EU' AND l.tax <> 0
                 AND coalesce(btrim(l.registration_no), '') <> '' AND l.contact_type IS DISTINCT FROM 'person'
        UNION ALL
        SELECT 'warning', 'foreign_vat_on_reverse_charge', l.*,
               format('VAT %s stored on a reverse-charge line (%s) was ignored: VAT charged by a foreign supplier is not deductible in Denmark; the buyer''s VAT is computed on the net', l.tax_base, l.tax_rate)
        FROM l WHERE l.document_type = 'bill' AND l.status = 'ok' AND l.computed_vat <> 0 AND l.tax <> 0
        UNION ALL
        SELECT 'warning', 'reverse_charge_region', l.*,
               format('reverse-charge rate %s (%s) on a bill from a supplier in %s', l.tax_rate, l.treatment, l.contact_country)
        FROM l WHERE l.document_type = 'bill' AND l.status = 'ok'
                 AND ((l.treatment IN ('purchase_eu_goods', 'purchase_eu_services') AND l.contact_region IN ('DK', 'non-EU'))
                      OR (l.treatment = 'purchase_non_eu_services' AND l.contact_region IN ('DK', 'EU')))
        UNION ALL
        SELECT 'error', 'journal_line_not_booked', l.*,
               format('a journal entry line in %s (%s) whose postings in the base currency are not in the mirror, so it is on no field: sync the transactions (billy.sync)',
                      l.currency_id, abs(l.net))
        FROM l WHERE l.status = 'unbooked'
        UNION ALL
        SELECT 'info', 'contact_without_country', l.*,
               format('the contact has no country, so billy cannot tell EU from non-EU for %s', l.treatment)
        FROM l WHERE l.contact_region IS NULL
                 AND l.treatment IN ('sale_eu_goods', 'sale_eu_goods_unlisted', 'sale_eu_services', 'sale_abroad',
                                     'purchase_eu_goods', 'purchase_eu_services', 'purchase_non_eu_services')
    )
    SELECT DISTINCT ON (f.code, f.document_type, f.document_id)
           f.severity, f.code, f.document_type, f.document_id, f.document_no, f.entry_date, f.line_id, f.message
    FROM found f
    ORDER BY f.code, f.document_type, f.document_id, f.line_id;

END
$$;
COMMENT ON FUNCTION billy._vat_check_lines(text, date, date) IS 'The findings of billy.vat_check on the VAT lines of an organization''s date range (unmapped_rate to contact_without_country, journal_line_not_booked), one per code and document. Internal.';

-- _vat_check_drafts: drafts dated in a period are not on its return
CREATE FUNCTION billy._vat_check_drafts(org_id text, from_date date, to_date date) RETURNS SETOF billy._vat_finding
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'info', 'draft_in_period', 'invoice', i.id, i.invoice_no, i.entry_date, NULL::text,
           format('draft %s dated in the period: not on the return until approved', CASE i.type WHEN 'creditNote' THEN 'credit note' ELSE 'invoice' END)
    FROM billy.invoices i
    WHERE i.organization_id = org_id AND i.deleted_at IS NULL AND i.state = 'draft'
      AND i.entry_date BETWEEN from_date AND to_date
    UNION ALL
    SELECT 'info', 'draft_in_period', 'bill', b.id, b.voucher_no, b.entry_date, NULL,
           'draft bill dated in the period: not on the return until approved'
    FROM billy.bills b
    WHERE b.organization_id = org_id AND b.deleted_at IS NULL AND b.state = 'draft'
      AND b.entry_date BETWEEN from_date AND to_date
    UNION ALL
    -- a draft journal entry counts when a line has a tax rate (the others are no VAT lines when approved either)
    SELECT 'info', 'draft_in_period', 'daybookTransaction', j.id, j.voucher_no, j.entry_date, NULL,
           format('draft journal entry with %s line(s) with a tax rate dated in the period: not on the return until approved', n.lines)
    FROM billy.daybook_transactions j
    CROSS JOIN LATERAL (SELECT count(*) AS lines FROM billy.daybook_transaction_lines l
                        WHERE l.organization_id = j.organization_id AND l.daybook_transaction_id = j.id
                          AND l.tax_rate_id IS NOT NULL) n
    WHERE j.organization_id = org_id AND j.deleted_at IS NULL AND j.state = 'draft'
      AND j.entry_date BETWEEN from_date AND to_date AND n.lines > 0
    ORDER BY 3, 4
$$;
COMMENT ON FUNCTION billy._vat_check_drafts(text, date, date) IS 'The draft_in_period findings of billy.vat_check: draft invoices, credit notes and bills, and draft journal entries with a line with a tax rate, dated in an organization''s date range. Internal.';

CREATE FUNCTION billy.vat_check(org text, period text)
RETURNS TABLE (severity text, code text, document_type text, document_id text, document_no text,
               entry_date date, line_id text, message text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record := billy._vat_args(org, period);
    org_id text := p.org_id;
    o record;
    r billy.vat_return_result;
    last_filing billy.vat_filings;
    changed text;
BEGIN
    SELECT x.vat_period INTO o FROM billy.organizations x WHERE x.id = org_id;

    RETURN QUERY SELECT * FROM billy._vat_check_lines(org_id, p.start_date, p.end_date);

    -- drafts dated in the period are not on the return
    RETURN QUERY SELECT * FROM billy._vat_check_drafts(org_id, p.start_date, p.end_date);

    -- the period itself: Billy's own return, the mirror, filings
    RETURN QUERY
    SELECT 'warning', 'billy_deadline_differs', 'sales_tax_return', s.id, s.period, s.end_date, NULL::text,
           format('Billy''s sales tax return %s is due %s, billy computes %s', s.period, s.report_deadline,
                  billy._next_business_day(billy._vat_statutory_deadline(p.period_type, p.end_date)))
    FROM billy.sales_tax_returns s
    WHERE s.organization_id = org_id AND s.deleted_at IS NULL
      AND s.start_date = p.start_date AND s.end_date = p.end_date
      AND p.period_type IN ('month', 'quarter', 'half-year')
      AND s.report_deadline IS DISTINCT FROM billy._next_business_day(billy._vat_statutory_deadline(p.period_type, p.end_date));

    IF p.period_type IN ('month', 'quarter', 'half-year') AND o.vat_period IS NOT NULL
       AND replace(lower(o.vat_period), 'halfyear', 'half-year') <> p.period_type THEN
        RETURN QUERY SELECT 'info', 'period_type', NULL::text, NULL::text, NULL::text, NULL::date, NULL::text,
            format('the organization files per %s in Billy, but %s is a %s', o.vat_period, p.key, p.period_type);
    END IF;
    IF p.end_date >= current_date THEN
        RETURN QUERY SELECT 'info', 'period_open', NULL::text, NULL::text, NULL::text, NULL::date, NULL::text,
            format('the period ends on %s: documents may still be added', p.end_date);
    END IF;
    RETURN QUERY
    SELECT 'warning', 'not_synced', NULL::text, NULL::text, NULL::text, NULL::date, NULL::text,
           format('%s have never been synced completely: the return may miss documents (billy.sync)', res)
    FROM unnest(ARRAY['invoices', 'bills', 'taxRates', 'contacts']) res
    WHERE NOT EXISTS (SELECT 1 FROM billy.sync_state s
                      WHERE s.organization_id = org_id AND s.resource = res AND s.last_complete_scan_at IS NOT NULL);

    SELECT * INTO last_filing FROM billy.vat_filings x
    WHERE x.organization_id = org_id AND x.start_date = p.start_date AND x.end_date = p.end_date
    ORDER BY x.correction_no DESC LIMIT 1;
    IF FOUND THEN
        r := billy._vat_return(org_id, p.key, p.period_type, p.start_date, p.end_date);
        SELECT string_agg(format('%s %s -> %s', k.field, last_filing.fields ->> (k.field || '_exact'),
                                 to_jsonb(r) ->> (k.field || '_exact')), ', ' ORDER BY k.field_no)
        INTO changed
        FROM (SELECT vf.field, vf.field_no FROM billy.vat_fields vf) k
        WHERE (last_filing.fields ->> (k.field || '_exact'))::numeric IS DISTINCT FROM (to_jsonb(r) ->> (k.field || '_exact'))::numeric;
        IF changed IS NOT NULL THEN
            RETURN QUERY SELECT 'warning', 'changed_since_filed', 'vat_filing', last_filing.id::text,
                last_filing.correction_no::text, NULL::date, NULL::text,
                format('the return differs from the one filed %s (correction %s): %s; file a correction with billy.vat_file',
                       last_filing.filed_at, last_filing.correction_no, changed);
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION billy.vat_check(text, text) IS
'What may make the VAT return of a period wrong, one row per finding (severity error, warning or info; a code; the document and line; a message): lines whose tax rate has no VAT treatment (unmapped_rate) or one for the other side (wrong_side); 0% sales to Danish customers (zero_rate_domestic_sale); VAT-free EU sales to buyers without a VAT number (eu_sale_without_vat_number) or outside the EU (eu_sale_outside_eu); Danish VAT on exports (vat_on_export) or on EU business sales (vat_on_eu_business_sale); foreign VAT on reverse-charge bills (foreign_vat_on_reverse_charge); reverse-charge rates that do not fit the supplier''s country (reverse_charge_region); journal entry lines in a foreign currency whose booking in the base currency the mirror does not hold yet (journal_line_not_booked); contacts without a country (contact_without_country); drafts dated in the period (draft_in_period: invoices, credit notes, bills, and journal entries with a line with a tax rate); differences against Billy''s own sales tax return for the period (billy_deadline_differs) and the organization''s VAT period type (period_type); an open period (period_open); resources never synced completely (not_synced); and a return that changed since it was filed (changed_since_filed).';

------------------------------------------------------------------------------
-- Security: row-level security, dumps, grants
------------------------------------------------------------------------------

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['vat_rate_overrides', 'vat_adjustments', 'vat_filings', 'vat_filing_lines', '_vat_facts',
                             'vat_booked_countries']
    LOOP
        IF t = '_vat_facts' THEN
            -- derived: not dumped (the triggers refill it on restore), written by its triggers only
            EXECUTE 'ALTER TABLE billy._vat_facts ENABLE ROW LEVEL SECURITY';
            EXECUTE 'CREATE POLICY visible ON billy._vat_facts FOR SELECT USING ((SELECT billy._sees_all()) '
                    'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))';
            CONTINUE;
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
        EXECUTE pg_catalog.format('CREATE POLICY admins_write ON billy.%I FOR ALL TO billy_admin USING (true) WITH CHECK (true)', t);
        EXECUTE pg_catalog.format('GRANT SELECT ON billy.%I TO billy_reader', t);
        EXECUTE pg_catalog.format('SELECT pg_catalog.pg_extension_config_dump(%L, %L)', 'billy.' || t, '');
    END LOOP;
END
$rls$;

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
GRANT SELECT ON billy.eu_countries, billy.vat_fields, billy.vat_treatments, billy.vat_rate_seeds,
                billy.vat_rate_map, billy.vat_lines, billy._vat_contacts, billy._vat_rates, billy._vat_routes,
                billy._vat_facts, billy._vat_booked TO billy_reader;
GRANT INSERT, UPDATE, DELETE ON billy.vat_rate_overrides, billy.vat_adjustments TO billy_admin;
GRANT INSERT, UPDATE, DELETE ON billy.eu_countries, billy.vat_rate_seeds TO billy_admin;
GRANT INSERT ON billy.vat_filings, billy.vat_filing_lines TO billy_admin;
GRANT USAGE ON TYPE billy.vat_return_result TO billy_reader;
GRANT USAGE ON TYPE billy._vat_finding TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.danish_holidays(integer) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._easter_sunday(integer) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._next_business_day(date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_period(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_args(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_region(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_statutory_deadline(text, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_return(text, text, text, date, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_lines_digest(jsonb) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_filing_hash(billy.vat_filings) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_deadline(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_period_type(numeric, interval) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_rate(numeric) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_from_gross(numeric, numeric) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_from_net(numeric, numeric) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_return(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_return_form(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_return_lines(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_periods(text, integer, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_check(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_check_lines(text, date, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._vat_check_drafts(text, date, date) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_eu_sales(text, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_verify_filings(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.vat_map_rate(text, text, text, numeric, text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.vat_set_adjustment(text, text, text, numeric, text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.vat_file(text, text, boolean) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.vat_rebuild_lines(text) TO billy_admin;

-- lines already in the mirror (an upgrade of a database that has synced)
SELECT billy.vat_rebuild_lines();
