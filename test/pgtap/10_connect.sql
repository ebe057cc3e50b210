-- Connecting organizations against billy-sandbox: good and bad tokens,
-- unreachable servers, slow servers, rate limits, oversized and invalid
-- answers.  Runs in a transaction and leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(27);

SELECT billy_test.clear_faults();

-- a good token
SELECT is(billy.connect(billy_test.token(1), billy_test.setting('api_url')), billy_test.org(1),
          'a good token connects and returns the organization it opens');
SELECT is((SELECT name FROM billy.organizations WHERE id = billy_test.org(1)),
          (SELECT name FROM billy_test.orgs WHERE n = 1),
          'the organization is stored with its name');
SELECT ok((SELECT raw ? 'baseCurrencyId' AND base_currency IS NOT NULL FROM billy.organizations WHERE id = billy_test.org(1)),
          'Billy''s organization JSON is kept in raw and its fields are typed');
SELECT ok((SELECT sealed_token IS NOT NULL AND key_id ~ '^[0-9a-f]{16}$' FROM billy._credentials WHERE organization_id = billy_test.org(1)),
          'the token is stored sealed, with the fingerprint of its key');
SELECT is((SELECT position(convert_to(billy_test.token(1), 'UTF8') IN sealed_token) FROM billy._credentials WHERE organization_id = billy_test.org(1)),
          0, 'the sealed token does not hold the token in clear');
SELECT is((billy.check_connection(billy_test.org(1)) ->> 'ok')::boolean, true,
          'the stored token opens the organization again');
SELECT is((billy.check_connection((SELECT name FROM billy_test.orgs WHERE n = 1)) ->> 'organization_id'), billy_test.org(1),
          'an organization can be named by its name');

-- connecting again replaces the token; the sealed value changes (fresh nonce)
CREATE TEMP TABLE before AS SELECT sealed_token FROM billy._credentials WHERE organization_id = billy_test.org(1);
SELECT is(billy.connect(billy_test.token(1)), billy_test.org(1), 'connecting again works and keeps the organization''s API URL');
SELECT isnt((SELECT sealed_token FROM billy._credentials WHERE organization_id = billy_test.org(1)),
            (SELECT sealed_token FROM before), 'connecting again seals the token anew');

-- a second organization
SELECT is(billy.connect(billy_test.token(2), billy_test.setting('api_url')), billy_test.org(2),
          'a second organization connects');
SELECT throws_ok($$SELECT billy.check_connection()$$, '22023', '2 Billy organizations are connected; name one',
          'with two organizations connected, one must be named');

-- a bad token: authorization error with Billy's errorCode in the detail
SELECT throws_ok($$SELECT billy.connect('not-a-billy-token', billy_test.setting('api_url'))$$,
          '28000', 'Billy refused the access token', 'a bad token is an authorization error');
SELECT matches(billy_test.try($$SELECT billy.connect('not-a-billy-token', billy_test.setting('api_url'))$$),
          'DETAIL: GET http://127.0.0.1:PORT/v2/organization answered HTTP 401: OAUTH_INVALID_ACCESS_TOKEN',
          'the detail names the request, the status and Billy''s errorCode');
SELECT is((SELECT count(*) FROM billy.organizations WHERE id NOT IN (billy_test.org(1), billy_test.org(2))), 0::bigint,
          'a refused token stores nothing');

-- nothing listening
SET LOCAL billy.max_retries = 0;
SELECT throws_ok($$SELECT billy.connect('x', 'http://127.0.0.1:1/v2')$$, '08006', 'could not connect to Billy',
          'an unreachable port is a connection error');
RESET billy.max_retries;

-- a slow server and statement_timeout: cancelled within 1.5 s
CREATE FUNCTION pg_temp.cancelled_after(sql text) RETURNS interval LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    RETURN NULL;
EXCEPTION WHEN query_canceled THEN
    RETURN clock_timestamp() - t0;
END $$;
SELECT billy_test.fault('{"kind":"latency","ms":8000,"path":"/v2/organization","count":1}');
SET LOCAL statement_timeout = '500ms';
SELECT pg_temp.cancelled_after(format('SELECT billy.connect(%L, %L)', billy_test.token(1), billy_test.setting('api_url'))) AS waited \gset
RESET statement_timeout;
SELECT ok(:'waited'::interval IS NOT NULL, 'statement_timeout cancels a request to a slow server');
SELECT cmp_ok(:'waited'::interval, '<', interval '1.5 s', 'the cancel comes within 1.5 s');
SELECT billy_test.clear_faults();

-- 429 with Retry-After, twice, then success: retried and succeeds
SELECT billy_test.fault('{"kind":"status","status":429,"retry_after":1,"path":"/v2/organization","count":2}');
SELECT billy.check_connection(billy_test.org(1)) AS r \gset
SELECT is((:'r'::jsonb ->> 'ok')::boolean, true, 'a GET answered 429 with Retry-After is retried and succeeds');
SELECT is((:'r'::jsonb ->> 'attempts')::int, 3, 'it took two retries');
SELECT cmp_ok((:'r'::jsonb ->> 'latency_ms')::numeric, '>=', 1900::numeric, 'Retry-After (1 s) was honoured each time');

-- 429 for longer than the retries last: a configuration-limit error
SELECT billy_test.fault('{"kind":"status","status":429,"retry_after":0,"path":"/v2/organization","count":3}');
SET LOCAL billy.max_retries = 2;
SELECT throws_ok(format('SELECT billy.api_get(%L, %L)', billy_test.org(1), '/organization'),
          '53400', 'Billy''s rate limit is still exceeded', 'a rate limit that outlasts the retries is reported as such');
RESET billy.max_retries;
SELECT billy_test.clear_faults();

-- a body over the cap
SET LOCAL billy.max_response_bytes = 4096;
SELECT throws_ok(format('SELECT billy.api_get(%L, %L)', billy_test.org(1), '/invoices?pageSize=1000'),
          '54000', 'response from Billy is larger than billy.max_response_bytes',
          'a body over billy.max_response_bytes is refused');
RESET billy.max_response_bytes;
SELECT ok(jsonb_array_length(billy.api_get(billy_test.org(1), '/invoices?pageSize=5') -> 'invoices') = 5,
          'with the default cap the same endpoint answers');

-- invalid JSON
SELECT billy_test.fault('{"kind":"invalid_json","path":"/v2/organization","count":1}');
SELECT throws_ok(format('SELECT billy.connect(%L, %L)', billy_test.token(1), billy_test.setting('api_url')),
          '38000', 'Billy returned invalid JSON', 'an answer that is not JSON is a clear error');

-- a 5xx that persists
SELECT billy_test.fault('{"kind":"status","status":503,"path":"/v2/organization","count":2}');
SET LOCAL billy.max_retries = 1;
SELECT throws_ok(format('SELECT billy.api_get(%L, %L)', billy_test.org(1), '/organization'),
          '38000', 'Billy''s API failed with HTTP 503', 'a 5xx that outlasts the retries names the status');
RESET billy.max_retries;
SELECT billy_test.clear_faults();

-- disconnect forgets the token and keeps the organization
SELECT is(billy.disconnect(billy_test.org(2)), true, 'disconnect forgets a stored token');
SELECT ok((SELECT disconnected_at IS NOT NULL FROM billy.organizations WHERE id = billy_test.org(2))
          AND NOT EXISTS (SELECT 1 FROM billy._credentials WHERE organization_id = billy_test.org(2)),
          'the organization stays, marked disconnected, without a credential');

SELECT * FROM finish();
ROLLBACK;
