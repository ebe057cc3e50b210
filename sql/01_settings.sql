-- billy's settings: names, bounds, who may change them, and their checks.
SELECT name, context, vartype, unit, min_val, max_val
FROM pg_settings WHERE name LIKE 'billy.%' ORDER BY 1;

SELECT name, setting FROM pg_settings
WHERE name LIKE 'billy.%' AND name NOT IN ('billy.api_url', 'billy.key_file', 'billy.database_name', 'billy.worker_naptime_ms')
ORDER BY 1;

-- the "billy." prefix is reserved: a misspelt setting is an error, not a silent placeholder
SET billy.api_ulr = 'https://example.org';

-- only http and https, no credentials, query or fragment in the URL
SET billy.api_url = 'ftp://api.billysbilling.com/v2';
SET billy.api_url = 'https://user:secret@api.billysbilling.com/v2';
SET billy.api_url = 'https://api.billysbilling.com/v2?x=1';
SET billy.api_url = 'http://127.0.0.1:1/v2';
RESET billy.api_url;

-- bounds
SET billy.http_timeout_ms = 10;
SET billy.max_retries = 21;
ALTER SYSTEM SET billy.token_store = 'somewhere';
ALTER SYSTEM SET billy.hot_sync_interval = -1;

-- set only in postgresql.conf
SET billy.key_file = '/tmp/x';
SET billy.database_name = 'x';

-- an ordinary role cannot change what only a superuser may
SET ROLE billy_admin;
SET billy.api_url = 'https://evil.example/v2';
SET billy.max_response_bytes = 1000000000;
SET billy.http_timeout_ms = 5000;
SHOW billy.key_file;
RESET ROLE;
RESET billy.http_timeout_ms;
