"""Schemathesis hooks of `make fuzz-api` (scripts/fuzz-api.sh; method in docs/api-contract.md).

1. The rules a JSON Schema cannot state. A schema-valid request must be accepted
   (2xx) or refused for a missing entity, a conflict or a permission
   (401/403/404/409, or 429 when throttled); any other refusal is a contract failure
   (schemathesis' `positive_data_acceptance`). The exceptions are the 422s below, each
   named by its problem `code` (and the JSON path in `details`, or the message,
   where the code alone is too broad), with the reason no schema can express it:
   a relation between two fields, a reference to a row that may not exist, the state
   of the store, a secret only an e-mail holds, a list of common passwords. Every
   other 422 to a schema-valid request fails the run. How often each exception was
   used is written to $FUZZ_ACCEPTED_LOG so the report shows it.

2. Existing rows. A random id is almost never one of a row, so half the generated path
   parameters are swapped for ids of rows of the fuzz database ($FUZZ_KNOWN_IDS: path
   template -> parameter -> values, read by scripts/fuzz-api.sh), so updates, deletes
   and downloads reach their SQL.

3. The administrator the fuzz signs in as must stay one: `PATCH /api/v1/admin/users/{id}`
   never targets $FUZZ_PROTECTED_USER_ID (its own roles or is_active), but another
   user, $FUZZ_VICTIM_ID. Erasure and
   password change of the caller are excluded from the administrator's run by
   scripts/fuzz-api.sh and fuzzed with a throw-away customer instead.
"""

import json
import os
import re

import schemathesis
from hypothesis import strategies as st

# (operation regex, code, details regex or None, message regex or None, reason); a
# 422 unless the code is in OTHER_STATUS.
UNSTATED_RULES = [
    # Relations between parameters or fields.
    (r"GET /api/v1/products$", "q_required", None, None, "sort=relevance needs q"),
    (r"GET /api/v1/products$", "currency_required", None, None, "price filters and price sorts need currency"),
    (r".* /api/v1/(products|admin/(prices.*|products/.*|variants/.*))$", "price_check", None, None,
     "compare_at_amount must exceed amount"),
    (r".* /api/v1/(products|admin/(prices.*|products/.*|variants/.*))$", "price_window_valid", None, None,
     "starts_at must precede ends_at"),
    (r".* /api/v1/admin/promotions.*$", "promotion_window_valid", None, None, "starts_at must precede ends_at"),
    (r".* /api/v1/admin/(promotions/\{id\}/coupons|coupons/\{id\})$", "invalid_field", r"^\$\.ends_at$", None,
     "a coupon's ends_at must follow its starts_at (also the stored one)"),
    # References to rows that may not exist.
    (r".* /api/v1/(products|admin/products/\{id\})$", "invalid_field", r"^\$\.(category|media\[\d+\]\.asset_id)$", None,
     "a category slug or media asset id names an existing row"),
    (r".* /api/v1/admin/categories.*$", "invalid_field", r"^\$\.parent$", None, "the parent slug names an existing category"),
    (r".* /api/v1/admin/tax-rates.*$", "invalid_field", r"^\$\.category_id$", None, "category_id names an existing category"),
    (r".* /api/v1/admin/(variants/\{id\}/price-tiers|price-tiers/\{id\})$", "invalid_field", r"^\$\.customer_group$", None,
     "customer_group names an existing group"),
    # The state of the store.
    (r".* /api/v1/cart/items.*$", "insufficient_stock", None, None, "the quantity is within the stock at that moment"),
    (r".* /api/v1/cart/items.*$", "cart_item_quantity_range", None, None, "a line holds at most 999 units in all, "
     "counting the units already in the cart"),
    (r"POST /api/v1/cart/items$", "variant_not_priced", None, None, "the variant has a price in the cart's currency"),
    (r".*", "idempotency_key_reused", None, None, "an Idempotency-Key seen before came with another body"),
    (r"PATCH /api/v1/admin/coupons/\{id\}$", "invalid_field", r"^\$\.usage_limit$", None,
     "a usage limit is not below the uses already made"),
    (r"PUT /api/v1/admin/store-settings/\{currency\}$", "invalid_field", r"^\$\.default_country$", None,
     "a currency without settings yet needs default_country"),
    (r"PATCH /api/v1/admin/variants/\{id\}$", "inventory_reserved_within_on_hand", None, None,
     "units on hand are not below the units reserved"),
    (r"PATCH /api/v1/admin/categories/\{id\}$", "category_no_cycle", None, None, "a category cannot move under its own descendant"),
    (r"PATCH /api/v1/admin/categories/\{id\}$", "category_not_own_parent", None, None, "a category cannot be its own parent"),
    # Addresses follow their country's rules (shop.address_format): which countries are
    # served, which fields each requires, its postal-code, region and phone patterns.
    (r".* /api/v1/users/me/addresses.*$", "invalid_field",
     r"^\$\.(country|full_name|line1|city|region|postal_code|phone)$", None,
     "an address follows its country's rules (shop.address_format)"),
    (r"POST /api/v1/checkout$", "invalid_field",
     r"^\$\.(shipping|billing)_address\.(country|full_name|line1|city|region|postal_code|phone)$", None,
     "an address follows its country's rules (shop.address_format)"),
    (r"POST /api/v1/users/me/addresses$", "address_limit_reached", None, None, "an address book holds at most 50"),
    # A coupon is refused when it cannot be used now (its window, its switch, its uses).
    *[(r"POST /api/v1/cart/coupon$", f"coupon_{why}", None, None, "the coupon can be used now")
      for why in ("inactive", "not_started", "expired", "exhausted", "customer_limit_reached")],
    # Checkout: who is calling, and the state of the cart and the store.
    (r"POST /api/v1/checkout$", "invalid_field", r"^\$\.email$", None, "a guest gives an e-mail, a customer need not"),
    (r"POST /api/v1/checkout$", "invalid_field", r"^\$\.(shipping|billing)_address_id$", None,
     "an address id needs a signed-in caller, and excludes the inline address"),
    (r"POST /api/v1/checkout$", "invalid_field", r"^\$\.shipping_address$", None,
     "a delivery method (a row's kind) needs a shipping address"),
    (r"POST /api/v1/checkout$", "cart_empty", None, None, "the cart holds items"),
    (r"POST /api/v1/checkout$", "item_unavailable", None, None, "the cart's items are still for sale"),
    (r"(POST /api/v1/checkout|PUT /api/v1/cart/shipping-method)$", "shipping_method_unavailable", None, None,
     "the method has a rate for the cart's destination and currency"),
    (r"POST /api/v1/checkout$", "cart_expired", None, None, "the cart has not expired"),
    # Shipping methods and rates.
    (r".* /api/v1/admin/shipping-methods.*$", "invalid_field", r"^\$\.max_days$", None, "max_days is not below min_days"),
    (r".* /api/v1/admin/shipping-rates.*$", "invalid_field", r"^\$\.shipping_method$", None,
     "shipping_method names an existing method"),
    # Stock.
    (r"POST /api/v1/admin/variants/\{id\}/stock-adjustments$", "invalid_field", r"^\$\.(delta|reason|location)$", None,
     "exactly one of delta and qty_on_hand, not zero, positive for a receipt or return; a reason for an "
     "adjustment; location names an existing one"),
    (r"(POST /api/v1/admin/variants/\{id\}/stock-adjustments|PATCH /api/v1/admin/variants/\{id\})$",
     "stock_below_reserved", None, None, "units on hand are not below the units reserved at the location"),
    # Fulfilment (docs/fulfilment.md): references to rows, and the state of the order.
    (r"POST /api/v1/admin/orders/\{number\}/(shipments|cancellations)$", "invalid_field",
     r"^\$\.(carrier|location|lines\[\d+\]\.order_item_id)$", None,
     "carrier and location name active rows; each line is a line of this order, listed once"),
    (r"POST /api/v1/admin/orders/\{number\}/shipments$", "stock_below_reserved", None, None,
     "the location the parcel leaves from has the units free"),
    (r"POST /api/v1/admin/shipments/\{id\}/status$", "invalid_field", r"^\$\.tracking_number$", None,
     "a tracking number is set once"),
    (r"POST /api/v1/admin/orders/\{number\}/cancellations$", "invalid_field", r"^\$\.reason$", None,
     "a reason has a visible character once trimmed"),
    (r"POST /api/v1/orders/\{number\}/cancel$", "cancellation_window_passed", None, None,
     "a customer cancels within CANCEL_WINDOW_MINUTES of placing the order"),
    (r"POST /api/v1/orders/\{number\}/returns$", "invalid_field", r"^\$\.lines\[\d+\]\.(order_item_id|reason)$", None,
     "each line is a line of this order, listed once, with an active reason"),
    (r"POST /api/v1/orders/\{number\}/returns$", "line_not_delivered", None, None, "only delivered units come back"),
    (r"POST /api/v1/orders/\{number\}/returns$", "return_window_passed", None, None,
     "a return is asked within RETURN_WINDOW_DAYS of the delivery"),
    (r"POST /api/v1/admin/returns/\{id\}/decision$", "invalid_field", r"^\$\.note$", None, "a rejection says why"),
    (r"POST /api/v1/admin/returns/\{id\}/receive$", "invalid_field", r"^\$\.lines", None,
     "the condition of every line of the return, each once"),
    *[(r"POST /api/v1/(admin/orders/\{number\}/(cancellations|refunds)|orders/\{number\}/cancel|admin/returns/\{id\}/refund)$",
       code, None, None, "a refund stays within what was captured and what is left of each line")
      for code in ("refund_exceeds_captured", "refund_quantity_exceeds", "refund_empty")],
    # A signature only the carrier's secret makes (400, like a forged one).
    (r"POST /api/v1/webhooks/carrier/\{carrier\}$", "invalid_signature", None, None,
     "the body is signed with the carrier's secret"),
    # The bytes of an upload: a schema says "binary", not "a decodable JPEG, PNG, WebP,
    # GIF, MP4, WebM or QuickTime file of at least one byte".
    (r"POST /api/v1/media/upload$", "unsupported_media_type", None, None, "the bytes are a file of an allowed type"),
    (r"POST /api/v1/media/upload$", "empty_file", None, None, "the file has at least one byte"),
    (r"POST /api/v1/media/upload$", "image_undecodable", None, None, "an image's bytes decode"),
    (r"(POST|PATCH) /api/v1/admin/webhook-endpoints.*$", "invalid_field", r"^\$\.event_types", None,
     "event types name rows of shop.event_type (or their family, or *)"),
    # URLs are parsed as browsers do (WHATWG, the url crate): a host whose last label is
    # a number ("a.b.9") is an IPv4 address, and must be a valid one; JSON Schema's
    # "uri" format (RFC 3986) takes it as a name.
    (r"(POST|PATCH) /api/v1/admin/webhook-endpoints.*$", "webhook_url_invalid", r"^\$\.url$", r"invalid IPv[46] address",
     "a host ending in a number is an IPv4 address, which must be valid (WHATWG URL)"),
    # The world outside: DNS. A webhook URL's host must resolve, to public addresses.
    (r"(POST|PATCH) /api/v1/admin/webhook-endpoints.*$", "webhook_url_unresolvable", None, None,
     "the URL's host name resolves in DNS"),
    (r"(POST|PATCH) /api/v1/admin/webhook-endpoints.*$", "webhook_url_not_public", None, None,
     "the URL's host resolves to public addresses only"),
    # A template is a program: it must parse and use only the variables its kind's
    # e-mails receive (the template's `sample`) — when saved and when previewed (the
    # stateful phase previews one kind's template under another kind).
    (r"(PUT|POST) /api/v1/admin/email-templates/.*$", "email_template_invalid", None, None,
     "the template parses and uses only the variables its kind receives"),
    # Reviews: lengths counted after HTML is stripped, within store settings; media the
    # author uploaded; a rejection explained to its author; a product filter naming one.
    (r"POST /api/v1/products/\{slug\}/reviews$", "review_body_too_short", None, None,
     "the body, HTML stripped, is at least REVIEWS_BODY_MIN_CHARS long"),
    (r"POST /api/v1/products/\{slug\}/reviews$", "review_body_too_long", None, None,
     "the body, HTML stripped, is at most REVIEWS_BODY_MAX_CHARS long"),
    (r"POST /api/v1/products/\{slug\}/reviews$", "review_title_too_short", None, None,
     "a title is not empty once HTML is stripped"),
    (r"POST /api/v1/products/\{slug\}/reviews$", "review_title_too_long", None, None,
     "the title, HTML stripped, is at most REVIEWS_TITLE_MAX_CHARS long"),
    (r"POST /api/v1/products/\{slug\}/reviews$", "review_media_invalid", None, None,
     "media are images or videos the author uploaded"),
    (r"POST /api/v1/admin/reviews/\{id\}/moderation$", "reason_required", None, None,
     "a rejection needs a reason (the author sees it)"),
    (r"PUT /api/v1/admin/reviews/\{id\}/reply$", "invalid_field", r"^\$\.body$", None,
     "a reply is 1..5000 characters once HTML is stripped"),
    (r"GET /api/v1/admin/reviews$", "invalid_filter", r"^\$\.product$", None, "product names an existing product"),
    # Reports: each takes only its own parameters (GET /api/v1/admin/reports lists them).
    (r"GET /api/v1/admin/reports/\{name\}$", "invalid_parameter", None, None,
     "a report takes only the parameters GET /api/v1/admin/reports lists for it"),
    (r"GET /api/v1/admin/reports/\{name\}$", "invalid_range", None, None, "from is not after to"),
    (r"GET /api/v1/admin/reports/\{name\}$", "invalid_currency", None, None, "currency names a currency of the shop"),
    # A secret only the e-mail holds.
    (r"POST /api/v1/auth/password-reset/confirm$", "invalid_reset_token", None, None, "the token comes from the e-mail"),
    # The password policy's lists.
    (r".*", "weak_password", None, r"(too common|repeats one character|is the e-mail address)",
     "not a common password, not one character repeated, not the e-mail"),
]

# The codes of rules above answered with another status than 422.
OTHER_STATUS = {"unsupported_media_type": 415, "cart_expired": 410, "invalid_signature": 400}

_accepted: dict[str, int] = {}


def _unstated_rule(operation: str, problem: dict) -> str | None:
    for op, code, details, message, reason in UNSTATED_RULES:
        if not re.match(op, operation) or problem.get("code") != code:
            continue
        if details and not re.search(details, problem.get("details") or ""):
            continue
        if message and not re.search(message, problem.get("message") or ""):
            continue
        return f"{code}: {reason}"
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keeps every failure except the refusal of a schema-valid request that breaks one
    of the rules above."""
    if type(failure).__name__ != "RejectedPositiveData":
        return True
    try:
        problem = json.loads(response.content)
    except ValueError:
        return True
    if response.status_code != OTHER_STATUS.get(problem.get("code"), 422):
        return True
    rule = _unstated_rule(case.operation.label, problem)
    if rule is None:
        return True
    _accepted[rule] = _accepted.get(rule, 0) + 1
    log = os.environ.get("FUZZ_ACCEPTED_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"operation": case.operation.label, "rule": rule}) + "\n")
    return False


@schemathesis.hook
def before_call(context, case, kwargs):
    """The administrator the fuzz signs in as keeps its roles and stays active: a
    change of its own account (its id is learnt from responses in the stateful phase,
    so filtering generated ids is not enough) goes to $FUZZ_VICTIM_ID instead."""
    protected = os.environ.get("FUZZ_PROTECTED_USER_ID")
    if protected and case.operation.path == "/api/v1/admin/users/{id}":
        if str((case.path_parameters or {}).get("id")) == protected:
            case.path_parameters["id"] = os.environ["FUZZ_VICTIM_ID"]


_KNOWN_IDS = json.loads(os.environ.get("FUZZ_KNOWN_IDS") or "{}")


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, the ids of existing rows instead of the generated ones."""
    known = _KNOWN_IDS.get(context.operation.path if context.operation else "", {})
    if not known or not path_parameters:
        return st.just(path_parameters)
    existing = {name: st.sampled_from(values) for name, values in known.items() if values}
    swapped = st.fixed_dictionaries({**{k: st.just(v) for k, v in path_parameters.items()}, **existing})
    return st.one_of(st.just(path_parameters), swapped)
