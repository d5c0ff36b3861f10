"""How producers written by other teams encode payments of our payments API on Kafka,
and what our event source + score function must do with each: the expectation table.

The payments API answers `GET /current-transactions` with a JSON *string* holding a
pandas `orient="split"` frame (`columns`, `index`, `data`), event time `current_time` in
epoch ms. A producer polls it and writes each payment, page or frame to Kafka in one of
the encodings below. Every encoding turns rows of a page (dicts, column -> value as the
API sent it) into one Kafka message value and says, per `trans_num`, whether it must be
scored or refused (dead-lettered with a reason).

Written for this test from the API's description; not copied from any published producer.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from typing import Callable

SCORED = "scored"
REFUSED = "refused"

# Sparkov's columns (fraudTrain.csv), in its order: what "flat" producers name fields.
SPARKOV = [
    "trans_date_trans_time", "cc_num", "merchant", "category", "amt", "first", "last",
    "gender", "street", "city", "state", "zip", "lat", "long", "city_pop", "job", "dob",
    "trans_num", "unix_time", "merch_lat", "merch_long", "is_fraud",
]
TIME_FIELDS = ("trans_date_trans_time", "unix_time", "current_time")


@dataclass
class Page:
    """One answer of the payments API: the body as received and its decoded frame."""

    body: bytes
    frame: dict

    @property
    def rows(self) -> list[dict]:
        return [dict(zip(self.frame["columns"], row)) for row in self.frame["data"]]


@dataclass
class Message:
    """One Kafka message value and what must become of each payment in it."""

    value: object  # bytes as written, or a JSON-able Python value for a json serializer
    expect: dict[str, str]  # trans_num -> SCORED | REFUSED
    # The payments' event time (epoch ms, the API's current_time) by trans_num, to check
    # that the scored record carries that instant, whatever the encoding wrote.
    times: dict[str, int] = field(default_factory=dict)
    # For values no trans_num can be read from: matched by the dead letter's raw content.
    token: str | None = None


@dataclass
class Encoding:
    name: str
    rows: int  # rows of the API consumed per message (0: a whole page, as it came)
    encode: Callable[[list[dict], "Context"], Message]
    note: str


@dataclass
class Context:
    rng: random.Random
    columns: list[str]  # the API's column order
    index: int = 0  # a running pandas index, as the API's pages have
    counter: int = 0  # for values that carry nothing unique of their own

    def next_index(self, n: int) -> list[int]:
        out = list(range(self.index, self.index + n))
        self.index += n
        return out


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)


def sparkov_time(ms: int) -> str:
    """The event time as Sparkov writes it (naive, read as UTC), whole seconds."""
    return utc(ms).strftime("%Y-%m-%d %H:%M:%S")


def times_of(rows: list[dict]) -> dict[str, int]:
    return {r["trans_num"]: int(r["current_time"]) for r in rows}


def all_(rows: list[dict], outcome: str) -> dict[str, str]:
    return {r["trans_num"]: outcome for r in rows}


# ---- frames -------------------------------------------------------------------------


def frame(rows: list[dict], ctx: Context, *, label: bool = True, shuffle: bool = False) -> dict:
    cols = [c for c in ctx.columns if label or c != "is_fraud"]
    if shuffle:
        cols = cols[:]
        ctx.rng.shuffle(cols)
    return {
        "columns": cols,
        "index": ctx.next_index(len(rows)),
        "data": [[r[c] for c in cols] for r in rows],
    }


def api_body(page: Page) -> Message:
    # The API's answer as is: `json.dumps(response.json())`, and response.json() is a str.
    body = json.loads(page.body)
    assert isinstance(body, str), "the API answers with a JSON string"
    return Message(body, all_(page.rows, SCORED), times_of(page.rows))


def frame_object(rows: list[dict], ctx: Context) -> Message:
    return Message(frame(rows, ctx), all_(rows, SCORED), times_of(rows))


def frame_shuffled(rows: list[dict], ctx: Context) -> Message:
    return Message(frame(rows, ctx, shuffle=True), all_(rows, SCORED), times_of(rows))


def frame_no_label(rows: list[dict], ctx: Context) -> Message:
    return Message(frame(rows, ctx, label=False, shuffle=True), all_(rows, SCORED), times_of(rows))


def wrapped_frame(rows: list[dict], ctx: Context) -> Message:
    return Message({"transaction": frame(rows, ctx)}, all_(rows, SCORED), times_of(rows))


def wrapped_frame_string(rows: list[dict], ctx: Context) -> Message:
    inner = json.dumps(frame(rows, ctx, shuffle=True))
    return Message({"payload": inner}, all_(rows, SCORED), times_of(rows))


def frame_negative_amount(rows: list[dict], ctx: Context) -> Message:
    rows = [dict(r) for r in rows]
    bad = rows[len(rows) // 2]
    bad["amt"] = -abs(float(bad["amt"])) or -1.0
    expect = all_(rows, SCORED)
    expect[bad["trans_num"]] = REFUSED
    return Message(frame(rows, ctx), expect, times_of(rows))


# ---- flat objects (Sparkov column names), one per payment ---------------------------


def flat_fields(row: dict) -> dict:
    """The payment under Sparkov's names, in Sparkov's order, without any time field."""
    return {c: row[c] for c in SPARKOV if c in row and c not in TIME_FIELDS}


def flat_with(make_time: Callable[[int], dict]) -> Callable[[list[dict], Context], Message]:
    def encode(rows: list[dict], ctx: Context) -> Message:
        (row,) = rows
        obj = flat_fields(row)
        obj.update(make_time(int(row["current_time"])))
        return Message(obj, all_(rows, SCORED), times_of(rows))

    return encode


def iso(ms: int, *, fraction: bool = False, suffix: str = "", offset_hours: int = 0) -> str:
    t = utc(ms).astimezone(dt.timezone(dt.timedelta(hours=offset_hours)))
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        # The API's times are whole seconds: a producer's own clock adds milliseconds.
        text += f".{ms % 1000 or 123:03d}"
    if offset_hours:
        text += t.strftime("%z")[:3] + ":" + t.strftime("%z")[3:]
    return text + suffix


# ---- what must be refused ------------------------------------------------------------


def refused(value: object, rows: list[dict]) -> Message:
    return Message(value, all_(rows, REFUSED))


def python_repr(rows: list[dict], ctx: Context) -> Message:
    # `value=str(payment).encode()`: single quotes, not JSON.
    (row,) = rows
    return refused(str(flat_with(lambda ms: {"current_time": ms})(rows, ctx).value).encode(), rows)


def csv_line(rows: list[dict], ctx: Context) -> Message:
    (row,) = rows
    return refused(",".join(str(row[c]) for c in ctx.columns).encode(), rows)


def json_array(rows: list[dict], ctx: Context) -> Message:
    return refused([flat_with(lambda ms: {"current_time": ms})(rows, ctx).value], rows)


def json_number(rows: list[dict], ctx: Context) -> Message:
    # Only the amount, as a number; nothing in it names the payment. The counter keeps
    # the value unique within the run, so its dead letter is matched by raw content.
    (row,) = rows
    ctx.counter += 1
    value = round(abs(float(row["amt"])), 2) + ctx.counter * 1000
    return Message(value, {}, token=json.dumps(value))


def flat_no_time(rows: list[dict], ctx: Context) -> Message:
    return refused(flat_fields(rows[0]), rows)


def flat_unknown_category(rows: list[dict], ctx: Context) -> Message:
    msg = flat_with(lambda ms: {"current_time": ms})(rows, ctx)
    msg.value["category"] = "crypto_atm"
    return refused(msg.value, rows)


ENCODINGS: list[Encoding] = [
    Encoding("api_body_string", 0, None, "the API's answer as is: a JSON string holding the frame"),
    Encoding("frame_object_1_row", 1, frame_object, "the split frame as a JSON object, one row"),
    Encoding("frame_object_5_rows_shuffled", 5, frame_shuffled, "a 5-row frame, columns shuffled"),
    Encoding("frame_object_no_label", 2, frame_no_label, "a frame without is_fraud, columns shuffled"),
    Encoding("wrapped_frame_object", 2, wrapped_frame, '{"transaction": frame}'),
    Encoding("wrapped_frame_string", 2, wrapped_frame_string, '{"payload": "<frame JSON string>"}'),
    Encoding("flat_current_time", 1, flat_with(lambda ms: {"current_time": ms}), "current_time, epoch ms"),
    Encoding("flat_trans_date_trans_time", 1, flat_with(lambda ms: {"trans_date_trans_time": sparkov_time(ms)}),
             "trans_date_trans_time YYYY-MM-DD HH:MM:SS"),
    Encoding("flat_sparkov_row", 1, flat_with(lambda ms: {"trans_date_trans_time": sparkov_time(ms), "unix_time": ms // 1000}),
             "trans_date_trans_time and unix_time (s), as fraudTrain.csv"),
    Encoding("flat_iso", 1, flat_with(lambda ms: {"trans_date_trans_time": iso(ms)}), "ISO 8601, 2019-05-01T02:25:53"),
    Encoding("flat_iso_fraction", 1, flat_with(lambda ms: {"trans_date_trans_time": iso(ms, fraction=True)}),
             "ISO 8601 with fractional seconds"),
    Encoding("flat_iso_z", 1, flat_with(lambda ms: {"trans_date_trans_time": iso(ms, suffix="Z")}), "ISO 8601, Z"),
    Encoding("flat_iso_offset", 1, flat_with(lambda ms: {"trans_date_trans_time": iso(ms, offset_hours=2)}),
             "ISO 8601 at +02:00 (the same instant)"),
    Encoding("flat_unix_seconds", 1, flat_with(lambda ms: {"unix_time": ms // 1000}), "unix_time in seconds only"),
    Encoding("flat_unix_millis", 1, flat_with(lambda ms: {"unix_time": ms}), "unix_time in milliseconds only"),
    Encoding("frame_negative_amount", 5, frame_negative_amount, "5-row frame, one row amt < 0 (that row refused)"),
    Encoding("not_json_python_repr", 1, python_repr, "str(dict): not JSON"),
    Encoding("not_json_csv_line", 1, csv_line, "a CSV line: not JSON"),
    Encoding("json_array", 1, json_array, "a JSON array holding a flat payment"),
    Encoding("json_number", 1, json_number, "a JSON number"),
    Encoding("flat_no_time", 1, flat_no_time, "a flat payment with no time field"),
    Encoding("flat_unknown_category", 1, flat_unknown_category, "category crypto_atm"),
]

KEY_MODES = ["card", "constant", "trans_num", "none"]


def key_for(mode: str, rows: list[dict]) -> str | None:
    first = rows[0]
    return {
        "card": str(first["cc_num"]),
        "constant": "payments",
        "trans_num": str(first["trans_num"]),
        "none": None,
    }[mode]
