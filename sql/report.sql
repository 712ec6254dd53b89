-- Reports for psql users (schema report, reloaded at each deploy).

create view report.job_stats as
select queue, kind, status, count(*) as jobs,
       min(run_at) filter (where status = 'pending') as oldest_pending_run_at,
       max(finished_at) as last_finished_at
from shop.job_queue
group by queue, kind, status;
comment on view report.job_stats is 'Jobs per queue, kind and status, with the oldest pending run_at.';

create view report.catalog_overview as
select c.slug as category, count(p.product_id) filter (where p.is_active) as active_products,
       count(p.product_id) filter (where not p.is_active) as inactive_products
from shop.category c
left join shop.product p on p.category_id = c.category_id
group by c.slug;
comment on view report.catalog_overview is 'Active and inactive products per category.';
