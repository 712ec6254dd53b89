-- V9: the pricing:write permission — tax rates, shipping rates, per-currency store price
-- settings, volume tiers, customer groups and their price lists. Separate from
-- promotions:write (marketing) and catalog:write (base prices): a store may let
-- marketing run promotions without letting it change tax. Admins and managers hold it.
insert into shop.permission (name, description) values
    ('pricing:write', 'Change tax rates, shipping rates, store price settings, volume tiers and customer-group price lists');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id
from shop.role r join shop.permission p on p.name = 'pricing:write'
where r.name in ('admin', 'manager');
