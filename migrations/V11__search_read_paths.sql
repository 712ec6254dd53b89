-- V11: the read paths of a search at a million products.
--
-- GIN pending lists. With fastupdate (the default), new and changed products' entries
-- go to a pending list of up to gin_pending_list_limit (4 MB) that every search scans
-- in full, with the consistent function on each entry, until a vacuum merges it: a
-- search's cost would then grow with the number of recent catalogue writes. Catalogue
-- writes are rare next to searches, so they pay the index insertion instead, and the
-- list left by earlier writes is merged now.
alter index shop.product_search_vector_idx set (fastupdate = off);
alter index shop.product_search_title_trgm_idx set (fastupdate = off);
select gin_clean_pending_list('shop.product_search_vector_idx'::regclass);
select gin_clean_pending_list('shop.product_search_title_trgm_idx'::regclass);

-- The current product-level price of a product in a currency (api._variant_prices): the
-- price-bucket facet looks it up for each of a search's ~120 candidates and each listed
-- product for its "from" prices. The GiST exclusion constraint on (product_id,
-- currency_code, window) answers it too, but a GiST descent costs about 13 µs against a
-- few for this btree, which also carries the columns read so the heap is not visited
-- (prices rarely change, so their pages stay all-visible).
create index price_product_currency_idx on shop.price (product_id, currency_code)
    include (starts_at, ends_at, amount, compare_at_amount, price_id) where variant_id is null;
