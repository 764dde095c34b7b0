"""Reads a callmetrics sink with Azure's own Python client, as a team's
dashboard or exporter reads Azure Monitor, and compares every answer with
the run's expected.json cell for cell.

    python read_sink.py ENDPOINT RESOURCE_ID EXPECTED_JSON

The token is AZURE_ACCESS_TOKEN; the sink's CA is REQUESTS_CA_BUNDLE.
For every Azure metric in EXPECTED_JSON, unsplit and split by each of its
dimensions, at PT1M and PT1H, `MetricsQueryClient.query_resource` must
answer exactly the expected count, total, minimum, maximum and average of
every bucket (and nothing else); `MetricsClient.query_resources` (the
batch API) the same for the splits at both grains; the metric definitions and
namespaces list what Azure lists. Errors for a bad metric name and a bad
dimension must carry Azure's code. Prints a JSON summary; exits 1 on any
difference, naming it.
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone

from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import MetricsClient, MetricsQueryClient

GRAINS = {"PT1M": timedelta(minutes=1), "PT1H": timedelta(hours=1)}
AGGREGATIONS = ["Count", "Total", "Minimum", "Maximum", "Average"]
PLATFORM = "Microsoft.Communication/CommunicationServices"
AZURE_METRICS = {"APIRequestCallAutomation", "AcsCallAutomationCallbackEvent", "APIRequestCallRecording"}


class StaticToken:
    """A bearer token given up front, as `az account get-access-token` gives one."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, 2**31 - 1)


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def floor(t, grain):
    seconds = int(grain.total_seconds())
    return datetime.fromtimestamp(int(t.timestamp()) // seconds * seconds, tz=timezone.utc)


def expected_cells(metric_body, split, grain):
    """(dimension value or None, bucket start) -> [count, total, min, max]."""
    cells = {}
    for series in metric_body["timeseries"]:
        values = {m["name"]["value"]: m["value"] for m in series["metadatavalues"]}
        key_value = values[split] if split else None
        for point in series["data"]:
            bucket = floor(parse_time(point["timeStamp"]), grain)
            cell = cells.setdefault((key_value, bucket), [0, 0, None, None])
            cell[0] += point["count"]
            cell[1] += point["total"]
            cell[2] = point["minimum"] if cell[2] is None else min(cell[2], point["minimum"])
            cell[3] = point["maximum"] if cell[3] is None else max(cell[3], point["maximum"])
    return cells


def observed_cells(metric, split, problems, where):
    """The client's parsed answer as cells; buckets without data are skipped."""
    cells = {}
    for series in metric.timeseries:
        # Azure writes dimension names in lower case in its answers.
        values = {k.lower(): v for k, v in series.metadata_values.items()}
        key_value = values.get(split.lower()) if split else None
        if split and key_value is None:
            problems.append(f"{where}: a series without {split}: {series.metadata_values}")
            continue
        for point in series.data:
            if point.count is None and point.total is None:
                continue
            key = (key_value, point.timestamp.astimezone(timezone.utc))
            if key in cells:
                problems.append(f"{where}: {key} is answered twice")
            cells[key] = point
    return cells


def compare(expected, observed, where, problems):
    for key in sorted(set(expected) | set(observed), key=lambda k: (str(k[0]), k[1])):
        exp, got = expected.get(key), observed.get(key)
        if exp is None or got is None:
            problems.append(f"{where} {key}: expected {exp}, got {got and vars(got)}")
            continue
        count, total, minimum, maximum = exp
        average = total / count
        same = (
            got.count == count
            and got.total == total
            and got.minimum == minimum
            and got.maximum == maximum
            and got.average is not None
            and abs(got.average - average) <= 1e-9 * max(1.0, abs(average))
        )
        if not same:
            problems.append(
                f"{where} {key}: expected count {count} total {total} min {minimum} max {maximum} "
                f"average {average}, got {vars(got)}"
            )
    return len(expected)


def expect_error(call, code, text, problems, what):
    try:
        call()
    except HttpResponseError as e:
        if e.error is None or e.error.code != code or text not in (e.error.message or ""):
            problems.append(f"{what}: expected {code} with {text!r}, got {e.status_code} {e.error}")
        return e.status_code, e.error.code if e.error else None
    problems.append(f"{what}: expected an error, the query succeeded")
    return None, None


def main():
    endpoint, resource, expected_path = sys.argv[1:4]
    credential = StaticToken(os.environ["AZURE_ACCESS_TOKEN"])
    expected = json.load(open(expected_path))
    start, end = (parse_time(t) for t in expected["timespan"].split("/"))
    # Whole hours around the run, so both grains cover every event.
    start = floor(start, GRAINS["PT1H"])
    end = floor(end - timedelta(microseconds=1), GRAINS["PT1H"]) + GRAINS["PT1H"]
    client = MetricsQueryClient(credential, endpoint=endpoint, retry_total=0)
    batch = MetricsClient(endpoint, credential, retry_total=0)
    problems, cells, queries, totals = [], 0, 0, {}
    for body in expected["value"]:
        name = body["name"]["value"]
        if name not in AZURE_METRICS:
            continue
        dimensions = sorted({m["name"]["value"] for s in body["timeseries"] for m in s["metadatavalues"]})
        for grain_name, grain in GRAINS.items():
            for split in [None] + dimensions:
                where = f"{name} {grain_name} by {split or '(none)'}"
                answer = client.query_resource(
                    resource,
                    [name],
                    timespan=(start, end),
                    granularity=grain,
                    aggregations=AGGREGATIONS,
                    filter=f"{split} eq '*'" if split else None,
                    max_results=1000,
                )
                queries += 1
                if answer.granularity != grain:
                    problems.append(f"{where}: answered at {answer.granularity}")
                metric = answer.metrics[name]
                exp = expected_cells(body, split, grain)
                got = observed_cells(metric, split, problems, where)
                cells += compare(exp, got, where, problems)
                if split is None:
                    totals[f"{name} {grain_name}"] = sum(c[0] for c in exp.values())
                if split:
                    [result] = batch.query_resources(
                        resource_ids=[resource],
                        metric_namespace=PLATFORM,
                        metric_names=[name],
                        timespan=(start, end),
                        granularity=grain,
                        aggregations=AGGREGATIONS,
                        filter=f"{split} eq '*'",
                        max_results=1000,
                    )
                    queries += 1
                    got = observed_cells(result.metrics[name], split, problems, "batch " + where)
                    cells += compare(exp, got, "batch " + where, problems)
    definitions = {d.name: d for d in client.list_metric_definitions(resource)}
    for body in expected["value"]:
        name = body["name"]["value"]
        if name in AZURE_METRICS:
            d = definitions.get(name)
            if d is None or d.namespace != PLATFORM or d.primary_aggregation_type != "Count":
                problems.append(f"metric definitions: {name} is {d and vars(d)}")
    namespaces = [n.fully_qualified_namespace for n in client.list_metric_namespaces(resource)]
    if namespaces != [PLATFORM]:
        problems.append(f"metric namespaces: {namespaces}")
    errors = {
        "unknown metric": expect_error(
            lambda: client.query_resource(resource, ["NoSuchMetric"], timespan=(start, end)),
            "BadRequest",
            "Failed to find metric configuration",
            problems,
            "unknown metric",
        ),
        "unknown dimension": expect_error(
            lambda: client.query_resource(
                resource, ["APIRequestCallAutomation"], timespan=(start, end), filter="EventTypeName eq '*'"
            ),
            "BadRequest",
            "does not support requested dimension combination",
            problems,
            "unknown dimension",
        ),
    }
    print(json.dumps({
        "queries": queries,
        "cells": cells,
        "totals": totals,
        "definitions": sorted(definitions),
        "errors": errors,
        "problems": problems[:50],
        "problemCount": len(problems),
    }, indent=1))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
