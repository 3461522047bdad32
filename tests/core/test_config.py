"""parse_config: every mistake names the source, the key and what is valid; environment overrides."""

import copy
import dataclasses
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.configfile import embedded_default_text, load_config
from samplerr.core.config import (
    Archive,
    Config,
    ConsolidationSettings,
    ElasticsearchSettings,
    KafkaSettings,
    ScheduleSettings,
    SeriesSettings,
    ServiceSettings,
    parse_config,
)
from samplerr.core.config_read import SECTION_KEYS
from samplerr.core.durations import Duration
from samplerr.core.errors import ConfigError
from samplerr.core.periods import parse_tf

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (ROOT / "archives.toml").read_text(encoding="utf-8")
BASE = tomllib.loads(SHIPPED)
SECRET = "hunter2-very-secret"


def changed(*edits):
    """BASE with edits applied: (path, value) sets, (path,) deletes; paths are tuples of keys/indices."""
    data = copy.deepcopy(BASE)
    for edit in edits:
        *parents, last = edit[0]
        node = data
        for part in parents:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]
        if len(edit) == 1:
            del node[last]
        else:
            node[last] = edit[1]
    return data


def error_of(data, env=None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.toml", env)
    return info.value


def archive(tf, step, ttl, cfuncs=("avg",)):
    return {"tf": tf, "step": step, "ttl": ttl, "cfuncs": list(cfuncs)}


# --- valid configurations ----------------------------------------------------------------------


def test_shipped_archives_are_the_original_synopsis():
    config = parse_config(BASE, "archives.toml", {})
    assert config.archives == (
        Archive(parse_tf("YYYY.MM.DD"), 20, Duration(seconds=2 * 86_400), ("avg", "min", "max")),
        Archive(parse_tf("YYYY.MM"), 600, Duration(months=2), ("avg", "min", "max")),
        Archive(parse_tf("YYYY"), 3600, Duration(months=120), ("avg", "min", "max")),
    )
    assert config.source == "archives.toml"
    assert config.series.key == ("host", "service")


def test_embedded_default_is_the_top_level_archives_toml():
    assert (ROOT / "samplerr" / "default_archives.toml").read_bytes() == (ROOT / "archives.toml").read_bytes()
    assert embedded_default_text() == SHIPPED


def test_every_setting_has_a_default_but_the_archives():
    config = parse_config({"archives": [archive("YYYY.MM.DD", "1m", "7d")]}, "min.toml")
    assert config == Config(
        archives=(Archive(parse_tf("YYYY.MM.DD"), 60, Duration(seconds=7 * 86_400), ("avg",)),),
        source="min.toml",
    )


def test_cfuncs_default_to_avg_min_max():
    config = parse_config({"archives": [{"tf": "YYYY", "step": "1h", "ttl": "1y"}]}, "x")
    assert config.archives[0].cfuncs == ("avg", "min", "max")


@pytest.mark.parametrize(
    ("section", "settings_class"),
    [
        ("elasticsearch", ElasticsearchSettings),
        ("series", SeriesSettings),
        ("consolidation", ConsolidationSettings),
        ("kafka", KafkaSettings),
        ("service", ServiceSettings),
        ("schedule", ScheduleSettings),
    ],
)
def test_every_field_is_a_key_of_its_section(section, settings_class):
    assert [f.name for f in dataclasses.fields(settings_class)] == list(SECTION_KEYS[section])


FULL = """
[elasticsearch]
hosts = ["https://es-1.example:9243", "http://[::1]:9200/prefix"]
index_prefix = ".metrics-"
alias_prefix = "metrics-"
username = "samplerr"
password = "hunter2-very-secret"
ca_certs = "/etc/ssl/ca.pem"
verify_certs = false
request_timeout = 12.5
bulk_max_docs = 1000
bulk_max_bytes = 1048576
max_retries = 0

[series]
key = ["host", "service", "dc"]
include = { host = ["web-*", "db-?"] }
exclude = { service = "debug.*" }

[consolidation]
layout = "compact"
lateness = "0s"
late_hold = "1h"
idle_flush = "1m"

[kafka]
bootstrap_servers = ["k1:9092", "k2:9092"]
topics = ["metrics", "telegraf"]
group_id = "samplerr-prod"
format = "json"
topic_formats = { telegraf = "influx" }
dead_letter_topic = "metrics-dlq"

[kafka.config]
session.timeout.ms = 6000
"fetch.min.bytes" = 1
"security.protocol" = "SASL_SSL"
"sasl.password" = "hunter2-very-secret"

[service]
listen = ":9109"
shutdown_timeout = "1m"
max_series = 10
checkpoint = "elasticsearch"
checkpoint_dir = "/tmp/samplerr"

[schedule]
rotate = "*/10 * * * *"
purge = "30 3 * * sun"
enabled = false

[[archives]]
tf = "YYYY.MM.DD.HH"
step = "10s"
ttl = "12h"
cfuncs = ["last"]

[[archives]]
tf = "YYYY.MM.dd"
step = "1m"
ttl = "3d"
cfuncs = ["avg", "count"]

[[archives]]
tf = "GGGG.WW"
step = "15m"
ttl = "8w"

[[archives]]
tf = "[m-]YYYY"
step = "1d"
ttl = "5 years"
cfuncs = ["sum"]
"""


def test_every_setting_reads_into_the_model():
    config = parse_config(tomllib.loads(FULL), "full.toml", {})
    assert config.elasticsearch == ElasticsearchSettings(
        hosts=("https://es-1.example:9243", "http://[::1]:9200/prefix"),
        index_prefix=".metrics-",
        alias_prefix="metrics-",
        username="samplerr",
        password=SECRET,
        ca_certs="/etc/ssl/ca.pem",
        verify_certs=False,
        request_timeout=12.5,
        bulk_max_docs=1000,
        bulk_max_bytes=1_048_576,
        max_retries=0,
    )
    assert config.series == SeriesSettings(
        key=("host", "service", "dc"),
        include={"host": ("web-*", "db-?")},
        exclude={"service": ("debug.*",)},
    )
    assert config.consolidation == ConsolidationSettings(
        layout="compact", lateness=0, late_hold=3600, idle_flush=60
    )
    assert config.kafka == KafkaSettings(
        bootstrap_servers="k1:9092,k2:9092",
        topics=("metrics", "telegraf"),
        group_id="samplerr-prod",
        format="json",
        topic_formats={"telegraf": "influx"},
        config={  # TOML's dotted keys are joined back into librdkafka's names
            "session.timeout.ms": 6000,
            "fetch.min.bytes": 1,
            "security.protocol": "SASL_SSL",
            "sasl.password": SECRET,
        },
        dead_letter_topic="metrics-dlq",
    )
    assert config.service == ServiceSettings(
        listen=":9109",
        shutdown_timeout=60,
        max_series=10,
        checkpoint="elasticsearch",
        checkpoint_dir="/tmp/samplerr",
    )
    assert config.schedule == ScheduleSettings(rotate="*/10 * * * *", purge="30 3 * * sun", enabled=False)
    assert [(a.tf.pattern, a.tf.unit, a.step, str(a.ttl), a.cfuncs) for a in config.archives] == [
        ("YYYY.MM.DD.HH", "hour", 10, "12h", ("last",)),
        ("YYYY.MM.DD", "day", 60, "3d", ("avg", "count")),
        ("GGGG.WW", "week", 900, "8w", ("avg", "min", "max")),
        ("[m-]YYYY", "year", 86_400, "5y", ("sum",)),
    ]


def test_secrets_never_appear_in_repr():
    config = parse_config(tomllib.loads(FULL), "full.toml", {})
    assert SECRET not in repr(config)
    api = parse_config(changed((("elasticsearch", "api_key"), SECRET)), "x", {})
    assert SECRET not in repr(api)
    assert api.elasticsearch.api_key == SECRET


# --- mistakes: (edits, key, words of the message) ------------------------------------------------

MISTAKES = [
    # structure
    ([(("archive",), [])], "archive", "did you mean 'archives'?"),
    ([(("archives",),)], "archives", "no archives"),
    ([(("archives",), [])], "archives", "no archives"),
    ([(("archives",), {"tf": "YYYY"})], "archives", "write [[archives]]"),
    ([(("archives", 1), "YYYY")], "archives[1]", "must be a table"),
    ([(("elasticsearch",), "http://x")], "elasticsearch", "must be a table"),
    # unknown keys, with the closest valid key
    ([(("elasticsearch", "index_prefx"), "a-")], "elasticsearch.index_prefx", "did you mean 'index_prefix'?"),
    ([(("consolidation", "latenes"), "1s")], "consolidation.latenes", "did you mean 'lateness'?"),
    ([(("archives", 1, "steps"), "1m")], "archives[1].steps", "did you mean 'step'?"),
    ([(("schedule", "zzz"), "1")], "schedule.zzz", "valid keys: rotate, purge, enabled"),
    # archives
    ([(("archives", 0, "tf"),)], "archives[0].tf", "is missing"),
    ([(("archives", 2, "ttl"),)], "archives[2].ttl", "is missing"),
    ([(("archives", 0, "tf"), 3)], "archives[0].tf", "must be a string"),
    ([(("archives", 0, "tf"), "yyyy.MM.dd")], "archives[0].tf", "lowercase"),
    ([(("archives", 0, "tf"), "YYYY.MM.DD.mm")], "archives[0].tf", "minutes"),
    ([(("archives", 1, "tf"), "YYYY.MM.DD")], "archives[1].tf", "already the tf of archives[0]"),
    ([(("archives", 1, "tf"), "GGGG.WW"), (("archives", 2, "tf"), "YYYY.MM")], "archives[2].tf", "alike"),
    ([(("archives", 0, "step"), "7s")], "archives[0].step", "does not divide a day"),
    ([(("archives", 0, "step"), "2d")], "archives[0].step", "does not divide a day"),
    ([(("archives", 0, "step"), "1mo")], "archives[0].step", "months and years are not allowed"),
    ([(("archives", 0, "step"), "1M")], "archives[0].step", "ambiguous"),
    ([(("archives", 0, "step"), "0s")], "archives[0].step", "positive"),
    ([(("archives", 0, "step"), 20)], "archives[0].step", "duration string such as '30s'"),
    ([(("archives", 0, "step"), "20 sec x")], "archives[0].step", "not a duration"),
    ([(("archives", 1, "step"), "30s")], "archives[1].step", "multiple of archives[0].step (20s)"),
    ([(("archives", 1, "step"), "20s")], "archives[1].step", "finest first"),
    ([(("archives", 0, "step"), "1m"), (("archives", 1, "step"), "90s")], "archives[1].step", "multiple"),
    ([(("archives", 1, "ttl"), "1d")], "archives[1].ttl", "longer than archives[0].ttl (2d)"),
    ([(("archives", 2, "ttl"), "2mo")], "archives[2].ttl", "longer than archives[1].ttl (2mo)"),
    ([(("archives", 0, "ttl"), "10s")], "archives[0].ttl", "shorter than one step"),
    ([(("archives", 0, "ttl"), "-2d")], "archives[0].ttl", "positive"),
    ([(("archives", 0, "cfuncs"), [])], "archives[0].cfuncs", "non-empty array"),
    ([(("archives", 0, "cfuncs"), "avg")], "archives[0].cfuncs", "avg, min, max, sum, count, first, last"),
    ([(("archives", 0, "cfuncs"), ["avg", "mean"])], "archives[0].cfuncs[1]", "unknown cfunc 'mean'"),
    ([(("archives", 0, "cfuncs"), ["avg", "mni"])], "archives[0].cfuncs[1]", "did you mean 'min'?"),
    ([(("archives", 0, "cfuncs"), ["max", "max"])], "archives[0].cfuncs[1]", "listed twice"),
    ([(("archives", 0, "cfuncs"), [1])], "archives[0].cfuncs[0]", "valid: avg"),
    # elasticsearch
    ([(("elasticsearch", "hosts"), [])], "elasticsearch.hosts", "must not be empty"),
    ([(("elasticsearch", "hosts"), "http://a:9200")], "elasticsearch.hosts", "must be an array"),
    ([(("elasticsearch", "hosts"), ["es:9200"])], "elasticsearch.hosts[0]", "is not a URL"),
    ([(("elasticsearch", "hosts"), ["ftp://es"])], "elasticsearch.hosts[0]", "http(s)://host[:port]"),
    ([(("elasticsearch", "hosts"), ["http://es:99999"])], "elasticsearch.hosts[0]", "not 1-65535"),
    ([(("elasticsearch", "hosts"), ["http://a:1", "http://a:1"])], "elasticsearch.hosts[1]", "listed twice"),
    ([(("elasticsearch", "index_prefix"), ".Samplerr-")], "elasticsearch.index_prefix", "lowercase"),
    ([(("elasticsearch", "index_prefix"), "sam*")], "elasticsearch.index_prefix", "cannot contain"),
    ([(("elasticsearch", "index_prefix"), "a b")], "elasticsearch.index_prefix", "contains space"),
    ([(("elasticsearch", "index_prefix"), "a#")], "elasticsearch.index_prefix", "contains #"),
    (
        [(("elasticsearch", "alias_prefix"), "_x-")],
        "elasticsearch.alias_prefix",
        "cannot start with - _ or +",
    ),
    ([(("elasticsearch", "alias_prefix"), "-x")], "elasticsearch.alias_prefix", "cannot start with"),
    ([(("elasticsearch", "alias_prefix"), "")], "elasticsearch.alias_prefix", "must not be empty"),
    ([(("elasticsearch", "alias_prefix"), ".samplerr-")], "elasticsearch.alias_prefix", "must differ"),
    (
        [(("elasticsearch", "alias_prefix"), ".samplerr-a-")],
        "elasticsearch.alias_prefix",
        "neither may start",
    ),
    ([(("elasticsearch", "alias_prefix"), ".sam")], "elasticsearch.alias_prefix", "neither may start"),
    ([(("elasticsearch", "index_prefix"), "x" * 250)], "elasticsearch.index_prefix", "255 bytes"),
    ([(("elasticsearch", "username"), "u")], "elasticsearch.username", "go together"),
    (
        [(("elasticsearch", "api_key"), "k"), (("elasticsearch", "password"), "p")],
        "elasticsearch.api_key",
        "not both",
    ),
    ([(("elasticsearch", "verify_certs"), "no")], "elasticsearch.verify_certs", "true or false"),
    ([(("elasticsearch", "request_timeout"), 0)], "elasticsearch.request_timeout", "positive"),
    ([(("elasticsearch", "request_timeout"), True)], "elasticsearch.request_timeout", "must be a number"),
    ([(("elasticsearch", "bulk_max_docs"), 0)], "elasticsearch.bulk_max_docs", "at least 1"),
    ([(("elasticsearch", "bulk_max_docs"), 2.5)], "elasticsearch.bulk_max_docs", "whole number"),
    ([(("elasticsearch", "max_retries"), -1)], "elasticsearch.max_retries", "at least 0"),
    # series
    ([(("series", "key"), [])], "series.key", "must not be empty"),
    ([(("series", "key"), ["host", "host"])], "series.key[1]", "listed twice"),
    ([(("series", "key"), ["host", "metric"])], "series.key[1]", "cannot be a key field"),
    ([(("series", "key"), ["@timestamp"])], "series.key[0]", "documents use"),
    ([(("series", "key"), ["_id"])], "series.key[0]", "metadata"),
    (
        [(("series", "key"), ["host", "min"]), (("consolidation", "layout"), "compact")],
        "series.key[1]",
        "min",
    ),
    ([(("series", "include"), {"host": 3})], "series.include.host", "glob"),
    ([(("series", "exclude"), ["x"])], "series.exclude", "must be a table"),
    # consolidation
    ([(("consolidation", "layout"), "wide")], "consolidation.layout", "valid: samplerr, compact"),
    ([(("consolidation", "layout"), "compakt")], "consolidation.layout", "did you mean 'compact'?"),
    ([(("consolidation", "lateness"), "1mo")], "consolidation.lateness", "months and years are not allowed"),
    ([(("consolidation", "late_hold"), "10")], "consolidation.late_hold", "not a duration"),
    ([(("consolidation", "idle_flush"), 30)], "consolidation.idle_flush", "duration string"),
    # kafka
    ([(("kafka", "bootstrap_servers"), "kafka")], "kafka.bootstrap_servers", "not host:port"),
    ([(("kafka", "bootstrap_servers"), "")], "kafka.bootstrap_servers", "must not be empty"),
    ([(("kafka", "topics"), ["ok", "bad topic"])], "kafka.topics[1]", "not a Kafka topic name"),
    ([(("kafka", "topics"), ["^metrics-(["])], "kafka.topics[0]", "not a valid regular expression"),
    ([(("kafka", "format"), "csv")], "kafka.format", "valid: json, telegraf, influx, graphite"),
    (
        [(("kafka", "topic_formats"), {"other": "json"})],
        "kafka.topic_formats.other",
        "not one of kafka.topics",
    ),
    ([(("kafka", "topic_formats"), {"metrics": "xml"})], "kafka.topic_formats.metrics", "valid: json"),
    ([(("kafka", "config"), {"group": {"id": "x"}})], 'kafka.config."group.id"', "kafka.group_id"),
    ([(("kafka", "config"), {"enable.auto.commit": True})], 'kafka.config."enable.auto.commit"', "commits"),
    ([(("kafka", "config"), {"x": [1]})], 'kafka.config."x"', "strings, numbers or booleans"),
    ([(("kafka", "dead_letter_topic"), "metrics")], "kafka.dead_letter_topic", "also an input topic"),
    ([(("kafka", "group_id"), " ")], "kafka.group_id", "must not be empty"),
    # service
    ([(("service", "listen"), "localhost")], "service.listen", "not host:port"),
    ([(("service", "listen"), "0.0.0.0:70000")], "service.listen", "not host:port"),
    ([(("service", "shutdown_timeout"), "0s")], "service.shutdown_timeout", "positive"),
    ([(("service", "checkpoint"), "s3")], "service.checkpoint", "valid: fs, elasticsearch"),
    ([(("service", "max_series"), 0)], "service.max_series", "at least 1"),
    # schedule
    ([(("schedule", "rotate"), "*/5 * * *")], "schedule.rotate", "has 4 fields"),
    ([(("schedule", "purge"), "17 0 * * 0")], "schedule.purge", "0 = Monday"),
    ([(("schedule", "purge"), "60 0 * * *")], "schedule.purge", "minute values are 0-59"),
    ([(("schedule", "rotate"), "*/0 * * * *")], "schedule.rotate", "step"),
    ([(("schedule", "enabled"), 1)], "schedule.enabled", "true or false"),
]


@pytest.mark.parametrize(
    ("edits", "key", "says"), MISTAKES, ids=[case[1] + ":" + case[2] for case in MISTAKES]
)
def test_mistakes_name_the_file_the_key_and_what_is_valid(edits, key, says):
    error = error_of(changed(*edits))
    assert (error.source, error.key) == ("test.toml", key)
    assert says in error.message
    assert str(error) == f"test.toml: {key}: {error.message}"


def test_hourly_steps_must_divide_an_hour():
    error = error_of({"archives": [archive("YYYY.MM.DD.HH", "7m", "1d")]})
    assert error.key == "archives[0].step"
    assert "does not divide an hour" in error.message
    assert "straddle two hour periods" in error.message
    with pytest.raises(ConfigError, match="does not divide an hour"):
        parse_config({"archives": [archive("YYYY.MM.DD.HH", "2h", "1d")]}, "x")
    assert parse_config({"archives": [archive("YYYY.MM.DD.HH", "1h", "1d")]}, "x").archives[0].step == 3600


@settings(max_examples=150, deadline=None)
@given(step=st.integers(min_value=1, max_value=2 * 86_400))
def test_a_daily_step_is_valid_exactly_when_it_divides_a_day(step):
    data = {"archives": [archive("YYYY.MM.DD", f"{step}s", "1000d")]}
    if 86_400 % step == 0:
        assert parse_config(data, "x").archives[0].step == step
    else:
        with pytest.raises(ConfigError, match="does not divide a day"):
            parse_config(data, "x")


@settings(max_examples=100, deadline=None)
@given(
    fine=st.sampled_from([1, 2, 5, 10, 20, 30, 60, 300, 600, 3600]),
    factor=st.integers(min_value=1, max_value=100),
)
def test_a_coarser_step_must_be_a_larger_multiple(fine, factor):
    coarse = fine * factor
    data = {"archives": [archive("YYYY.MM.DD", f"{fine}s", "1d"), archive("YYYY.MM", f"{coarse}s", "30d")]}
    if factor > 1 and 86_400 % coarse == 0:
        parse_config(data, "x")
    else:
        with pytest.raises(ConfigError) as info:
            parse_config(data, "x")
        assert info.value.key == "archives[1].step"


def test_secrets_never_appear_in_error_messages():
    with_secret = [
        (("elasticsearch", "username"), "elastic"),
        (("elasticsearch", "password"), SECRET),
    ]
    for _edits, _key, _says in MISTAKES:
        try:
            parse_config(changed(*with_secret, *_edits), "test.toml", {})
        except ConfigError as exc:
            assert SECRET not in str(exc)
    error = error_of(changed((("elasticsearch", "password"), 12345)))
    assert "12345" not in str(error)
    error = error_of(changed((("elasticsearch", "hosts"), [f"http://elastic:{SECRET}@es:9200"])))
    assert error.key == "elasticsearch.hosts[0]"
    assert "credentials" in error.message
    assert SECRET not in str(error)


# --- environment overrides ----------------------------------------------------------------------


def test_environment_overrides_the_file():
    env = {
        "SAMPLERR_ELASTICSEARCH_HOSTS": "http://a:9200, http://b:9200",
        "SAMPLERR_ELASTICSEARCH_USERNAME": "elastic",
        "SAMPLERR_ELASTICSEARCH_PASSWORD": SECRET,
        "SAMPLERR_ELASTICSEARCH_VERIFY_CERTS": "false",
        "SAMPLERR_ELASTICSEARCH_BULK_MAX_DOCS": "100",
        "SAMPLERR_ELASTICSEARCH_REQUEST_TIMEOUT": "2.5",
        "SAMPLERR_CONSOLIDATION_LATENESS": "1m",
        "SAMPLERR_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:39092",
        "SAMPLERR_KAFKA_TOPICS": "a,b",
        "SAMPLERR_KAFKA_TOPIC_FORMATS": '{b = "graphite"}',
        "SAMPLERR_KAFKA_CONFIG": '{"session.timeout.ms" = 6000}',
        "SAMPLERR_SERVICE_LISTEN": "0.0.0.0:9200",
        "SAMPLERR_SCHEDULE_ENABLED": "no",
        "SAMPLERR_CONFIG": "/ignored/here.toml",  # read by load_config, not a setting
        "SAMPLERR_LOG_LEVEL": "debug",  # read by logging, not a setting
        "PATH": "/usr/bin",
    }
    config = parse_config(BASE, "archives.toml", env)
    assert config.elasticsearch.hosts == ("http://a:9200", "http://b:9200")
    assert (config.elasticsearch.username, config.elasticsearch.password) == ("elastic", SECRET)
    assert config.elasticsearch.verify_certs is False
    assert config.elasticsearch.bulk_max_docs == 100
    assert config.elasticsearch.request_timeout == 2.5
    assert config.consolidation.lateness == 60  # the file says 30s
    assert config.kafka.bootstrap_servers == "127.0.0.1:39092"
    assert config.kafka.topics == ("a", "b")
    assert config.kafka.topic_formats == {"b": "graphite"}
    assert config.kafka.config == {"session.timeout.ms": 6000}
    assert config.service.listen == "0.0.0.0:9200"
    assert config.schedule.enabled is False
    assert SECRET not in repr(config)


def test_environment_list_may_be_a_toml_array():
    config = parse_config(BASE, "x", {"SAMPLERR_SERIES_KEY": '["host", "dc"]'})
    assert config.series.key == ("host", "dc")


def test_no_environment_unless_given(monkeypatch):
    monkeypatch.setenv("SAMPLERR_CONSOLIDATION_LATENESS", "5m")
    assert parse_config(BASE, "x").consolidation.lateness == 30


@pytest.mark.parametrize(
    ("env", "variable", "says"),
    [
        (
            {"SAMPLERR_ELASTICSEARCH_HOST": "http://a:9200"},
            "SAMPLERR_ELASTICSEARCH_HOST",
            "SAMPLERR_ELASTICSEARCH_HOSTS",
        ),
        ({"SAMPLERR_NOPE": "1"}, "SAMPLERR_NOPE", "unknown variable"),
        ({"SAMPLERR_ARCHIVES_0_STEP": "1m"}, "SAMPLERR_ARCHIVES_0_STEP", "edit [[archives]]"),
        (
            {"SAMPLERR_ELASTICSEARCH_BULK_MAX_DOCS": "lots"},
            "SAMPLERR_ELASTICSEARCH_BULK_MAX_DOCS",
            "whole number",
        ),
        ({"SAMPLERR_ELASTICSEARCH_BULK_MAX_DOCS": "0"}, "SAMPLERR_ELASTICSEARCH_BULK_MAX_DOCS", "at least 1"),
        (
            {"SAMPLERR_ELASTICSEARCH_REQUEST_TIMEOUT": "nan"},
            "SAMPLERR_ELASTICSEARCH_REQUEST_TIMEOUT",
            "a number",
        ),
        ({"SAMPLERR_SCHEDULE_ENABLED": "maybe"}, "SAMPLERR_SCHEDULE_ENABLED", "true or false"),
        ({"SAMPLERR_CONSOLIDATION_LATENESS": "1mo"}, "SAMPLERR_CONSOLIDATION_LATENESS", "months and years"),
        ({"SAMPLERR_ELASTICSEARCH_HOSTS": "es:9200"}, "SAMPLERR_ELASTICSEARCH_HOSTS", "not a URL"),
        ({"SAMPLERR_ELASTICSEARCH_HOSTS": ""}, "SAMPLERR_ELASTICSEARCH_HOSTS", "must not be empty"),
        ({"SAMPLERR_KAFKA_TOPIC_FORMATS": "metrics=json"}, "SAMPLERR_KAFKA_TOPIC_FORMATS", "TOML value"),
        ({"SAMPLERR_KAFKA_TOPIC_FORMATS": '{nope = "json"}'}, "SAMPLERR_KAFKA_TOPIC_FORMATS", "not one of"),
        (
            {"SAMPLERR_ELASTICSEARCH_INDEX_PREFIX": "samplerr-"},
            "SAMPLERR_ELASTICSEARCH_INDEX_PREFIX",
            "must differ",
        ),
        ({"SAMPLERR_ELASTICSEARCH_PASSWORD": SECRET}, "SAMPLERR_ELASTICSEARCH_PASSWORD", "go together"),
    ],
)
def test_environment_mistakes_name_the_variable(env, variable, says):
    error = error_of(BASE, env)
    assert (error.source, error.key) == ("environment", variable)
    assert says in error.message
    assert SECRET not in str(error)


# --- load_config: the file side ------------------------------------------------------------------


def test_load_config_reads_a_file(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text(SHIPPED.replace('lateness = "30s"', 'lateness = "45s"'), encoding="utf-8")
    config = load_config(path, env={"SAMPLERR_KAFKA_GROUP_ID": "g2"})
    assert config.source == str(path)
    assert config.consolidation.lateness == 45
    assert config.kafka.group_id == "g2"


def test_load_config_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml", env={})
    assert (info.value.source, info.value.message) == (str(tmp_path / "nope.toml"), "no such file")


def test_load_config_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[[archives]\ntf = 'YYYY'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path, env={})
    assert info.value.source == str(path)


def test_load_config_error_names_the_file(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text(SHIPPED.replace('step = "10m"', 'step = "10M"'), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value).startswith(f"{path}: archives[1].step: '10M' is ambiguous")


def test_load_config_finds_samplerr_config_then_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./archives.toml here
    path = tmp_path / "elsewhere.toml"
    path.write_text(SHIPPED.replace('"samplerr"', '"compact"'), encoding="utf-8")
    assert load_config(None, env={"SAMPLERR_CONFIG": str(path)}).consolidation.layout == "compact"
    if not Path("/etc/samplerr/archives.toml").exists():
        default = load_config(None, env={})
        assert default.source == "<embedded default>"
        assert default.archives == parse_config(BASE, "x").archives
