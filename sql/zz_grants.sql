-- Loaded last: who may call what. Functions are EXECUTE-able by PUBLIC by default, so
-- revoke that, then grant the public API (names without a leading underscore) per role.
-- Private helpers (`_name`) run only inside SECURITY DEFINER functions. The functions
-- check the caller's permissions again inside (defence in depth).

revoke all on all functions in schema api from public;
grant usage on schema api to maef_anon, maef_customer, maef_staff, maef_admin;
grant usage on schema maef to maef_anon, maef_customer, maef_staff, maef_admin;

do $$
declare
    f record;
    v_roles text;
begin
    for f in
        select p.oid::regprocedure as signature, p.proname as name from pg_proc p
        where p.pronamespace = 'api'::regnamespace and p.proname !~ '^_'
    loop
        v_roles := case
            -- the job queue, pruning and admin creation: for the worker and DBAs only
            when f.name like '%job%' or f.name like 'prune\_%'
                 or f.name in ('create_admin', 'refresh_catalog_views', 'enqueue_due_schedules', 'cron_next',
                               'refresh_materialized_views', 'media_derivative_source', 'save_media_derivative')
                then null
            -- uploads and derivative requests: managers and admins (the functions check media:write)
            when f.name in ('media_upload_begin', 'media_upload_write', 'media_create', 'media_request_derivatives')
                then 'maef_staff, maef_admin'
            -- promotions, coupons and pricing settings: managers too (the functions check
            -- promotions:write / pricing:write)
            when f.name ~ '^admin_.*(promotion|coupon|tax_rate|shipping_rate|store_setting|customer_group|price_tier)'
                then 'maef_staff, maef_admin'
            -- user and audit administration: only the admin role holds those permissions
            when f.name like 'admin\_%' then 'maef_admin'
            -- catalog writes: managers and admins (the functions check catalog:write)
            when f.name in ('create_product', 'update_product', 'delete_product', 'add_variant', 'update_variant',
                            'delete_variant', 'add_price', 'delete_price', 'create_category', 'update_category',
                            'delete_category', 'update_price', 'create_tag', 'update_tag', 'delete_tag', 'set_product_media',
                            'delete_product_media') then 'maef_staff, maef_admin'
            -- the signed-in user's own data
            when f.name in ('me', 'update_me', 'export_me', 'erase_me', 'my_password_hash', 'set_my_password')
                then 'maef_customer, maef_staff, maef_admin'
            else 'maef_anon, maef_customer, maef_staff, maef_admin'
        end;
        if v_roles is not null then
            execute format('grant execute on function %s to %s', f.signature, v_roles);
        end if;
    end loop;
end
$$;

grant usage on schema report to maef_staff, maef_admin;
grant select on all tables in schema report to maef_staff, maef_admin;
