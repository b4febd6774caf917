"""Schemathesis hooks for tests/openapi.rs: the daemon under test calls out to the URLs it is
given (a webhook's, a WAHA server's, the Graph API's), so every URL the test makes is a name
under `.invalid`, which never resolves (RFC 6761), and the daemon never reaches any host."""

import schemathesis
from hypothesis import strategies as st

NOWHERE = "https://graph.invalid/v21.0"

schemathesis.openapi.format(
    "uri",
    st.from_regex(r"\Ahttps?://[a-z][a-z0-9-]{0,15}\.invalid(?:/[a-z0-9._~-]{1,12}){0,2}\Z"),
)


@schemathesis.hook("map_body").apply_to(path="/api/v1/devices", method="POST")
def graph_api_nowhere(ctx, body):
    """A Cloud API table left without `graph_url` means Meta's Graph API: give it one that
    resolves nowhere."""
    table = body.get("cloud_api") if isinstance(body, dict) else None
    if isinstance(table, dict) and "graph_url" not in table:
        table["graph_url"] = NOWHERE
    return body


@schemathesis.hook("map_body").apply_to(path="/api/v1/devices/{id}", method="PATCH")
def graph_api_nowhere_in_changes(ctx, body):
    return graph_api_nowhere(ctx, body)
