"""Schemathesis hooks of the api-fuzz stage (`.ci/api-fuzz`).

A header value with a control character other than tab is no HTTP field value (RFC 9110
§5.5): the HTTP server refuses such a request with a bare 400 before any route sees it, so it
tests nothing of the API. Schemathesis makes such values now and then (its coverage phase
too); they are sent without those characters.
"""

import re

import schemathesis

NOT_IN_A_FIELD_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


@schemathesis.hook
def before_call(context, case, kwargs):
    for name, value in list((case.headers or {}).items()):
        if isinstance(value, str) and NOT_IN_A_FIELD_VALUE.search(value):
            case.headers[name] = NOT_IN_A_FIELD_VALUE.sub("", value)
