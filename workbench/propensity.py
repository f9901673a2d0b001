"""Lookalike churn propensity: who looks like the customers who left.

A model is fit on features known at a cut-off date (`wb.customer_features`) and the churn label
observed after it (`wb.churn_labels`: no activity in ``[cutoff, cutoff + horizon)`` among
customers active before the cutoff). The default is a logistic regression (statsmodels Logit);
``model="cox"`` fits a Cox model (lifelines) of the time to the next activity after the cutoff,
and the churn probability is then the predicted probability of no activity within the horizon.
Customers are split at random (seeded) into a training part and a holdout; the model is fit on
the training part and judged on the holdout (AUC, calibration by decile). `.score` applies it
to the currently active customers with features computed at a later date.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
import polars as pl
from scipy import stats as sps

from ._leaving import (
    check_choice,
    check_fraction,
    days,
    parse_duration,
    resolve_as_of,
    to_utc,
)
from .errors import BadDataError, BadParameterError, WorkbenchWarning
from .features import CATEGORY_PREFIX, churn_labels, customer_features
from .schema import CUSTOMER_ID, TS, CustomerSchema, EventSchema, SubscriptionSchema, canonical
from .stats import wilson_ci

PROPENSITY_DEFINITION = (
    "Churn propensity: the probability that a customer active before the cut-off has no "
    "activity in the following horizon, from a logistic regression on features known at the "
    "cut-off. Judged on a random holdout of customers: AUC (probability that a churned customer "
    "scores above a retained one) and calibration by decile of predicted risk."
)
MIN_LEVEL = 20  # categorical levels rarer than this in training join the reference level


def auc_score(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney statistic (ties count one half)."""
    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = sps.rankdata(p)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@dataclass(frozen=True)
class _Design:
    """How features become model columns; learnt on the training customers only."""

    numeric: list[str]
    logged: list[str]
    means: dict[str, float]
    sds: dict[str, float]
    dummies: list[tuple[str, str]]  # (column, level) indicators
    columns: list[str]  # final model columns, in order (without the intercept)
    categories: list[str]

    @staticmethod
    def learn(frame: pl.DataFrame, candidates: list[str], categories: list[str]) -> _Design:
        numeric, logged, means, sds, dummies = [], [], {}, {}, []
        shares = [c for c in candidates if c.startswith(CATEGORY_PREFIX)]
        if len(shares) > 1:  # shares sum to 1: the most common category is the reference
            ref = max(shares, key=lambda c: (frame[c].mean() or 0.0, c))
            candidates = [c for c in candidates if c != ref]
        for c in candidates:
            s = frame[c]
            if s.dtype == pl.Boolean or (s.dtype.is_numeric()):
                a = s.cast(pl.Float64).fill_null(0.0).to_numpy()
                if a.min() >= 0 and a.max() > 1:
                    a, logged = np.log1p(a), [*logged, c]
                sd = float(a.std())
                if sd > 0:
                    numeric.append(c)
                    means[c], sds[c] = float(a.mean()), sd
            elif s.dtype in (pl.String, pl.Categorical) or isinstance(s.dtype, pl.Enum):
                counts = s.cast(pl.String).fill_null("(missing)").value_counts(sort=True)
                levels = [lv for lv, n in counts.iter_rows() if n >= MIN_LEVEL]
                dummies += [(c, lv) for lv in levels[1:]]  # the most frequent is the reference
        draft = _Design(numeric, logged, means, sds, dummies, [], categories)
        x, names = draft.matrix(frame, all_columns=True)
        keep = _independent_columns(x)
        return _Design(numeric, logged, means, sds, dummies, [names[i] for i in keep], categories)

    def matrix(self, frame: pl.DataFrame, all_columns: bool = False):
        cols, names = [], []
        for c in self.numeric:
            a = (
                frame[c].cast(pl.Float64).fill_null(0.0).to_numpy()
                if c in frame.columns
                else (np.zeros(frame.height))
            )
            if c in self.logged:
                a = np.log1p(np.clip(a, 0, None))
            cols.append((a - self.means[c]) / self.sds[c])
            names.append(c)
        for c, lv in self.dummies:
            s = frame[c].cast(pl.String).fill_null("(missing)") if c in frame.columns else None
            cols.append(
                (s == lv).to_numpy().astype(float) if s is not None else np.zeros(frame.height)
            )
            names.append(f"{c}[{lv}]")
        x = np.column_stack(cols) if cols else np.zeros((frame.height, 0))
        if all_columns:
            return x, names
        idx = [names.index(n) for n in self.columns]
        return x[:, idx]


def _independent_columns(x: np.ndarray, tol: float = 1e-6) -> list[int]:
    """Greedy: keep a column unless [intercept, kept columns] explain all but `tol` of its
    variance (exact or near-exact collinearity), using the Gram matrix."""
    z = np.column_stack([np.ones(x.shape[0]), x])
    g = z.T @ z
    kept = [0]
    out: list[int] = []
    for j in range(1, z.shape[1]):
        gss = g[np.ix_(kept, kept)]
        gsj = g[kept, j]
        coef = np.linalg.lstsq(gss, gsj, rcond=None)[0]
        resid = g[j, j] - gsj @ coef
        centred = g[j, j] - (g[0, j] ** 2) / g[0, 0]
        if centred > 0 and resid > tol * g[j, j] and resid > tol * centred:
            kept.append(j)
            out.append(j - 1)
    return out


@dataclass(frozen=True)
class ChurnPropensity:
    """Fitted churn-propensity model: `.coefficients`, `.calibration`, `.auc`, `.score()`."""

    coefficients: pl.DataFrame
    calibration: pl.DataFrame
    auc: float
    train_auc: float
    params: dict
    predictions: pl.DataFrame = field(repr=False)
    _design: _Design = field(repr=False)
    _fit: object = field(repr=False)
    definition: str = PROPENSITY_DEFINITION

    @property
    def table(self) -> pl.DataFrame:
        """The coefficients table (term, coef, std_err, z, p_value, ci_low, ci_high, ...)."""
        return self.coefficients

    def _predict(self, feats: pl.DataFrame) -> np.ndarray:
        x = self._design.matrix(feats)
        return _predict(
            self.params["model"], self._fit, x, self._design.columns, self.params["horizon_days"]
        )

    def score(
        self,
        events,
        *,
        as_of=None,
        customers=None,
        subscriptions=None,
        annotations=None,
        schema: EventSchema | None = None,
        customer_schema: CustomerSchema | None = None,
        subscription_schema: SubscriptionSchema | None = None,
    ) -> pl.DataFrame:
        """Churn probability of each currently active customer, with features at `as_of`.

        Currently active: an activity event in the `active_within` window before `as_of` (as
        in training). Default `as_of`: just after the last event. Returns customer_id,
        churn_probability, risk_decile (10 = highest risk), sorted by risk, highest first.
        """
        caller = "ChurnPropensity.score"
        lf = canonical(events, schema=schema, caller=caller)
        if as_of is None:
            at = resolve_as_of(lf, None, caller) + timedelta(microseconds=1)
        else:
            at = to_utc(as_of, caller, "as_of")
        feats = customer_features(
            lf,
            cutoff=at,
            customers=customers,
            subscriptions=subscriptions,
            annotations=annotations,
            categories=self._design.categories,
            customer_schema=customer_schema,
            subscription_schema=subscription_schema,
            **self.params["feature_options"],
        )
        used = {c for c in self._design.numeric if c in self._design.columns}
        used |= {c for c, lv in self._design.dummies if f"{c}[{lv}]" in self._design.columns}
        missing = sorted(used - set(feats.columns))
        if missing:
            raise BadParameterError(
                f"{caller}: the model uses features {missing} that these inputs do not give. "
                f"Fix: pass the same side tables as in training (customers=, subscriptions=, "
                f"annotations=)."
            )
        win = self.params["active_within"]
        days_col = (
            "days_since_last_activity"
            if self.params["activity"] == "any"
            else "days_since_last_purchase"
        )
        if win is not None:
            limit = days(parse_duration(win, caller, "active_within"))
            feats = feats.filter(pl.col(days_col) <= limit)
        if self.params["activity"] == "purchase":
            feats = feats.filter(pl.col("n_purchases") > 0)
        p = self._predict(feats) if feats.height else np.array([])
        out = feats.select(CUSTOMER_ID).with_columns(
            pl.Series("churn_probability", p, dtype=pl.Float64)
        )
        return out.with_columns(
            (pl.col("churn_probability").rank("ordinal") * 10 // (pl.len() + 1) + 1)
            .cast(pl.Int8)
            .alias("risk_decile")
        ).sort(["churn_probability", CUSTOMER_ID], descending=[True, False])

    def plot(self):
        from .plots.leaving import calibration_figure

        return calibration_figure(self)

    def _repr_html_(self) -> str:
        p = self.params
        return (
            f"<h4>Churn propensity ({html.escape(p['model'])})</h4>"
            f"<p>{html.escape(self.definition)}</p><p>Holdout AUC {self.auc:.3f} "
            f"(training {self.train_auc:.3f}); {p['n_train']} training, {p['n_holdout']} "
            f"holdout customers; churn rate {p['churn_rate']:.1%}.</p>"
            + self.coefficients._repr_html_()
        )


def _with_constant(x: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(x.shape[0]), x])


# Larger |coefficients| on the standardised scale are separation artefacts, not estimates.
_MAX_COEF = 10.0


def _fit_logit(y: np.ndarray, x: np.ndarray):
    """statsmodels Logit; terms behind quasi-separation (standard error > 50, or a coefficient
    beyond +-10 — an odds ratio over 20,000 per standard deviation or per category — on the
    standardised scale) are dropped one at a time and the model refit. Returns (fit, kind, kept columns)."""
    from statsmodels.discrete.discrete_model import Logit

    keep = list(range(x.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is reported in params instead
        for _ in range(8):
            xc = _with_constant(x[:, keep])
            try:
                res = Logit(y, xc).fit(disp=0, maxiter=35)
            except (np.linalg.LinAlgError, ValueError):
                break
            bse = np.asarray(res.bse, dtype=float)
            coef = np.abs(np.asarray(res.params, dtype=float)[1:])
            separated = coef.size > 0 and coef.max() > _MAX_COEF
            if (
                res.mle_retvals.get("converged", True)
                and np.all(np.isfinite(bse))
                and not separated
            ):
                return res, "logit", keep
            se = np.where(np.isfinite(bse[1:]), bse[1:], np.inf)
            if se.size and se.max() > 50:
                worst = int(np.argmax(se))  # drop one term at a time, the least determined first
            elif separated:
                worst = int(np.argmax(coef))  # a term that (almost) separates the classes
            else:
                break
            keep = [k for i, k in enumerate(keep) if i != worst]
        keep = list(range(x.shape[1]))
        xc = _with_constant(x)
        alpha = np.r_[0.0, np.full(x.shape[1], 1.0)]
        res = Logit(y, xc).fit_regularized(method="l1", alpha=alpha, disp=0)
    return res, "logit (L1-regularised: the plain fit did not converge)", keep


def _fit_cox(durations: np.ndarray, events: np.ndarray, x: np.ndarray, names: list[str]):
    import pandas as pd
    from lifelines import CoxPHFitter

    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    df["__d"], df["__e"] = durations, events
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter(penalizer=0.01).fit(df, duration_col="__d", event_col="__e")
    return cph


def _predict(model: str, fit, x: np.ndarray, names, horizon_days: float) -> np.ndarray:
    if model == "logit":
        return np.asarray(fit.predict(_with_constant(x)), dtype=float)
    import pandas as pd

    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        surv = fit.predict_survival_function(df, times=[horizon_days])
    return np.asarray(surv.iloc[0].to_numpy(), dtype=float)  # P(no return within the horizon)


def _coef_table(model: str, fit, names: list[str], level: float) -> pl.DataFrame:
    z = sps.norm.ppf(0.5 + level / 2)
    if model == "logit":
        terms = ["intercept", *names]
        coef = np.asarray(fit.params, dtype=float)
        se = np.asarray(getattr(fit, "bse", np.full(coef.shape, np.nan)), dtype=float)
        label = "odds_ratio"
    else:
        terms = list(names)
        coef = fit.params_.to_numpy(dtype=float)
        se = fit.standard_errors_.to_numpy(dtype=float)
        label = "hazard_ratio"
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = coef / se
        p = 2 * sps.norm.sf(np.abs(zval))
    return pl.DataFrame(
        {
            "term": terms,
            "coef": coef,
            "std_err": se,
            "z": zval,
            "p_value": p,
            "ci_low": coef - z * se,
            "ci_high": coef + z * se,
            "ratio": np.exp(coef),
            "ratio_kind": [label] * len(terms),
        }
    ).with_columns(pl.col(pl.Float64).fill_nan(None))


def calibration_table(
    y: np.ndarray, p: np.ndarray, *, bins: int = 10, level: float = 0.95
) -> pl.DataFrame:
    """Deciles (by rank) of predicted probability: mean predicted vs observed rate, Wilson CI."""
    n = len(p)
    bins = max(1, min(bins, n))
    order = np.argsort(p, kind="mergesort")
    decile = np.empty(n, dtype=np.int64)
    decile[order] = np.arange(n) * bins // max(n, 1) + 1
    df = pl.DataFrame({"decile": decile, "p": p, "y": np.asarray(y, dtype=float)})
    out = (
        df.group_by("decile")
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("p").mean().alias("mean_predicted"),
            pl.col("y").sum().cast(pl.Int64).alias("churned"),
            pl.col("y").mean().alias("observed_rate"),
        )
        .sort("decile")
    )
    low, high = wilson_ci(out["churned"], out["customers"], level)
    return out.with_columns(pl.Series("ci_low", low), pl.Series("ci_high", high))


def _return_times(events_lf, cut, horizon: timedelta, activity: str, purchase_event: str):
    from .schema import EVENT

    act = events_lf if activity == "any" else events_lf.filter(pl.col(EVENT) == purchase_event)
    return (
        act.filter((pl.col(TS) >= cut) & (pl.col(TS) < cut + horizon))
        .group_by(CUSTOMER_ID)
        .agg(((pl.col(TS).min() - pl.lit(cut)).dt.total_microseconds() / 86_400e6).alias("__t"))
        .collect()
    )


def churn_propensity(
    events,
    *,
    cutoff,
    horizon="90d",
    customers=None,
    subscriptions=None,
    annotations=None,
    model: str = "logit",
    active_within="180d",
    activity: str = "any",
    holdout: float = 0.3,
    seed: int = 0,
    exclude: tuple[str, ...] = (),
    level: float = 0.95,
    window="90d",
    purchase_event: str = "purchase",
    schema: EventSchema | None = None,
    customer_schema: CustomerSchema | None = None,
    subscription_schema: SubscriptionSchema | None = None,
) -> ChurnPropensity:
    """Fit a churn-propensity model at `cutoff` and judge it on a random holdout of customers.

    Population: customers with an activity event in the `active_within` window before the
    cutoff (None: any time before). Label: no activity in ``[cutoff, cutoff + horizon)``.
    Features: ``wb.customer_features`` at the cutoff (minus `exclude`); non-negative numeric
    features with values above 1 are log1p-transformed, then all numeric features are
    standardised on the training part; text attributes become indicators (levels with fewer
    than 20 training customers join the most frequent level); exactly collinear columns are
    dropped. `model`: "logit" (statsmodels) or "cox" (lifelines, time to next activity).
    """
    caller = "churn_propensity"
    check_choice(caller, "model", model, ["logit", "cox"])
    check_choice(caller, "activity", activity, ["any", "purchase"])
    holdout = check_fraction(caller, "holdout", holdout, low=0.05, high=0.95, closed=True)
    level = check_fraction(caller, "level", level)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise BadParameterError(f"{caller}: seed={seed!r} must be an integer.")
    cut = to_utc(cutoff, caller, "cutoff")
    h = parse_duration(horizon, caller, "horizon")
    lf = canonical(events, schema=schema, caller=caller)
    labels = churn_labels(
        lf,
        cutoff=cut,
        horizon=h,
        active_within=active_within,
        activity=activity,
        purchase_event=purchase_event,
    )
    feature_options = {"window": window, "purchase_event": purchase_event}
    feats = customer_features(
        lf,
        cutoff=cut,
        customers=customers,
        subscriptions=subscriptions,
        annotations=annotations,
        customer_schema=customer_schema,
        subscription_schema=subscription_schema,
        **feature_options,
    )
    data = labels.join(feats, on=CUSTOMER_ID, how="inner").sort(CUSTOMER_ID)
    n = data.height
    y_all = data["churned"].to_numpy().astype(float)
    if n < 50 or y_all.sum() < 5 or (n - y_all.sum()) < 5:
        raise BadDataError(
            f"{caller}: {n} customers ({int(y_all.sum())} churned) are too few to fit a model "
            f"at cutoff {cut:%Y-%m-%d}. Fix: choose a cutoff with more active customers on both "
            f"sides (at least 50 customers, 5 churned and 5 retained)."
        )
    rng = np.random.default_rng(seed)
    is_hold = rng.permutation(n) < int(round(holdout * n))
    train, test = data.filter(~pl.Series(is_hold)), data.filter(pl.Series(is_hold))
    candidates = [c for c in feats.columns if c != CUSTOMER_ID and c not in exclude]
    categories = [c[len(CATEGORY_PREFIX) :] for c in feats.columns if c.startswith(CATEGORY_PREFIX)]
    design = _Design.learn(train, candidates, categories)
    x_train, x_test = design.matrix(train), design.matrix(test)
    y_train, y_test = train["churned"].to_numpy(), test["churned"].to_numpy()
    hdays = h.total_seconds() / 86_400
    if model == "logit":
        fit, fit_kind, kept = _fit_logit(y_train.astype(float), x_train)
        if len(kept) < len(design.columns):
            design = replace(design, columns=[design.columns[i] for i in kept])
            x_train, x_test = x_train[:, kept], x_test[:, kept]
    else:
        back = _return_times(lf, cut, h, activity, purchase_event)
        t = train.select(CUSTOMER_ID).join(back, on=CUSTOMER_ID, how="left")["__t"]
        dur = t.fill_null(hdays).clip(1e-6).to_numpy()
        fit, fit_kind = _fit_cox(dur, (~t.is_null()).to_numpy(), x_train, design.columns), "cox"
    p_train = _predict(model, fit, x_train, design.columns, hdays)
    p_test = _predict(model, fit, x_test, design.columns, hdays)
    auc, train_auc = auc_score(y_test, p_test), auc_score(y_train, p_train)
    calib = calibration_table(y_test, p_test, level=level)
    coefs = _coef_table(model, fit, design.columns, level)
    if min(int(y_test.sum()), int((~y_test).sum())) < 10:
        warnings.warn(
            f"{caller}: the holdout has fewer than 10 churned or retained customers; "
            f"its AUC is imprecise.",
            WorkbenchWarning,
            stacklevel=2,
        )
    preds = pl.DataFrame(
        {
            CUSTOMER_ID: data[CUSTOMER_ID],
            "churned": data["churned"],
            "holdout": is_hold,
        }
    ).with_columns(
        pl.Series(
            "churn_probability",
            np.where(is_hold, _scatter(p_test, is_hold), _scatter(p_train, ~is_hold)),
        )
    )
    params = {
        "cutoff": cut,
        "horizon": str(horizon),
        "horizon_days": hdays,
        "model": model,
        "fit": fit_kind,
        "active_within": active_within,
        "activity": activity,
        "holdout": holdout,
        "seed": seed,
        "level": level,
        "exclude": list(exclude),
        "n_train": int((~is_hold).sum()),
        "n_holdout": int(is_hold.sum()),
        "churn_rate": float(y_all.mean()),
        "features": list(design.columns),
        "feature_options": feature_options,
    }
    return ChurnPropensity(
        coefficients=coefs,
        calibration=calib,
        auc=auc,
        train_auc=train_auc,
        params=params,
        predictions=preds,
        _design=design,
        _fit=fit,
    )


def _scatter(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(mask.shape, np.nan)
    out[mask] = values
    return out
