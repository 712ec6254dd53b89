-- The job queue, third slice (issue 6, throughput): a completed job leaves
-- shop.job_queue and lives on as its job_attempt row.
--
-- Measured before this change (EXPLAIN (ANALYZE, WAL), 1,000 jobs): completing a job
-- updated its row (a non-HOT update: a new copy of the row with its payload and two
-- index entries), inserted its attempt row (three index entries and a foreign-key check
-- costing a third of the statement) and the row stayed to be pruned; about 750 bytes of
-- WAL per completion. Now a completion deletes the job row (one small WAL record, no
-- index entry) and inserts the attempt row, which carries the job's kind, queue and
-- unique key so history and reports no longer need the job row.
--
-- shop.job_queue therefore holds only live jobs (pending, running) and dead letters
-- (discarded, cancelled: kept for inspection and api.retry_job until pruned);
-- report.jobs shows both tables as one list of jobs.

alter table shop.job_attempt add column kind text, add column queue text, add column unique_key text;
comment on column shop.job_attempt.kind is 'The job''s kind (the job row is gone once the job completed).';
comment on column shop.job_attempt.queue is 'The job''s queue (the job row is gone once the job completed).';
comment on column shop.job_attempt.unique_key is 'The job''s unique key, if any (a schedule''s names its time bucket).';
update shop.job_attempt a set kind = j.kind, queue = j.queue, unique_key = j.unique_key
from shop.job_queue j where j.job_id = a.job_id;
alter table shop.job_attempt alter column kind set not null, alter column queue set not null;

-- History outlives the job row: no foreign key (its check was a third of the cost of
-- recording an attempt). api.prune_jobs deletes attempts by age.
alter table shop.job_attempt drop constraint job_attempt_job_id_fkey;
-- (job, attempt) identifies an attempt: the surrogate key only cost a sequence value
-- and an index entry per attempt.
alter table shop.job_attempt drop column job_attempt_id,
    drop constraint job_attempt_job_attempt_key,
    add constraint job_attempt_pkey primary key (job_id, attempt);

-- Attempts are appended in finished_at order: a BRIN index serves the reports' "last
-- hour" and pruning's "older than" at almost no cost per insert, where the btree cost
-- an index entry per attempt.
drop index shop.job_attempt_finished_idx;
create index job_attempt_finished_brin on shop.job_attempt using brin (finished_at) with (pages_per_range = 32);

-- Completed jobs move out: their attempt rows (ok) already exist.
delete from shop.job_queue where status = 'completed';
alter table shop.job_queue drop constraint job_queue_status_check;
alter table shop.job_queue add constraint job_queue_status_check
    check (status in ('pending', 'running', 'discarded', 'cancelled'));
comment on table shop.job_queue is
    'Live jobs (pending, running) and dead letters (discarded, cancelled). A completed job is deleted; its shop.job_attempt row (ok) is its history. attempt is the fencing token of the current lease.';
drop index shop.job_queue_finished_idx;
create index job_queue_finished_idx on shop.job_queue (finished_at) where status in ('discarded', 'cancelled');

-- The claim updates rows twice as often as anything else and each claim is a non-HOT
-- update (the row leaves the partial ready index): free space in each page keeps the
-- new row version on the same page, so a claim dirties fewer pages.
alter table shop.job_queue set (fillfactor = 80);

-- A row trigger per claimed job cost a tenth of the claim: the queue's functions set
-- updated_at themselves (sql/jobs.sql), in the statements that change a job.
drop trigger job_queue_updated_at on shop.job_queue;
