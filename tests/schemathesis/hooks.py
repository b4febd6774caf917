"""Schemathesis hooks for tests/openapi.rs: the daemon under test calls out to the URLs it is
given (a webhook's, a WAHA server's, the Graph API's), so every URL the test makes is a name
under `.invalid`, which never resolves (RFC 6761), and the daemon never reaches any host."""

import schemathesis
from hypothesis import strategies as st

# Where a Cloud API table left without `graph_url` would have the daemon call Meta's Graph API.
NOWHERE = "https://graph.invalid/v21.0"

schemathesis.openapi.format(
    "uri",
    st.from_regex(r"\Ahttps?://[a-z][a-z0-9-]{0,15}\.invalid(?:/[a-z0-9._~-]{1,12}){0,2}\Z"),
)


@schemathesis.hook("map_case").apply_to(path_regex=r"^/api/v1/devices(/\{id\})?$")
def graph_api_nowhere(ctx, case):
    """Gives a Cloud API table without `graph_url` one that resolves nowhere, in every phase
    (the coverage phase builds its cases without the `uri` format above)."""
    table = case.body.get("cloud_api") if isinstance(case.body, dict) else None
    if isinstance(table, dict) and "graph_url" not in table:
        table["graph_url"] = NOWHERE
    return case
