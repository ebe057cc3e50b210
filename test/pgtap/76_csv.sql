-- The CSV reader (RFC 4180 and what spreadsheets write), the checks of import
-- rows with their line numbers, header aliases, the JSON a row becomes, and
-- CSV export quoting.  Nothing is sent; one transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(46);

-- the reader
SELECT is((SELECT array_agg(line ORDER BY line) FROM billy.parse_csv(E'a,b\r\n1,2\r\n3,4')), ARRAY[1, 2, 3],
          'CRLF line ends; a last line without one');
SELECT is((SELECT fields FROM billy.parse_csv(E'a,b\n"x ""quoted"" y","1,5"') WHERE line = 2),
          ARRAY['x "quoted" y', '1,5'], 'doubled quotes become one; a delimiter inside quotes is data');
SELECT is((SELECT fields FROM billy.parse_csv(E'a;b\n"two\r\nlines";z\nnext;row') WHERE line = 2),
          ARRAY[E'two\r\nlines', 'z'], 'a line break inside quotes is data');
SELECT is((SELECT array_agg(line ORDER BY line) FROM billy.parse_csv(E'a;b\n"two\r\nlines";z\nnext;row')), ARRAY[1, 2, 4],
          'and the next record starts on the right line');
SELECT is((SELECT fields FROM billy.parse_csv(E'\uFEFFnavn;by\nÆble;Århus') WHERE line = 1), ARRAY['navn', 'by'],
          'a UTF-8 byte order mark is skipped');
SELECT is((SELECT fields FROM billy.parse_csv(E'a;b,c;d') WHERE line = 1), ARRAY['a', 'b,c', 'd'],
          'the delimiter is detected from the first line: ";" beats ","');
SELECT is((SELECT fields FROM billy.parse_csv(E'a\tb\tc') WHERE line = 1), ARRAY['a', 'b', 'c'], 'a tab too');
SELECT is((SELECT fields FROM billy.parse_csv(E'a;b,c', '{"delimiter": ","}') WHERE line = 1), ARRAY['a;b', 'c'],
          'options.delimiter overrides the detection');
SELECT is((SELECT array_agg(line ORDER BY line) FROM billy.parse_csv(E'a,b\n\n\r\n1,2\n\n')), ARRAY[1, 4], 'empty lines are skipped');
SELECT is((SELECT fields FROM billy.parse_csv(E'a,b,c\n,"",x') WHERE line = 2), ARRAY['', '', 'x'], 'empty fields, quoted or not');
SELECT is((SELECT fields FROM billy.parse_csv(E'size\n15" skærm') WHERE line = 2), ARRAY['15" skærm'],
          'a quote inside an unquoted field is a character');
SELECT is((SELECT fields FROM billy.parse_csv(E'a\rb\rc') WHERE line = 3), ARRAY['c'], 'old Mac CR line ends');
SELECT throws_ok($$SELECT * FROM billy.parse_csv(E'a,b\n1,2\n"open,3\n4,5')$$, '22023',
                 'line 3: a quoted field is not closed', 'an unclosed quote names the line it starts on');
SELECT throws_ok($$SELECT * FROM billy.parse_csv(E'a,b\n"x"y,2')$$, '22023',
                 'line 2: text follows a closing quote', 'text after a closing quote names its line');

-- checking import rows: header aliases, every problem with line, column and field
SELECT is(billy.check_csv('contacts', E'Navn;CVR-nr.;Adresse;Post nr;By;Land;Telefon;E-mail;EAN;Type\n'
                                      'Jensen ApS;29 40 34 73;Vej 1;8000;Aarhus;DK;+45 12 34 56 78;a@b.dk;5790000000000;Virksomhed\n'
                                      'Hansen;;Vej 2;8000;Aarhus;dk;;;;privat') - 'problems',
          '{"rows": 2, "valid": 2, "invalid": 0, "delimiter": ";", "decimal": ","}',
          'Danish headers (Navn, CVR-nr., Post nr, By, Land...) are understood; a ";" file gets a decimal comma');
SELECT is(billy.check_csv('contacts', E'name,registrationNo,email,country,ean,type,paymentTermsDays\n'
                                      'A,12345678,a@b.dk,DK,,,\n'
                                      'B,,not-an-email,DK,123,firm,\n'
                                      ',,,Denmark,,,999999\n'
                                      'D,ABC/123,,SE,,,\n'
                                      'E,1') -> 'problems',
          '[{"line": 2, "column": 2, "field": "registrationNo", "message": "is not a valid CVR number (8 digits passing the modulus 11 check)"},
            {"line": 3, "column": 3, "field": "email", "message": "is not an e-mail address"},
            {"line": 3, "column": 5, "field": "ean", "message": "is not an EAN number (13 digits)"},
            {"line": 3, "column": 6, "field": "type", "message": "is neither company (virksomhed) nor person (privat)"},
            {"line": 4, "column": 1, "field": "name", "message": "is required"},
            {"line": 4, "column": 4, "field": "countryId", "message": "is not a two-letter country code (DK, SE, DE...)"},
            {"line": 4, "column": 7, "field": "paymentTermsDays", "message": "is not a number of days from 0 to 3650"},
            {"line": 6, "column": 0, "field": "", "message": "has 2 fields; the header has 7"}]',
          'every bad field is named with its line and column; a Swedish registration number is not checked as a CVR number');
-- 12345678: 1*2+2*7+3*6+4*5+5*4+6*3+7*2+8*1 = 114 = 10*11+4, so it fails; 29403473: 4+63+24+0+12+12+14+3 = 132 = 12*11
SELECT is((billy.check_csv('contacts', E'name;cvr\nA;29403473\nB;DK29403473\nC;29403474') ->> 'invalid')::int, 1,
          'CVR numbers by modulus 11, with or without the DK prefix');
SELECT is(billy.check_csv('products', E'varenr;navn;pris\n1;A;"1.234,50"\n2;B;1234,5\n3;C;"12.34,5"\n4;D;1,234\n5;E;-7\n6;F;abc') -> 'problems',
          '[{"line": 4, "column": 3, "field": "unitPrice", "message": "groups thousands wrongly"},
            {"line": 5, "column": 3, "field": "unitPrice", "message": "has more than 2 decimals"},
            {"line": 7, "column": 3, "field": "unitPrice", "message": "is not a number"}]',
          'amounts with a decimal comma: thousands grouped in threes, at most 2 decimals');
SELECT throws_ok($$SELECT billy.check_csv('contacts', E'navn;fax2\nA;1')$$, '22023',
                 'line 1, column 2: "fax2" is not a contact field billy knows', 'an unknown column is an error naming it');
SELECT is(billy.check_csv('contacts', E'navn;fax2\nA;1', '{"ignore_unknown_columns": true}') ->> 'valid', '1',
          'unless unknown columns are to be ignored');
SELECT throws_ok($$SELECT billy.check_csv('contacts', E'by;postnr\nA;1')$$, '22023', 'the CSV has no name column', 'a missing name column');
SELECT throws_ok($$SELECT billy.check_csv('contacts', E'navn;name\nA;B')$$, '22023', 'line 1, column 2: "name" is name again',
                 'a field named twice');
SELECT throws_ok($$SELECT billy.check_csv('invoices', 'x')$$, '22023', 'resource must be contacts or products, not "invoices"', 'imports are of contacts or products');

-- the JSON a row becomes
SELECT is((SELECT record FROM billy._csv_records('contacts', E'navn;cvr;email;kontaktperson;kunde;betalingsfrist;sprog\nJensen ApS;29403473;a@b.dk;Ida;ja;14;da', '{}')),
          '{"name": "Jensen ApS", "countryId": "DK", "isCustomer": true, "registrationNo": "29403473", "paymentTermsDays": 14,
            "localeId": "da_DK", "contactPersons": [{"name": "Ida", "email": "a@b.dk", "isPrimary": true}]}',
          'a contact row: the country defaults to DK, booleans and numbers typed, the e-mail on a primary contact person');
SELECT is((SELECT record FROM billy._csv_records('products', E'navn;pris;valuta\nLampe;"1.234,50";EUR', '{}')),
          '{"name": "Lampe", "prices": [{"unitPrice": 1234.50, "currencyId": "EUR"}]}', 'a product row: its price in its currency');
SELECT is((SELECT record -> 'prices' FROM billy._csv_records('products', E'name,price\nLamp,99.5', '{"currency": "SEK"}')),
          '[{"unitPrice": 99.50, "currencyId": "SEK"}]', 'options.currency for prices without one');

-- export: quoting and formats (on a mirror built here)
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['contacts', 'invoices']);
UPDATE billy.contacts SET name = 'Semikolon; "Citat" A/S' WHERE organization_id = billy_test.org(1)
    AND id = (SELECT min(id) FROM billy.contacts WHERE organization_id = billy_test.org(1) AND NOT is_archived);
SELECT is((SELECT count(*) FROM billy.parse_csv(billy.export_contacts_csv(billy_test.org(1), '{}', '{"format": "danish"}'))
           WHERE fields[1] = 'Semikolon; "Citat" A/S'), 1::bigint,
          'a name with a delimiter and quotes survives export and reading back');
SELECT is(split_part(billy.export_contacts_csv(billy_test.org(1), '{}', '{"language": "da", "delimiter": ";"}'), E'\r\n', 1),
          'navn;type;land;adresse;postnr;by;cvr;ean;telefon;email;kundenr;kunde;leverandør;betalingsfrist;valuta;sprog',
          'Danish column names, which the importer reads back');
SELECT is((SELECT count(*) FROM billy.export_invoices(billy_test.org(1), '{"from": "2026-01-01", "to": "2026-03-31", "type": "invoice"}')),
          (SELECT count(*) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL
             AND entry_date BETWEEN '2026-01-01' AND '2026-03-31' AND type = 'invoice'),
          'export_invoices filters by date and type (for COPY)');
SELECT is((SELECT sum(replace(fields[13], ',', '.')::numeric)
           FROM billy.parse_csv(billy.export_invoices_csv(billy_test.org(1), '{"is_paid": false}', '{"delimiter": ";", "decimal": ","}'))
           WHERE line > 1),
          (SELECT sum(amount) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL AND is_paid = false),
          'net amounts with a decimal comma add up to the mirror''s to the øre');
SELECT ok(billy.export_invoices_csv(billy_test.org(1)) LIKE E'invoiceNo,type,state,sentState,entryDate,%\r\n%', 'a header and CRLF by default');
SELECT throws_ok($$SELECT billy.export_invoices_csv(billy_test.org(1), '{"form": "2026-01-01"}')$$, '22023',
                 'filters: unknown argument "form"; the arguments are: to, from, type, state, is_paid, currency, contact_id',
                 'an unknown filter is named, with the ones there are');
SELECT throws_ok($$SELECT billy.export_invoices_csv(billy_test.org(1), '{"state": "paid"}')$$, '22023', NULL,
                 'a state that does not exist is an error, not an empty export');
SELECT throws_ok($$SELECT billy.export_invoices_csv(billy_test.org(1), '{"type": "bill"}')$$, '22023', NULL, 'so is a type');
SELECT throws_ok($$SELECT billy.export_invoices_csv(billy_test.org(1), '{}', '{"decimal": ","}')$$, '22023',
                 'a decimal comma needs another delimiter', 'a decimal comma with "," as delimiter is refused');
SELECT throws_ok($$SELECT billy.export_invoices_csv(billy_test.org(1), '{"to": "2026-13-01"}')$$, '22007',
                 'filters.to "2026-13-01" is not a date (YYYY-MM-DD)', 'a bad date is named');

-- formula cells: text a spreadsheet would run gets a leading apostrophe, in
-- every export and format; numbers (a negative amount too) stay numbers
UPDATE billy.contacts SET name = '=HYPERLINK("http://evil.example","Klik")', phone = '+45 12 34 56 78',
       street = '@SUM(A1)', city = E'\tTab', zipcode = '-2+3', contact_no = E'\rCR'
WHERE organization_id = billy_test.org(1)
  AND id = (SELECT min(id) FROM billy.contacts WHERE organization_id = billy_test.org(1) AND NOT is_archived);
CREATE TEMP TABLE exported AS
SELECT f.format, p.line, p.fields
FROM (VALUES ('standard'), ('danish')) f(format),
     billy.parse_csv(billy.export_contacts_csv(billy_test.org(1), '{}', jsonb_build_object('format', f.format))) p;
SELECT is((SELECT array_agg(fields[1] || '|' || fields[4] || '|' || fields[6] || '|' || fields[5] || '|' || fields[9] || '|' || fields[11] ORDER BY format)
           FROM exported WHERE fields[1] LIKE '%HYPERLINK%'),
          ARRAY[E'''=HYPERLINK("http://evil.example","Klik")|''@SUM(A1)|''\tTab|''-2+3|''+45 12 34 56 78|''\rCR',
                E'''=HYPERLINK("http://evil.example","Klik")|''@SUM(A1)|''\tTab|''-2+3|''+45 12 34 56 78|''\rCR'],
          'contacts: cells beginning with =, @, a tab, -, + or CR get an apostrophe, in the standard and the Danish format');
SELECT is((SELECT count(*)::int FROM exported, unnest(fields) v WHERE line > 1 AND left(v, 1) IN ('=', '+', '-', '@', E'\t', E'\r')), 0,
          'no cell of either contacts export begins with a formula character');
UPDATE billy.invoices SET line_description = '=1+1', amount = -125.5, invoice_no = '+7'
WHERE organization_id = billy_test.org(1)
  AND id = (SELECT min(id) FROM billy.invoices WHERE organization_id = billy_test.org(1) AND deleted_at IS NULL);
SELECT is((SELECT fields[1] || '|' || fields[19] || '|' || fields[13]
           FROM billy.parse_csv(billy.export_invoices_csv(billy_test.org(1), '{}', '{"format": "danish"}')) WHERE fields[19] = '''=1+1'),
          '''+7|''=1+1|-125,5', 'invoices, Danish format: text cells get the apostrophe, a negative amount stays a number');
SELECT is((SELECT count(*)::int FROM billy.parse_csv(billy.export_invoices_csv(billy_test.org(1))) p, unnest(p.fields) WITH ORDINALITY v(v, n)
           WHERE p.line > 1 AND (left(v, 1) IN ('=', '+', '@', E'\t', E'\r') OR (left(v, 1) = '-' AND n NOT IN (12, 13, 14, 15, 16)))), 0,
          'invoices: only the numeric columns may begin with a minus');
-- the import reads billy's apostrophe back; other text as given
SELECT is((SELECT record ->> 'name' || '|' || (record ->> 'phone')
           FROM billy._csv_records('contacts',
                    (SELECT split_part(e, E'\r\n', 1) || E'\r\n' || (SELECT x FROM regexp_split_to_table(e, E'\r\n') x WHERE x LIKE '%HYPERLINK%')
                     FROM billy.export_contacts_csv(billy_test.org(1)) e), '{}')),
          '=HYPERLINK("http://evil.example","Klik")|+45 12 34 56 78',
          'an exported contact imports as it was in Billy: the apostrophe is dropped again');
SELECT is((SELECT array_agg(record ->> 'name') FROM billy._csv_records('contacts', E'name\n''quoted\nplain', '{}')),
          ARRAY['''quoted', 'plain'], 'an apostrophe before anything else is kept, as given');

-- export_invoices_csv over MCP advertises what the function accepts: the
-- same schemas, and each advertised filter and option works
CREATE TEMP TABLE advertised AS
SELECT a.arg, p.key, p.value AS schema
FROM (SELECT input_schema FROM billy.mcp_tools WHERE name = 'export_invoices_csv') t,
     (VALUES ('filters'), ('options')) a(arg), jsonb_each(t.input_schema -> 'properties' -> a.arg -> 'properties') p;
SELECT is((SELECT array_agg(arg || '.' || key ORDER BY arg, key) FROM advertised),
          ARRAY['filters.contact_id', 'filters.currency', 'filters.from', 'filters.is_paid', 'filters.state', 'filters.to', 'filters.type',
                'options.bom', 'options.decimal', 'options.delimiter', 'options.format', 'options.header', 'options.language', 'options.newline'],
          'the tool advertises the filters and options the function has');
SELECT is((SELECT string_agg(arg || '.' || key || ': ' || r, '; ') FROM (
               SELECT arg, key, billy_test.try(format('SELECT billy.export_invoices_csv(%L, %L, %L)', billy_test.org(1),
                   CASE WHEN arg = 'filters' THEN jsonb_build_object(key, v) ELSE '{}' END,
                   CASE WHEN arg = 'options' THEN jsonb_build_object(key, v) ELSE '{}' END)) AS r
               FROM (SELECT arg, key, CASE WHEN schema ? 'enum' THEN schema -> 'enum' -> 0
                                           WHEN schema ->> 'type' = 'boolean' THEN 'true'
                                           WHEN schema ->> 'format' = 'date' THEN '"2026-01-01"'
                                           WHEN key = 'currency' THEN '"DKK"' ELSE '"x"' END AS v
                     FROM advertised) s) t WHERE r <> 'ok'),
          NULL, 'the function accepts every advertised filter and option');
SELECT is((SELECT string_agg((r ->> 'isError') || ': ' || (r -> 'content' -> 0 ->> 'text'), ' / ' ORDER BY n)
           FROM (SELECT n, billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call', 'params',
                     jsonb_build_object('name', 'export_invoices_csv', 'arguments',
                         jsonb_build_object('organization', billy_test.org(1)) || a))) -> 'result' AS r
                 FROM (VALUES (1, '{"filters": {"paid": true}}'::jsonb), (2, '{"options": {"danish": true}}')) v(n, a)) x),
          'true: invalid arguments: "filters" has no member "paid" / true: invalid arguments: "options" has no member "danish"',
          'what the tool used to advertise (filters.paid, options.danish) is refused before the call, naming what there is');
SELECT alike((SELECT billy.mcp(jsonb_build_object('jsonrpc', '2.0', 'id', 1, 'method', 'tools/call', 'params',
                 jsonb_build_object('name', 'export_invoices_csv', 'arguments',
                     jsonb_build_object('organization', billy_test.org(1), 'filters', '{"is_paid": false}'::jsonb,
                                        'options', '{"format": "danish"}'::jsonb)))) -> 'result' -> 'structuredContent' ->> 'result'),
            E'\uFEFFFakturanr;Type;%', 'and what it advertises works through MCP');

SELECT * FROM finish();
ROLLBACK;
