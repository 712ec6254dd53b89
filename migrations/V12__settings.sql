-- V12: policies in the database. Limits and lifetimes that decide who may do what
-- (rate limits, token and reset lifetimes, the coupon throttle, and the checkout
-- reservation time to come) are rows of shop.setting, read by the SQL functions that
-- enforce them: a DBA calling api.login_lookup from psql gets the same limits as HTTP.
--
-- `env` names the environment variable that overrides a row: `maef-api migrate` writes
-- the variable's value into the row when it is set (see api/src/migrate.rs), so a
-- deploy's configuration still comes from the environment. A DBA may also UPDATE a row
-- directly; the next migrate without the variable leaves it alone.

create table shop.setting (
    key         text primary key check (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    value       jsonb not null,
    value_type  text not null check (value_type in ('integer', 'boolean', 'text')),
    min_value   bigint,
    max_value   bigint,
    env         text unique check (env ~ '^[A-Z][A-Z0-9_]*$'),
    description text not null,
    updated_at  timestamptz not null default now(),
    constraint setting_value_has_its_type check (
        case value_type
            when 'integer' then jsonb_typeof(value) = 'number' and value::text !~ '[.eE]'
            when 'boolean' then jsonb_typeof(value) = 'boolean'
            else jsonb_typeof(value) = 'string'
        end),
    constraint setting_value_within_bounds check (
        value_type <> 'integer'
        or ((min_value is null or (value::text)::numeric >= min_value)
            and (max_value is null or (value::text)::numeric <= max_value)))
);
comment on table shop.setting is
    'Store policies read by SQL (rate limits, lifetimes, throttles). env: the variable maef-api migrate copies into value when set.';
create trigger setting_updated_at before update on shop.setting
    for each row execute function shop.set_updated_at();

insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('auth.rate_limit_window_secs', '300', 'integer', 1, 86400, 'RATE_LIMIT_WINDOW_SECS',
     'Length of the fixed window of the login, refresh and password-reset rate limits, in seconds.'),
    ('auth.rate_limit_per_account', '10', 'integer', 1, 100000, 'RATE_LIMIT_PER_ACCOUNT',
     'Login or password-reset attempts allowed per e-mail address per window.'),
    ('auth.rate_limit_per_client', '100', 'integer', 1, 1000000, 'RATE_LIMIT_PER_CLIENT',
     'Login, refresh or password-reset attempts allowed per client address per window.'),
    ('auth.access_token_ttl_secs', '3600', 'integer', 60, 86400, 'JWT_EXPIRES',
     'Lifetime of an access token (JWT), in seconds.'),
    ('auth.refresh_token_ttl_secs', '2592000', 'integer', 300, 31536000, 'JWT_REFRESH_EXPIRES',
     'Lifetime of a refresh token, in seconds (30 days by default).'),
    ('auth.password_reset_ttl_secs', '3600', 'integer', 60, 604800, 'PASSWORD_RESET_TTL_SECS',
     'Lifetime of a password-reset link, in seconds.'),
    ('cart.coupon_attempts_per_window', '30', 'integer', 1, 100000, 'COUPON_ATTEMPTS_PER_WINDOW',
     'Coupon codes a client address may try on a cart per window (guessing codes is throttled).'),
    ('cart.coupon_attempts_window_secs', '900', 'integer', 1, 86400, 'COUPON_ATTEMPTS_WINDOW_SECS',
     'Length of the coupon-attempt window, in seconds.');

-- Only the owner (migrations, maef-api migrate, DBAs) reads and writes settings; the
-- SQL API reads them inside SECURITY DEFINER functions.
revoke all on shop.setting from public;
