{#
    Customer contact data leaves raw only in these forms (docs/governance.md):
    - a hash for joins and change tracking: SHA-256 of the normalised value, hex;
    - a masked text for display that matches no e-mail or phone pattern.
    Null stays null.
#}
{% macro pii_hash(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}

{# "ann.lee@example.com" -> "a***@example.com": the first character and the domain. #}
{% macro mask_email(expression) -%}
    left({{ expression }}, 1) || '***@' || split_part({{ expression }}, '@', 2)
{%- endmacro %}

{# "+49 30 1234567" -> "***67": two digits are not a phone number, and ease a support call. #}
{% macro mask_phone(expression) -%}
    '***' || right(regexp_replace({{ expression }}, '[^0-9]', '', 'g'), 2)
{%- endmacro %}
