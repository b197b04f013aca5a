"""The city registry: config/cities.yaml loads, and bad entries fail naming the entry and value."""

from __future__ import annotations

import textwrap

import pytest

from extract.registry import check_digit, is_valid_city_code, load_registry
from ground.errors import ConfigError
from ground.settings import PROJECT_ROOT

REGISTRY = PROJECT_ROOT / "config" / "cities.yaml"
DEMO_CODES = {"271403": "sakai", "112020": "kumagaya", "072044": "iwaki", "111007": "saitama",
              "282014": "himeji", "401005": "kitakyushu", "152013": "niigata", "232017": "toyohashi"}


@pytest.mark.parametrize("code", [*DEMO_CODES, "212148", "124109", "131016"])
def test_check_digit_of_real_codes(code):
    assert check_digit(code[:5]) == int(code[5])
    assert is_valid_city_code(code)


@pytest.mark.parametrize("code", ["271400", "112021", "21214", "2121480", "21214a"])
def test_invalid_codes(code):
    assert not is_valid_city_code(code)


def test_project_registry_loads_with_the_demo_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("PIAWATCH_DEMO_URL", "http://127.0.0.1:40123/")
    cities = load_registry(REGISTRY)
    demo = {c.code: c for c in cities if c.demo}
    assert {code: c.slug for code, c in demo.items()} == DEMO_CODES
    assert all(c.urls[0].startswith("http://127.0.0.1:40123/") for c in demo.values())
    assert all(c.allowed_hosts == {"127.0.0.1"} and c.allow_private for c in demo.values())
    real = {c.slug: c for c in cities if c.real}
    assert real["kani"].urls == ("https://www.city.kani.lg.jp/9237.htm",)
    assert real["kani"].code == "212148" and real["kani"].allowed_hosts == {"www.city.kani.lg.jp"}
    assert real["yokoshibahikari"].urls == ("http://www.town.yokoshibahikari.chiba.jp/kurashi/post_57.html",)
    assert real["yokoshibahikari"].code == "124109"
    assert not any(c.allow_private for c in real.values())


def test_env_default_when_the_variable_is_unset(monkeypatch):
    monkeypatch.delenv("PIAWATCH_DEMO_URL", raising=False)
    sakai = next(c for c in load_registry(REGISTRY) if c.slug == "sakai")
    assert sakai.urls == ("http://127.0.0.1:8765/sakai/pia/index.html",)


def test_only_demo_filters(monkeypatch):
    assert {c.slug for c in load_registry(REGISTRY) if not c.demo} == {"kani", "yokoshibahikari"}
    assert {c.code for c in load_registry(REGISTRY) if c.demo} == set(DEMO_CODES)


def test_defaults_and_hints(tmp_path):
    path = write(tmp_path, """
        - code: "212148"
          slug: kani
          name: 可児市
          prefecture: 岐阜県
          urls: ["https://www.city.kani.lg.jp/9237.htm"]
          hints: {selector: "#main_body", encoding: Shift-JIS, delay_seconds: 3}
    """)
    (city,) = load_registry(path)
    assert city.depth == 2 and not city.demo and not city.real
    assert city.allowed_hosts == {"www.city.kani.lg.jp"}
    assert (city.selector, city.encoding, city.delay_seconds) == ("#main_body", "shift_jis", 3.0)


GOOD = {"code": '"212148"', "slug": "kani", "name": "可児市", "prefecture": "岐阜県",
        "urls": '["https://www.city.kani.lg.jp/9237.htm"]'}


@pytest.mark.parametrize("change, named", [
    ({"code": '"212140"'}, "code '212140': wrong check digit (expected 8)"),
    ({"code": "212148"}, "code 212148: a 全国地方公共団体コード is 6 digits in quotes"),
    ({"slug": "Kani City"}, "slug 'Kani City'"),
    ({"urls": '["ftp://www.city.kani.lg.jp/9237.htm"]'}, "urls 'ftp://www.city.kani.lg.jp/9237.htm'"),
    ({"urls": '["${PIAWATCH_NOT_SET_ANYWHERE}/x.html"]'}, "environment variable PIAWATCH_NOT_SET_ANYWHERE is not set"),
    ({"depth": "9"}, "depth 9: an integer from 0 to 5"),
    ({"hints": '{selector: "div[["}'}, "hints.selector 'div[['"),
    ({"hints": "{encoding: klingon}"}, "hints.encoding 'klingon'"),
    ({"hints": "{delay: 3}"}, "hints.delay 3: unknown hint"),
    ({"allowed_hosts": "[cdn.example.jp]"}, "its host is not in allowed_hosts"),
    ({"demo": "true", "real": "true"}, "real True: an entry cannot be both demo and real"),
    ({"depht": "1"}, "depht 1: unknown key"),
    ({"name": '""'}, "name '': required"),
])
def test_validation_errors_name_the_entry_and_the_value(tmp_path, change, named):
    entry = {**GOOD, **change}
    lines = [f"{'- ' if i == 0 else '  '}{key}: {value}" for i, (key, value) in enumerate(entry.items())]
    path = write(tmp_path, "\n".join(lines))
    with pytest.raises(ConfigError) as caught:
        load_registry(path)
    slug = "Kani City" if "slug" in change else "kani"
    assert f"cities[0] ({slug})" in caught.value.reason
    assert named in caught.value.reason


def test_duplicate_codes_are_refused(tmp_path):
    entry = "\n".join(f"{'- ' if i == 0 else '  '}{k}: {v}" for i, (k, v) in enumerate(GOOD.items()))
    path = write(tmp_path, entry + "\n" + entry.replace("slug: kani", "slug: kani-again"))
    with pytest.raises(ConfigError, match=r"\(kani-again\): code '212148': appears twice"):
        load_registry(path)


def write(tmp_path, cities_yaml: str):
    path = tmp_path / "cities.yaml"
    path.write_text("cities:\n" + textwrap.indent(textwrap.dedent(cities_yaml).strip("\n"), "  ") + "\n",
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1:8765/kani/index.html", "loopback"),
    ("http://localhost/kani/", "loopback"),
    ("http://[::1]:8080/kani/", "loopback"),
    ("http://192.168.1.20/kani/", "private"),
    ("http://10.0.0.7/kani/", "private"),
])
def test_a_real_city_may_not_point_at_this_machine_or_a_private_network(tmp_path, url, kind):
    entry = {**GOOD, "urls": f'["{url}"]', "allowed_hosts": "null"}
    lines = [f"{'- ' if i == 0 else '  '}{key}: {value}" for i, (key, value) in enumerate(entry.items())
             if value != "null"]
    with pytest.raises(ConfigError) as caught:
        load_registry(write(tmp_path, "\n".join(lines)))
    assert f"cities[0] (kani): urls '{url}': host " in caught.value.reason
    assert f"a {kind} address: only demo entries (demo: true) may point at this machine" in caught.value.reason
    # the same URL is fine for a demo entry
    (city,) = load_registry(write(tmp_path, "\n".join(lines) + "\n  demo: true"))
    assert city.demo and city.urls == (url,)


def test_a_start_url_listed_twice_is_refused(tmp_path):
    entry = "\n".join(f"{'- ' if i == 0 else '  '}{k}: {v}" for i, (k, v) in enumerate(GOOD.items()))
    other = entry.replace('"212148"', '"124109"').replace("slug: kani", "slug: yokoshibahikari")
    with pytest.raises(ConfigError, match=r"\(yokoshibahikari\): urls 'https://www.city.kani.lg.jp/9237.htm': "
                                          r"already a start URL of \(kani\)"):
        load_registry(write(tmp_path, entry + "\n" + other))


def test_an_empty_registry_is_refused(tmp_path):
    path = tmp_path / "cities.yaml"
    path.write_text("cities: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="the registry lists no cities"):
        load_registry(path)
