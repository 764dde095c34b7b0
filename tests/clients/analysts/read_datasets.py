"""Loads a callmetrics dataset as an analyst would, with DuckDB, pyarrow
and pandas, and compares what each reads with the dataset's expected.json.

    python read_datasets.py parquet DIR
    python read_datasets.py csv DIR
    python read_datasets.py same PARQUET_DIR JSONL_DIR

parquet: each of requests/recording-requests/callbacks.parquet must have
the documented column types (time a UTC timestamp in ms, dimensions
dictionary-encoded strings, latencyMs int64, the call's ids
dictionary-encoded strings, eventTime a UTC timestamp in ns, the payload
JSON); pyarrow's
and DuckDB's counts per metric, per dimension value and per full
combination and minute must equal expected.json's. csv: the per-metric
files read with the dtypes the README gives (pandas: `dtype=str` but
latencyMs, `parse_dates=["time"]`; DuckDB: `read_csv(..., types=...)`) must
give the same counts and keep every code and version as text. same: each
request and each CloudEvent rebuilt from the Parquet columns as the README
says must equal the JSONL line's of the same scenario and seed, in order.
Prints a JSON summary; exits 1 naming any difference.
"""

import json
import sys
from collections import Counter

import duckdb
import pandas
import pyarrow.parquet as pq

FILES = {
    "APIRequestCallAutomation": "requests",
    "APIRequestCallRecording": "recording-requests",
    "AcsCallAutomationCallbackEvent": "callbacks",
}
PAYLOAD = {"requests": "request", "recording-requests": "request", "callbacks": "data"}
# Columns that are not dimensions, and their pyarrow types.
COLUMNS = {
    "time": "timestamp[ms, tz=UTC]",
    "latencyMs": "int64",
    "callConnectionId": "string",
    "serverCallId": "string",
    "correlationId": "string",
    "id": "string",
    "source": "string",
    "eventTime": "timestamp[ns, tz=UTC]",
}
# Repeated per call: dictionary-encoded like the dimensions.
CALL_IDS = ("callConnectionId", "serverCallId", "correlationId", "source")


def expected_counts(path):
    """metric -> (per dimension value, per full combination and minute)."""
    out = {}
    for body in json.load(open(path))["value"]:
        name = body["name"]["value"]
        if name not in FILES:
            continue
        by_value, by_cell = Counter(), Counter()
        for series in body["timeseries"]:
            labels = tuple((m["name"]["value"], m["value"]) for m in series["metadatavalues"])
            for point in series["data"]:
                for label in labels:
                    by_value[label] += point["count"]
                minute = point["timeStamp"][:16]
                by_cell[labels + (minute,)] += point["count"]
        out[name] = (by_value, by_cell)
    return out


def counts_of(rows, dimensions):
    """Counts per dimension value and per (combination, minute) of rows of
    (time as 'YYYY-MM-DDTHH:MM', dimension values...)."""
    by_value, by_cell = Counter(), Counter()
    for row in rows:
        minute, values = row[0], row[1:]
        labels = tuple(zip(dimensions, values))
        for label in labels:
            by_value[label] += 1
        by_cell[labels + (minute,)] += 1
    return by_value, by_cell


def compare(where, got, exp, problems):
    for kind, g, e in (("per value", got[0], exp[0]), ("per minute", got[1], exp[1])):
        if g != e:
            diff = [(k, e.get(k), g.get(k)) for k in set(g) | set(e) if g.get(k) != e.get(k)]
            problems.append(f"{where} {kind}: {len(diff)} differ, e.g. {sorted(diff, key=str)[:3]}")


def parquet(directory, expected, problems):
    summary = {}
    for metric, stem in FILES.items():
        path = f"{directory}/{stem}.parquet"
        exp = expected.get(metric)
        table = pq.read_table(path)
        schema = {f.name: str(f.type) for f in table.schema}
        dimensions = [n for n in schema if n not in COLUMNS and n != PAYLOAD[stem]]
        wanted = {c: kind for c, kind in COLUMNS.items() if c in schema}
        wanted.update({d: "string" for d in dimensions})
        if stem == "requests" and "latencyMs" not in schema:
            problems.append("requests: no latencyMs")
        if stem == "callbacks" and set(COLUMNS) - {"latencyMs"} - set(schema):
            problems.append(f"callbacks: missing {set(COLUMNS) - {'latencyMs'} - set(schema)}")
        for column, kind in wanted.items():
            if schema.get(column) != kind:
                problems.append(f"{stem}: {column} is {schema.get(column)}, not {kind}")
        payload = table.schema.field(PAYLOAD[stem]).type
        if getattr(payload, "extension_name", None) != "arrow.json":
            problems.append(f"{stem}: {PAYLOAD[stem]} is {payload}, not JSON")
        meta = pq.ParquetFile(path).metadata
        for i, name in enumerate(meta.schema.names):
            encodings = meta.row_group(0).column(i).encodings if meta.num_row_groups else ()
            if (name in dimensions or name in CALL_IDS) and "RLE_DICTIONARY" not in encodings:
                problems.append(f"{stem}: {name} is not dictionary-encoded ({encodings})")
        times = [t.strftime("%Y-%m-%dT%H:%M") for t in table.column("time").to_pylist()]
        columns = [table.column(d).to_pylist() for d in dimensions]
        got = counts_of(zip(times, *columns), dimensions)
        if exp is None:
            if table.num_rows:
                problems.append(f"{stem}: {table.num_rows} rows, expected.json has none")
        else:
            compare(f"pyarrow {stem}", got, exp, problems)
        # DuckDB, in SQL, the same questions.
        select = ", ".join(f'"{d}"' for d in dimensions)
        rows = duckdb.sql(
            f"select strftime(time at time zone 'UTC', '%Y-%m-%dT%H:%M'), {select} from '{path}'"
        ).fetchall()
        if exp is not None:
            compare(f"duckdb {stem}", counts_of(rows, dimensions), exp, problems)
        first = duckdb.sql(f"select json_extract_string({PAYLOAD[stem]}, '$') is not null from '{path}' limit 1").fetchall()
        if table.num_rows and first != [(True,)]:
            problems.append(f"duckdb {stem}: the payload is not JSON it can read")
        summary[stem] = {"rows": table.num_rows, "rowGroups": meta.num_row_groups}
    return summary


def csv(directory, expected, problems):
    summary = {}
    for metric, stem in FILES.items():
        path = f"{directory}/{stem}.csv"
        exp = expected.get(metric)
        # pandas, as the README says: every column text but latencyMs.
        frame = pandas.read_csv(path, dtype=str, parse_dates=["time"])
        if "latencyMs" in frame:
            frame["latencyMs"] = frame["latencyMs"].astype("int64")
        dimensions = [c for c in frame.columns if c not in ("time", "latencyMs", "callConnectionId")]
        if any(str(frame[d].dtype) not in ("object", "str", "string") for d in dimensions):
            problems.append(f"pandas {stem}: {dict(frame.dtypes.astype(str))}")
        times = frame["time"].dt.strftime("%Y-%m-%dT%H:%M")
        got = counts_of(zip(times, *[frame[d] for d in dimensions]), dimensions)
        if exp is not None:
            compare(f"pandas {stem}", got, exp, problems)
        # DuckDB, with the types the README gives.
        types = {d: "VARCHAR" for d in dimensions}
        rows = duckdb.sql(
            f"select strftime(time at time zone 'UTC', '%Y-%m-%dT%H:%M'), "
            + ", ".join(f'"{d}"' for d in dimensions)
            + f" from read_csv('{path}', types={types})"
        ).fetchall()
        if exp is not None:
            compare(f"duckdb {stem}", counts_of(rows, dimensions), exp, problems)
        kinds = dict(duckdb.sql(f"describe select * from read_csv('{path}', types={types})").fetchall()[i][:2] for i in range(len(frame.columns)))
        if not str(kinds.get("time", "")).startswith("TIMESTAMP"):
            problems.append(f"duckdb {stem}: time is {kinds.get('time')}")
        summary[stem] = {"rows": len(frame)}
    return summary


def service_time(ns):
    """The CloudEvent time text the service writes for an instant in ns:
    up to seven fraction digits, trailing zeros left out, +00:00."""
    seconds, rest = divmod(ns, 1_000_000_000)
    text = pandas.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{rest // 100:07d}".rstrip("0")
    return text + (f".{fraction}" if fraction else "") + "+00:00"


def cloud_event(row):
    """The CloudEvent a callbacks.parquet row holds, rebuilt as the README
    says."""
    data = json.loads(row["data"])
    data.update(
        version=row["Version"],
        callConnectionId=row["callConnectionId"],
        serverCallId=row["serverCallId"],
        correlationId=row["correlationId"],
        publicEventType=row["EventTypeName"],
    )
    return {
        "id": row["id"],
        "source": row["source"],
        "type": row["EventTypeName"],
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "time": service_time(row["eventTime"]),
        "subject": row["source"],
        "data": data,
    }


def same(parquet_dir, jsonl_dir, problems):
    """Each payload rebuilt from Parquet against the JSONL line's."""
    lines = {stem: [] for stem in FILES.values()}
    with open(f"{jsonl_dir}/events.jsonl") as f:
        for line in f:
            event = json.loads(line)
            lines[FILES[event["metric"]]].append(event.get("cloudEvent") or event.get("request"))
    summary = {}
    for stem, want in lines.items():
        table = pq.read_table(f"{parquet_dir}/{stem}.parquet")
        if stem == "callbacks":
            # eventTime as integer ns: Python datetimes stop at microseconds.
            table = table.set_column(
                table.schema.get_field_index("eventTime"), "eventTime", table.column("eventTime").cast("int64")
            )
            got = [cloud_event(row) for row in table.to_pylist()]
        else:
            got = [json.loads(r) for r in table.column("request").to_pylist()]
        if len(got) != len(want):
            problems.append(f"{stem}: {len(got)} rows, the JSONL has {len(want)}")
        for n, (g, w) in enumerate(zip(got, want)):
            if g != w:
                problems.append(f"{stem} row {n}: rebuilt {json.dumps(g)[:400]} is not {json.dumps(w)[:400]}")
                break
        summary[stem] = {"rows": len(got)}
    return summary


def main():
    kind, directory = sys.argv[1:3]
    problems = []
    if kind == "same":
        summary = same(directory, sys.argv[3], problems)
    else:
        expected = expected_counts(f"{directory}/expected.json")
        summary = (parquet if kind == "parquet" else csv)(directory, expected, problems)
    print(json.dumps({"files": summary, "problems": problems[:20], "problemCount": len(problems)}, indent=1))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
