-- Partitions of the append-only tables (migrations/V33): shop.audit_log by `at`,
-- shop.job_attempt by `finished_at`, shop.event by `occurred_at`, one partition per
-- month (UTC) named <table>_pYYYYMM, and <table>_default for rows no month covers.
-- The maintain_partitions job creates the coming months ahead; each table's retention
-- function drops the months wholly past its retention (api._drop_expired_partitions)
-- and deletes, in batches as before, only the rows of the one month that straddles the
-- cutoff (and any the default partition holds): retention stays exact to the day, and
-- a month's rows leave as one DROP instead of a DELETE storm (docs/scaling.md).

-- The partitioned tables and their partition key.
create function api._partitioned_tables()
returns table (table_name text, key_column text)
language sql immutable
set search_path = '' as $$
    values ('audit_log', 'at'), ('job_attempt', 'finished_at'), ('event', 'occurred_at');
$$;

-- Creates p_table's partition for the month starting p_month (UTC) unless it exists;
-- true when created. The partition is built beside the table, filled with the rows the
-- default partition holds for that month (moved out of it), and attached: ATTACH
-- takes a lock that inserts into the table do not wait for (CREATE TABLE … PARTITION
-- OF would block them), and its check constraint spares ATTACH a scan of the new
-- partition.
create function api._create_month_partition(p_table text, p_month date)
returns boolean
language plpgsql security definer
set search_path = '' as $$
declare
    v_key text := (select t.key_column from api._partitioned_tables() t where t.table_name = p_table);
    v_month date := date_trunc('month', p_month)::date;
    v_name text := p_table || '_p' || to_char(date_trunc('month', p_month), 'YYYYMM');
    v_from timestamptz := date_trunc('month', p_month)::timestamp at time zone 'UTC';
    v_to timestamptz := (date_trunc('month', p_month) + interval '1 month')::timestamp at time zone 'UTC';
    v_options text;
begin
    if v_key is null then
        raise exception using errcode = 'MA422', constraint = 'not_partitioned',
            message = format('shop.%s is not a partitioned table', p_table);
    end if;
    if to_regclass(format('shop.%I', v_name)) is not null then
        return false;
    end if;
    -- The storage parameters (autovacuum settings) of the newest month.
    select array_to_string(c.reloptions, ', ') into v_options
    from pg_catalog.pg_inherits i join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent = format('shop.%I', p_table)::regclass and c.relname ~ ('^' || p_table || '_p[0-9]{6}$')
    order by c.relname desc limit 1;
    execute format('create table shop.%I (like shop.%I including defaults including constraints including storage)',
                   v_name, p_table);
    if v_options is not null then
        execute format('alter table shop.%I set (%s)', v_name, v_options);
    end if;
    execute format('alter table shop.%I add constraint %I check (%I >= %L and %I < %L)',
                   v_name, v_name || '_bounds', v_key, v_from, v_key, v_to);
    execute format('with moved as (delete from shop.%I where %I >= %L and %I < %L returning *)
                    insert into shop.%I select * from moved',
                   p_table || '_default', v_key, v_from, v_key, v_to, v_name);
    execute format('alter table shop.%I attach partition shop.%I for values from (%L) to (%L)',
                   p_table, v_name, v_from, v_to);
    execute format('alter table shop.%I drop constraint %I', v_name, v_name || '_bounds');
    if p_table = 'job_attempt' then
        -- An attempt is unique within its month (V33).
        execute format('create unique index on shop.%I (job_id, attempt)', v_name);
    end if;
    return true;
end
$$;

-- The maintain_partitions job: creates, for every partitioned table, the partitions of
-- the current month and the p_months_ahead next ones that do not exist yet. Returns
-- the partitions created.
create function api.maintain_partitions(p_months_ahead integer default 3)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_created text[] := '{}';
    v_table text;
    v_month date;
begin
    if p_months_ahead is null or p_months_ahead not between 0 and 24 then
        raise exception using errcode = 'MA422', constraint = 'invalid_months_ahead',
            message = 'months ahead must be between 0 and 24';
    end if;
    for v_table in select t.table_name from api._partitioned_tables() t loop
        for i in 0..p_months_ahead loop
            v_month := (date_trunc('month', now() at time zone 'UTC') + make_interval(months => i))::date;
            if api._create_month_partition(v_table, v_month) then
                v_created := v_created || (v_table || '_p' || to_char(v_month, 'YYYYMM'));
            end if;
        end loop;
    end loop;
    return jsonb_build_object('created', to_jsonb(v_created));
end
$$;

-- Drops p_table's monthly partitions whose whole month lies before p_cutoff; returns
-- (rows, ok_rows) dropped (ok_rows: job attempts that succeeded, which api.prune_jobs
-- counts). An event partition's webhook deliveries are deleted first (V33 replaced
-- their cascade). A DROP locks the table for an instant; it waits at most 2 s for
-- that lock and otherwise leaves the partition for the next run (so a long report
-- cannot make every insert queue behind the DROP).
create function api._drop_expired_partitions(p_table text, p_cutoff timestamptz, out rows bigint, out ok_rows bigint)
language plpgsql security definer
set search_path = '' as $$
declare
    v_partition record;
    v_rows bigint;
    v_ok bigint;
    v_lock_timeout text := current_setting('lock_timeout');
begin
    rows := 0;
    ok_rows := 0;
    for v_partition in
        select c.relname,
               (to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month')::timestamp at time zone 'UTC' as upper_bound
        from pg_catalog.pg_inherits i join pg_catalog.pg_class c on c.oid = i.inhrelid
        where i.inhparent = format('shop.%I', p_table)::regclass and c.relname ~ ('^' || p_table || '_p[0-9]{6}$')
        order by c.relname
    loop
        exit when v_partition.upper_bound > p_cutoff;
        begin
            perform set_config('lock_timeout', '2s', true);
            if p_table = 'job_attempt' then
                execute format('select count(*), count(*) filter (where ok) from shop.%I', v_partition.relname)
                    into v_rows, v_ok;
            else
                execute format('select count(*), 0 from shop.%I', v_partition.relname) into v_rows, v_ok;
            end if;
            if p_table = 'event' then
                execute format('delete from shop.webhook_delivery d using shop.%I e where d.event_id = e.event_id',
                               v_partition.relname);
            end if;
            execute format('drop table shop.%I', v_partition.relname);
            perform set_config('lock_timeout', v_lock_timeout, true);
            rows := rows + v_rows;
            ok_rows := ok_rows + v_ok;
        exception when lock_not_available then
            perform set_config('lock_timeout', v_lock_timeout, true);
            raise warning 'shop.% not dropped: its table is busy (the next run will)', v_partition.relname;
            exit;
        end;
    end loop;
end
$$;

comment on function api._partitioned_tables() is 'Private: the tables partitioned by month (V33) and their partition key.';
comment on function api._create_month_partition(text, date) is
    'Private: creates a table''s partition for one month (UTC) unless it exists, moving the rows its default partition holds for that month; true when created.';
comment on function api.maintain_partitions(integer) is
    'maintain_partitions job (daily; callable from psql): creates the partitions of shop.audit_log, shop.job_attempt and shop.event for the current month and p_months_ahead (default 3) next ones. Returns {"created": [names]}.';
comment on function api._drop_expired_partitions(text, timestamptz) is
    'Private: drops a table''s monthly partitions wholly before p_cutoff (an event partition''s webhook deliveries first), waiting at most 2 s for the lock; returns the rows (and ok job attempts) dropped. Called by the retention functions.';

-- Not granted: the worker and DBAs (the owner) run partition maintenance.
