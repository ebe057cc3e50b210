-- What billy says when something is wrong: the SQLSTATE, a message that names
-- the problem, Billy's own errorCode in the detail, and a hint.
SELECT billy_test.try($$SELECT billy.connect(NULL)$$);
SELECT billy_test.try($$SELECT billy.connect('   ')$$);
SELECT billy_test.try($$SELECT billy.connect(E'abc\ndef', billy_test.setting('api_url'))$$);
SELECT billy_test.try($$SELECT billy.connect('x', 'file:///etc/passwd')$$);
SELECT billy_test.try($$SELECT billy.connect('x', 'http://user@127.0.0.1:1/v2')$$);

-- a token Billy does not know: an authorization error with Billy's errorCode
SELECT billy_test.try($$SELECT billy.connect('not-a-billy-token', billy_test.setting('api_url'))$$);

-- nothing listens: a connection error (after the configured retries)
SET billy.max_retries = 1;
SELECT billy_test.try($$SELECT billy.connect('x', 'http://127.0.0.1:1/v2')$$);
RESET billy.max_retries;

-- unknown or ambiguous organizations
SELECT billy_test.try($$SELECT billy.check_connection('no such organization')$$);
SELECT billy_test.try($$SELECT billy.check_connection()$$);
SELECT billy_test.try($$SELECT billy.disconnect('no such organization')$$);
SELECT billy_test.try($$SELECT billy.api_get(NULL, 'invoices')$$);
SELECT billy_test.try($$SELECT billy.api_get(NULL, '//evil.example/x')$$);
SELECT billy_test.try($$SELECT billy.api_get(NULL, '/a b')$$);
SELECT billy_test.try($$SELECT billy.api_get(NULL, '/x/../y')$$);
