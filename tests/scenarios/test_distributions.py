"""Wait distributions: parsing, binding `${param}`, bounds over many seeded draws."""

from __future__ import annotations

import random
import statistics

import pytest

from simulator.scenarios import distributions as d
from simulator.scenarios.distributions import DistributionError, Exponential, Fixed, Lognormal, Uniform

DRAWS = 5000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3s", Fixed(3.0)),
        (2, Fixed(2.0)),
        ("500ms", Fixed(0.5)),
        ({"fixed": "5m"}, Fixed(300.0)),
        ({"uniform": ["2s", "1m"]}, Uniform(2.0, 60.0)),
        ({"exponential": {"mean": "30s"}}, Exponential(30.0, None)),
        ({"exponential": {"mean": "30s", "max": "5m"}}, Exponential(30.0, 300.0)),
        ({"lognormal": {"median": "2s", "sigma": 0.5, "max": "1m"}}, Lognormal(2.0, 0.5, 60.0)),
        ("${gap}", Fixed("${gap}")),
        ({"uniform": ["${low}", "1h"]}, Uniform("${low}", 3600.0)),
    ],
)
def test_parse_every_form(raw, expected):
    assert d.parse(raw) == expected


def test_parse_names_the_bad_field():
    with pytest.raises(DistributionError) as caught:
        d.parse({"uniform": ["2s", "soon"]})
    assert caught.value.field == ("uniform", 1) and "not a duration: 'soon'" in caught.value.message


def test_bind_resolves_templates_and_applies_default_caps():
    params = {"gap": "90s", "low": 5, "mean": "1m"}
    assert d.bind(Fixed("${gap}"), params) == Fixed(90.0)
    assert d.bind(Uniform("${low}", 3600.0), params) == Uniform(5.0, 3600.0)
    assert d.bind(Exponential("${mean}"), params) == Exponential(60.0, 600.0)
    assert d.bind(Lognormal(2.0, 0.5), params) == Lognormal(2.0, 0.5, 20.0)
    assert d.bind(Uniform("${low}", 2.0), params) == Uniform(2.0, 5.0)  # either order, as random.uniform


@pytest.mark.parametrize(
    ("dist", "field", "phrase"),
    [
        (Exponential(0.0), ("exponential", "mean"), "greater than 0"),
        (Exponential(1.0, 0.0), ("exponential", "max"), "greater than 0"),
        (Lognormal(0.0, 1.0), ("lognormal", "median"), "greater than 0"),
        (Lognormal(1.0, -1.0), ("lognormal", "sigma"), ">= 0"),
        (Fixed("${gap}"), (), "not a duration: 'later', from '${gap}'"),
    ],
)
def test_bind_rejects_unusable_distributions(dist, field, phrase):
    with pytest.raises(DistributionError) as caught:
        d.bind(dist, {"gap": "later"})
    assert caught.value.field == field and phrase in caught.value.message


@pytest.mark.parametrize(
    "dist",
    [
        Uniform(2.0, 6.0),
        Exponential(10.0, 15.0),
        Exponential(30.0, 300.0),
        Lognormal(2.0, 1.5, 8.0),
        Lognormal(60.0, 0.5, 600.0),
        Fixed(4.0),
    ],
)
def test_draws_stay_within_bounds(dist):
    rng = random.Random(20250314)
    low, high = d.bounds(dist)
    draws = [d.draw(dist, rng) for _ in range(DRAWS)]
    assert all(low <= x <= high for x in draws)
    if not isinstance(dist, Fixed):
        assert len(set(draws)) > DRAWS * 0.5  # actually random, not a constant at a bound


def test_exponential_is_capped_at_its_max_and_keeps_its_mean_below_it():
    rng = random.Random(7)
    draws = [d.draw(Exponential(10.0, 15.0), rng) for _ in range(DRAWS)]
    capped = sum(x == 15.0 for x in draws) / DRAWS
    assert 0.19 < capped < 0.26  # P(X > 1.5 mean) = e^-1.5 = 0.223
    rng = random.Random(8)
    assert statistics.fmean(d.draw(Exponential(10.0, 100.0), rng) for _ in range(DRAWS)) == pytest.approx(10, rel=0.06)


def test_lognormal_is_centred_on_its_median():
    rng = random.Random(9)
    draws = [d.draw(Lognormal(2.0, 0.5, 20.0), rng) for _ in range(DRAWS)]
    assert statistics.median(draws) == pytest.approx(2.0, rel=0.05)


def test_uniform_covers_its_range():
    rng = random.Random(10)
    draws = [d.draw(Uniform(2.0, 6.0), rng) for _ in range(DRAWS)]
    assert min(draws) < 2.01 and max(draws) > 5.99
    assert statistics.fmean(draws) == pytest.approx(4.0, rel=0.02)


def test_fixed_draws_nothing_from_the_stream():
    rng = random.Random(11)
    state = rng.getstate()
    assert d.draw(Fixed(3.0), rng) == 3.0
    assert rng.getstate() == state


def test_describe_reads_naturally():
    assert d.describe(Fixed(3.0)) == "3s"
    assert d.describe(Uniform(2.0, 6.0)) == "uniform 2s-6s"
    assert d.describe(Exponential(30.0, 300.0)) == "exponential mean 30s (max 300s)"
    assert d.describe(Lognormal("${m}", 0.5)) == "lognormal median ${m} sigma 0.5"


@pytest.mark.parametrize("text", ["١٢s", "１０m", "5\u00a0s", "12"])
def test_a_duration_is_written_in_ascii_digits(text: str) -> None:
    """Python's float() reads Arabic-Indic and full-width digits, and \\s took a no-break space: the documented
    forms (and the OpenAPI document's pattern) have neither."""
    from simulator.timeutil import parse_duration

    if text == "12":
        assert parse_duration(text) == 12.0
        return
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
