-- +goose Up
-- new_public_id makes the same IDs as before (the prefix, '_' and 28 characters of the
-- alphabet 0-9a-z without i, l, o and u, each drawn uniformly from random bits), as a
-- single expression instead of a query over the bytes: PostgreSQL inlines it into the
-- column defaults of the statements that insert rows, so an insert's cached plan holds
-- it, where the query form was planned again by every statement that made an ID.
-- The bytes are those of version-4 UUIDs without the version and variant bits (bytes 6
-- to 8 of each); each base64 character carries six of them and translate maps the 64
-- base64 characters two to one onto the 32 of the alphabet.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION new_public_id(prefix text) RETURNS text LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT prefix || '_' || translate(left(encode(
        substr(uuid_send(gen_random_uuid()), 1, 6) || substr(uuid_send(gen_random_uuid()), 10) ||
        substr(uuid_send(gen_random_uuid()), 1, 6) || substr(uuid_send(gen_random_uuid()), 10), 'base64'), 28),
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
        '0123456789abcdefghjkmnpqrstvwxyz0123456789abcdefghjkmnpqrstvwxyz')
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION new_public_id(prefix text) RETURNS text LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT prefix || '_' || string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz', get_byte(b, i) % 32 + 1, 1), '' ORDER BY i)
    FROM (SELECT uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) AS b) s,
         unnest(ARRAY[0,1,2,3,4,5,7,9,10,11,12,13,14,15,16,17,18,19,20,21,23,25,26,27,28,29,30,31]) AS i
$$;
-- +goose StatementEnd
