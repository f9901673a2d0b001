import hashlib
import os
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import pytest

import workbench as wb

D0 = datetime(2025, 1, 1, tzinfo=UTC)
AS_OF = D0 + timedelta(days=100)


def _day(n):
    return D0 + timedelta(days=n)


def _events():
    rows = [("a", _day(d), "books", 10.0) for d in (0, 10, 20, 30, 40)]
    rows += [("a", _day(d), "music", 5.0) for d in (60, 90)]
    rows += [("p", _day(d), "home", 30.0) for d in (0, 10, 20)]
    rows += [("h", _day(95), "garden", 1000.0)]
    rows += [("q", _day(d), "books", 10.0) for d in range(0, 100, 7)]
    return pl.DataFrame(rows, schema=["customer_id", "ts", "category", "amount"], orient="row")


class _FixedRisk:
    """Stands in for a fitted churn_propensity result."""

    def __init__(self, risk=(0.1, 0.2, 0.9, 0.05)):
        self.risk = list(risk)

    def score(self, events, *, as_of=None, customers=None, **side):
        return pl.DataFrame({"customer_id": ["a", "p", "h", "q"], "churn_probability": self.risk})


def _targets(risk=(0.1, 0.2, 0.9, 0.05), **kw):
    ev = _events()
    overdue = wb.overdue_customers(ev, as_of=AS_OF, k=1.5, model=None, prior_strength=0)
    customers = pl.DataFrame(
        {"customer_id": ["a", "p", "h", "q"], "preferred_channel": ["sms", None, None, None]}
    )
    campaigns = pl.DataFrame(
        {
            "customer_id": ["p", "p"],
            "campaign_id": ["c1", "c2"],
            "sent_ts": [_day(5), _day(50)],
            "group": ["treatment", "treatment"],
            "channel": ["push", "sms"],
        }
    )
    dropouts = wb.category_dropouts(ev, as_of=AS_OF, k=2.0, min_switches=2)
    return wb.winback_targets(
        ev,
        dropouts=dropouts,
        as_of=AS_OF,
        customers=customers,
        campaigns=campaigns,
        overdue=overdue,
        propensity=_FixedRisk(risk),
        model=None,
        inactivity="60d",
        high_risk=0.7,
        **kw,
    )


def test_winback_targets_hand_checked():
    t = _targets()
    rows = {r["customer_id"]: r for r in t.iter_rows(named=True)}
    assert set(rows) == {"a", "p", "h"}  # q buys every week: nothing to say
    a, p, h = rows["a"], rows["p"], rows["h"]
    # a dropped books: 60 days since, recent window max(2 x 10, 30) = 30 days -> strength 2.
    assert a["reasons"] == ["category_dropout"] and a["reason"] == "category_dropout"
    assert a["reason_strength"] == pytest.approx(2.0)
    assert (a["offer"], a["category"]) == ("category_discount", "books")
    assert (a["channel"], a["channel_source"]) == ("sms", "attribute")
    # p: gap 10 days, 80 days since -> overdue 8 / 1.5 = 5.33; also 80 / 60 days inactive.
    assert p["reasons"] == ["overdue", "long_inactivity"] and p["reason"] == "overdue"
    assert p["reason_strength"] == pytest.approx(8 / 1.5)
    assert p["offer"] == "inactivity_discount" and p["category"] == "home"
    # p bought on day 10, within 30 days of the day-5 push send: a response.
    assert (p["channel"], p["channel_source"]) == ("push", "campaign_response")
    # h: risk 0.9 >= 0.7 and the highest value at stake -> loyalty points.
    assert h["reasons"] == ["high_risk"] and h["reason_strength"] == pytest.approx(0.9 / 0.7)
    assert h["offer"] == "loyalty_points"
    assert (h["channel"], h["channel_source"]) == ("email", "default")
    assert t["customer_id"][0] == "h"  # sorted by value at stake
    assert t.columns == [
        "customer_id",
        "reason",
        "reasons",
        "reason_strength",
        "offer",
        "value_at_stake",
        "p_alive",
        "risk",
        "days_since_last_purchase",
        "category",
        "channel",
        "channel_source",
    ]


def test_winback_offer_rules_and_filters():
    assert wb.WINBACK_OFFER_RULES["offer"].to_list() == [
        "loyalty_points",
        "category_discount",
        "inactivity_discount",
    ]
    # a is also high-risk now, but its value is below the 80% quantile: the drop-out rule wins.
    t = _targets(risk=(0.8, 0.2, 0.9, 0.05))
    a = t.filter(customer_id="a").row(0, named=True)
    assert a["reasons"] == ["category_dropout", "high_risk"] and a["reason"] == "category_dropout"
    assert a["offer"] == "category_discount"
    # When every customer counts as high value, a high-risk a gets loyalty points.
    low_bar = _targets(risk=(0.8, 0.2, 0.9, 0.05), high_value_quantile=0.0)
    assert low_bar.filter(customer_id="a")["offer"].item() == "loyalty_points"
    few = _targets(min_value=t.filter(customer_id="h")["value_at_stake"].item())
    assert few["customer_id"].to_list() == ["h"]
    from workbench.plots.leaving import winback_figure

    fig = winback_figure(t)
    assert isinstance(fig.data[0], go.Bar) and fig.layout.xaxis.title.text == "Strongest reason"


def test_winback_bad_input():
    ev = _events()
    with pytest.raises(wb.BadParameterError, match="high_risk=1.5"):
        wb.winback_targets(ev, high_risk=1.5, model=None)
    with pytest.raises(wb.BadParameterError, match="max_inactivity"):
        wb.winback_targets(ev, inactivity="200d", max_inactivity="100d", model=None)
    with pytest.raises(wb.BadParameterError, match="propensity must be"):
        wb.winback_targets(ev, as_of=AS_OF, propensity="model", model=None)
    with pytest.raises(wb.MissingColumnError, match="overdue has no column"):
        wb.winback_targets(ev, as_of=AS_OF, model=None, overdue=pl.DataFrame({"customer_id": []}))


@pytest.mark.slow
def test_winback_on_the_sample():
    s = wb.datasets.load_sample()
    t = wb.winback_targets(
        s.events, customers=s.customers, campaigns=s.campaigns, exclude_categories=("subscription",)
    )
    assert t["customer_id"].is_unique().all()
    assert set(t["reason"]) <= {"overdue", "category_dropout", "long_inactivity", "high_risk"}
    assert t["channel"].null_count() == 0 and set(t["channel"]) <= {"email", "sms"}
    assert (t["value_at_stake"].diff().drop_nulls() <= 0).all()
    drop = t.filter(reason="category_dropout")
    assert (drop["offer"] != "inactivity_discount").all()


# ----------------------------------------------------------------------------- export
def _small():
    return pl.DataFrame(
        {
            "customer_id": ["a", "b"],
            "reason": ["overdue", "high_risk"],
            "reasons": [["overdue", "long_inactivity"], ["high_risk"]],
            "value_at_stake": [10.0, 5.5],
        }
    )


def test_export_csv_and_parquet_round_trip(tmp_path):
    t = _small()
    out = wb.export_targets(t, tmp_path / "list.csv")
    back = pl.read_csv(out)
    assert back["customer_id"].to_list() == ["a", "b"]
    assert back["reasons"].to_list() == ["overdue;long_inactivity", "high_risk"]
    pq = wb.export_targets(t, tmp_path / "list.parquet")
    assert pl.read_parquet(pq).equals(t)
    assert sorted(os.listdir(tmp_path)) == ["list.csv", "list.parquet"]  # no temp files left


def test_export_refuses_to_overwrite(tmp_path):
    path = tmp_path / "list.csv"
    wb.export_targets(_small(), path)
    with pytest.raises(wb.BadParameterError, match="already exists"):
        wb.export_targets(_small().head(1), path)
    assert pl.read_csv(path).height == 2
    wb.export_targets(_small().head(1), path, overwrite=True)
    assert pl.read_csv(path).height == 1


def test_export_is_atomic(tmp_path, monkeypatch):
    import workbench.winback as wbk

    path = tmp_path / "list.csv"
    wb.export_targets(_small(), path)
    before = path.read_bytes()
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(
        wbk.os, "replace", lambda src, dst: (replaced.append((src, dst)), real_replace(src, dst))
    )

    def half_written(frame, target):
        with open(target, "w") as fh:
            fh.write("customer_id,rea")
        raise OSError("disk full")

    monkeypatch.setattr(wbk, "_write_csv", half_written)
    with pytest.raises(OSError, match="disk full"):
        wb.export_targets(_small().head(1), path, overwrite=True)
    assert path.read_bytes() == before  # the old list is intact
    assert os.listdir(tmp_path) == ["list.csv"]  # and the temp file is gone
    assert replaced == []
    with pytest.raises(OSError):
        wb.export_targets(_small(), tmp_path / "new.csv")
    assert not (tmp_path / "new.csv").exists()
    monkeypatch.undo()
    monkeypatch.setattr(
        wbk.os, "replace", lambda src, dst: (replaced.append((src, dst)), real_replace(src, dst))
    )
    wb.export_targets(_small(), tmp_path / "ok.csv")
    ((src, dst),) = replaced
    assert os.path.dirname(src) == str(tmp_path) and os.path.basename(src).startswith(".ok.csv")
    assert str(dst) == str(tmp_path / "ok.csv")


def test_export_pseudonymises_with_a_salt(tmp_path):
    out = wb.export_targets(_small(), tmp_path / "p.csv", pseudonymise=True, salt="s3cret")
    ids = pl.read_csv(out)["customer_id"].to_list()
    assert ids == [hashlib.sha256(b"s3cret" + x.encode()).hexdigest() for x in ("a", "b")]
    assert all(len(i) == 64 for i in ids)
    other = wb.export_targets(_small(), tmp_path / "q.csv", pseudonymise=True, salt="pepper")
    assert set(pl.read_csv(other)["customer_id"]).isdisjoint(ids)
    with pytest.raises(wb.BadParameterError, match="needs a non-empty salt"):
        wb.export_targets(_small(), tmp_path / "r.csv", pseudonymise=True)
    with pytest.raises(wb.BadParameterError, match="needs a non-empty salt"):
        wb.export_targets(_small(), tmp_path / "r.csv", pseudonymise=True, salt="")
    with pytest.raises(wb.BadParameterError, match="pseudonymise=False"):
        wb.export_targets(_small(), tmp_path / "r.csv", salt="x")
    assert not (tmp_path / "r.csv").exists()


def test_export_bad_input(tmp_path):
    with pytest.raises(wb.BadParameterError, match="suffix '.xlsx'"):
        wb.export_targets(_small(), tmp_path / "list.xlsx")
    with pytest.raises(wb.DataSourceError, match="does not exist"):
        wb.export_targets(_small(), tmp_path / "missing" / "list.csv")
    with pytest.raises(wb.MissingColumnError, match="customer_id"):
        wb.export_targets(_small().drop("customer_id"), tmp_path / "list.csv")
    with pytest.raises(wb.BadParameterError, match="polars DataFrame"):
        wb.export_targets(_small().to_pandas(), tmp_path / "list.csv")


def _tie_log():
    return pl.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "ts": [
                datetime(2024, 1, 1),
                datetime(2024, 1, 11),
                datetime(2024, 1, 1),
                datetime(2024, 6, 1),
            ],
            "event": ["purchase"] * 4,
            "amount": [10.0] * 4,
            "category": ["a", "b", "a", "a"],
        }
    )


def test_winback_ties_and_channel_from_treatment_sends_up_to_as_of():
    """Equal strengths: category_dropout wins over overdue (the documented order); the channel
    comes from the latest treatment send up to as_of, not from a later or a control send."""
    od = pl.DataFrame({"customer_id": [1], "overdue_ratio": [3.0]})  # strength 3 / 1.5 = 2
    dr = pl.DataFrame(
        {
            "customer_id": [1],
            "category": ["a"],
            "days_since_category": [60.0],
            "recent_window_days": [30.0],
        }
    )  # strength 2
    cp = pl.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "campaign_id": ["X", "Y", "Z"],
            "sent_ts": [datetime(2024, 3, 1), datetime(2024, 4, 1), datetime(2024, 9, 1)],
            "group": ["treatment", "control", "treatment"],
            "channel": ["sms", "email", "push"],
        }
    )
    got = wb.winback_targets(
        _tie_log(), as_of="2024-06-01", model=None, overdue=od, dropouts=dr, k=1.5, campaigns=cp
    ).filter(pl.col("customer_id") == 1)
    row = got.row(0, named=True)
    assert row["reason"] == "category_dropout" and row["reasons"][:2] == [
        "category_dropout",
        "overdue",
    ]
    assert (row["channel"], row["channel_source"]) == ("sms", "campaign_history")
