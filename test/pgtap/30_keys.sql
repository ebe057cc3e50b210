-- The token key: rotation re-seals every token, a missing or wrong key is a
-- clear error, the key file must be private, and Supabase Vault is used when
-- the database has it.  Changes the server's key settings with ALTER SYSTEM
-- and puts them back at the end.
-- Not ON_ERROR_STOP: whatever fails, the settings are put back at the end.
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(19);

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
SELECT setting AS first_key FROM pg_settings WHERE name = 'billy.key_file' \gset
SELECT billy_test.setting('work') || '/second.key' AS second_key,
       billy_test.setting('work') || '/third.key' AS third_key,
       billy_test.setting('work') || '/short.key' AS short_key \gset
SELECT key_id AS first_id FROM billy._credentials WHERE organization_id = billy_test.org(1) \gset

-- files written by the server are private to it (umask 077)
COPY (SELECT encode(sha256('billy second key'), 'hex')) TO :'second_key';
COPY (SELECT encode(sha256('billy third key'), 'hex')) TO :'third_key';
COPY (SELECT 'abcdef') TO :'short_key';
-- (each command reads its stdin, or COPY TO PROGRAM may fail on a broken pipe)
SELECT format('chmod 600 %s %s %s; cat >/dev/null', :'second_key', :'third_key', :'short_key') AS private_cmd \gset
COPY (SELECT 1) TO PROGRAM :'private_cmd';

CREATE FUNCTION pg_temp.reload() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_reload_conf();
    PERFORM pg_sleep(0.5);
END $$;

-- a new key with the old one as old_key_file: tokens still open, rotation re-seals
ALTER SYSTEM SET billy.key_file = :'second_key';
ALTER SYSTEM SET billy.old_key_file = :'first_key';
SELECT pg_temp.reload();
SELECT is((billy.check_connection(billy_test.org(1)) ->> 'ok')::boolean, true,
          'after a key change, tokens sealed with the old key still open through billy.old_key_file');
SELECT is(billy.rotate_key(), 1, 'rotate_key re-seals the one stored token');
SELECT isnt((SELECT key_id FROM billy._credentials WHERE organization_id = billy_test.org(1)), :'first_id',
          'the credential now names the new key');
SELECT is(billy.rotate_key(), 0, 'a second rotation has nothing to do');
ALTER SYSTEM RESET billy.old_key_file;
SELECT pg_temp.reload();
SELECT is((billy.check_connection(billy_test.org(1)) ->> 'ok')::boolean, true,
          'without the old key, the re-sealed token opens with the new one');

-- a key that opens nothing
ALTER SYSTEM SET billy.key_file = :'third_key';
SELECT pg_temp.reload();
SELECT throws_ok(format('SELECT billy.check_connection(%L)', billy_test.org(1)), 'F0000',
          format('the access token of organization "%s" was sealed with another key', billy_test.org(1)),
          'a token sealed under another key is a clear error');
SELECT throws_like('SELECT billy.rotate_key()', '%neither billy.key_file nor billy.old_key_file holds',
          'rotation without the right old key refuses, and changes nothing');

-- bad key files
ALTER SYSTEM SET billy.key_file = :'short_key';
SELECT pg_temp.reload();
SELECT throws_ok(format('SELECT billy.connect(%L)', billy_test.token(1)), 'F0000',
          'the key file named by billy.key_file does not hold a 256-bit key', 'a short key is refused');
SELECT 'chmod 644 ' || :'second_key' || '; cat >/dev/null' AS open_cmd,
       'chmod 600 ' || :'second_key' || '; cat >/dev/null' AS close_cmd \gset
ALTER SYSTEM SET billy.key_file = :'second_key';
SELECT pg_temp.reload();
COPY (SELECT 1) TO PROGRAM :'open_cmd';
SELECT throws_ok(format('SELECT billy.connect(%L)', billy_test.token(1)), 'F0000',
          'the key file named by billy.key_file is accessible to group or others',
          'a key file others may read is refused');
COPY (SELECT 1) TO PROGRAM :'close_cmd';
SELECT is(billy.connect(billy_test.token(1)), billy_test.org(1), 'made private again, the key file is accepted');
ALTER SYSTEM SET billy.key_file = '/nonexistent/billy.key';
SELECT pg_temp.reload();
SELECT throws_ok(format('SELECT billy.connect(%L)', billy_test.token(1)), '58P01', NULL,
          'a missing key file is a clear error');
ALTER SYSTEM SET billy.key_file = '';
SELECT pg_temp.reload();
SELECT throws_ok(format('SELECT billy.connect(%L)', billy_test.token(1)), 'F0000', 'billy.key_file is not set',
          'without a key, billy refuses to store a token');

-- Supabase Vault, when the database has it (a stand-in with Vault's API)
BEGIN;
CREATE SCHEMA vault;
CREATE TABLE vault.secrets (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text UNIQUE,
                            description text, secret text NOT NULL);
CREATE FUNCTION vault.create_secret(new_secret text, new_name text DEFAULT NULL, new_description text DEFAULT '')
RETURNS uuid LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO vault.secrets (name, description, secret) VALUES (new_name, new_description, new_secret) RETURNING id;
END;
CREATE FUNCTION vault.update_secret(secret_id uuid, new_secret text DEFAULT NULL) RETURNS void LANGUAGE sql
BEGIN ATOMIC
    UPDATE vault.secrets SET secret = coalesce(new_secret, secret) WHERE id = secret_id;
END;
CREATE VIEW vault.decrypted_secrets AS SELECT id, name, description, secret AS decrypted_secret FROM vault.secrets;
SELECT is(billy.connect(billy_test.token(1)), billy_test.org(1), 'with a vault schema, connect works without a key file');
SELECT ok((SELECT vault_secret_id IS NOT NULL AND sealed_token IS NULL FROM billy._credentials
           WHERE organization_id = billy_test.org(1)), 'the token went to Vault, not into billy''s table');
SELECT is((SELECT count(*) FROM vault.secrets WHERE name = 'billy:' || billy_test.org(1)), 1::bigint,
          'Vault holds one secret named after the organization');
SELECT is((billy.check_connection(billy_test.org(1)) ->> 'ok')::boolean, true, 'the token opens from Vault');
SELECT is(billy.disconnect(billy_test.org(1)), true, 'disconnect removes it');
SELECT is((SELECT count(*) FROM vault.secrets), 0::bigint, 'and its Vault secret');
ROLLBACK;

-- back to the cluster's key
ALTER SYSTEM RESET billy.key_file;
SELECT pg_temp.reload();
SELECT is(billy.connect(billy_test.token(1)), billy_test.org(1), 'with the first key back, the organization connects again');

SELECT * FROM finish();
