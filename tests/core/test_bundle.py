"""Model bundles: round trip, atomic publication, and refusal of anything corrupt."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from papersift.core.bundle import (
    ARRAYS,
    CURRENT,
    MANIFEST,
    BundleError,
    ModelBundle,
    current_version,
    file_digest,
    load_bundle,
    load_current,
    publish,
    write_bundle,
)
from papersift.core.features import Featurizer
from tests.synthetic import DAYS, fitted_parts, make_world

TRAINED_AT = dt.datetime(2025, 4, 3, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def parts() -> tuple[Any, Any]:
    return fitted_parts(make_world(), epochs=3)


def publish_one(model_dir: Path, parts: tuple[Any, Any], version: str = "v1") -> ModelBundle:
    featurizer, scorer = parts
    return write_bundle(
        model_dir,
        featurizer=featurizer,
        scorer=scorer,
        trained_at=TRAINED_AT,
        data_start=DAYS[0],
        data_end=DAYS[1],
        params={"epochs": 3},
        metrics={"recall@50": 0.5},
        version=version,
    )


def test_round_trip_gives_the_same_arrays_features_and_scores(
    tmp_path: Path, parts: tuple[Any, Any]
) -> None:
    featurizer, scorer = parts
    bundle = publish_one(tmp_path, parts)

    loaded = load_current(tmp_path)

    assert loaded is not None
    assert loaded.version == "v1" == current_version(tmp_path)
    assert loaded.manifest.metrics == {"recall@50": 0.5}
    assert loaded.manifest.data_start == DAYS[0]
    assert sorted(loaded.scorer.arrays) == sorted(scorer.arrays)
    for name, array in scorer.arrays.items():
        np.testing.assert_array_equal(loaded.scorer.arrays[name], array)
    assert loaded.scorer.user_ids == scorer.user_ids
    day = make_world().papers_on(DAYS[-1])
    assert (loaded.featurizer.transform(day) != featurizer.transform(day)).nnz == 0
    user = scorer.user_ids[0]
    original = scorer.score(
        scorer.prepare_items(featurizer.transform(day)), user_id=user, history=None
    )
    reloaded = loaded.scorer.score(
        loaded.scorer.prepare_items(loaded.featurizer.transform(day)), user_id=user, history=None
    )
    assert reloaded is not None and original is not None
    np.testing.assert_allclose(reloaded, original)
    assert bundle.path == tmp_path / "v1"


def test_bundle_holds_data_only(tmp_path: Path, parts: tuple[Any, Any]) -> None:
    bundle = publish_one(tmp_path, parts)
    names = sorted(path.name for path in bundle.path.iterdir())
    assert names == ["arrays.npz", "featurizer.json", "manifest.json", "scorer.json"]
    with np.load(bundle.path / ARRAYS, allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)
    manifest = json.loads((bundle.path / MANIFEST).read_text())
    assert set(manifest["files"]) == {"arrays.npz", "featurizer.json", "scorer.json"}
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())


def test_publishing_a_second_bundle_moves_current_and_leaves_no_temporary_files(
    tmp_path: Path, parts: tuple[Any, Any]
) -> None:
    publish_one(tmp_path, parts, "v1")
    publish_one(tmp_path, parts, "v2")
    assert current_version(tmp_path) == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [CURRENT, "v1", "v2"]
    with pytest.raises(BundleError, match="already exists"):
        publish_one(tmp_path, parts, "v2")
    publish(tmp_path, "v1")  # rolling back is pointing CURRENT at an older version
    assert current_version(tmp_path) == "v1"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda path: (path / ARRAYS).write_bytes(b"not an npz"), "fails its checksum"),
        (lambda path: (path / "featurizer.json").unlink(), "missing or fails its checksum"),
        (lambda path: (path / MANIFEST).write_text("{"), "not valid JSON"),
        (lambda path: (path / MANIFEST).unlink(), "has no manifest.json"),
    ],
)
def test_a_damaged_bundle_is_refused(
    tmp_path: Path, parts: tuple[Any, Any], damage: Any, message: str
) -> None:
    bundle = publish_one(tmp_path, parts)
    damage(bundle.path)
    with pytest.raises(BundleError, match=message):
        load_current(tmp_path)


def test_truncated_arrays_with_a_forged_checksum_are_still_refused(
    tmp_path: Path, parts: tuple[Any, Any]
) -> None:
    bundle = publish_one(tmp_path, parts)
    arrays = bundle.path / ARRAYS
    arrays.write_bytes(arrays.read_bytes()[:200])
    manifest = json.loads((bundle.path / MANIFEST).read_text())
    manifest["files"][ARRAYS] = file_digest(arrays)
    (bundle.path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="cannot be loaded"):
        load_bundle(bundle.path)


def test_a_featurizer_that_does_not_match_the_scorer_is_refused(
    tmp_path: Path, parts: tuple[Any, Any]
) -> None:
    _, scorer = parts
    other = Featurizer.fit(make_world(papers_per_topic_per_day=3, seed=9).papers[:5])
    with pytest.raises(BundleError, match="features"):
        write_bundle(
            tmp_path,
            featurizer=other,
            scorer=scorer,
            trained_at=TRAINED_AT,
            data_start=None,
            data_end=None,
            params={},
            metrics={},
        )
    assert current_version(tmp_path) is None


def test_current_naming_something_strange_is_refused(tmp_path: Path) -> None:
    assert load_current(tmp_path) is None
    (tmp_path / CURRENT).write_text("../../etc\n")
    with pytest.raises(BundleError, match="not a version"):
        load_current(tmp_path)
    (tmp_path / CURRENT).write_text("v9\n")
    with pytest.raises(BundleError, match=r"has no manifest\.json"):
        load_current(tmp_path)
