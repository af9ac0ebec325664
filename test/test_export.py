# Copyright 2026 The mono_depth_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""ONNX export: files that reproduce PyTorch, the ONNX backend in the estimator, the CLI."""
from __future__ import annotations

import argparse

from mono_depth_ros import export, parity, scale
from mono_depth_ros.backends.onnx_backend import OnnxBackend, spec_for_backend
from mono_depth_ros.backends.torch_backend import TorchBackend
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.estimator import DepthEstimator
from mono_depth_ros.models.registry import create_model, get_spec
import numpy as np
import pytest
import torch

ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnx')

# (model, network size (height, width)); joint-mnv3-synthetic has real weights in the package,
# the others are filled by the parity rule (random initialisation can give all-zero depth).
CASES = [('joint-mnv3-synthetic', (240, 320)), ('lite-mono-tiny', (192, 640)),
         ('depth-anything-v2-small', (168, 224)), ('dpt-hybrid-kitti-a', (64, 96))]


def build(name: str) -> torch.nn.Module:
    if name == 'joint-mnv3-synthetic':
        return create_model(name, 'auto')
    module = create_model(name)
    parity.fill_by_rule(module, 3)
    return module.eval()


def torch_outputs(module, spec, x: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        outputs = module(torch.from_numpy(x))
    return {name: outputs[name].numpy() for name in export.output_names(spec)}


@pytest.mark.parametrize('name,size', CASES)
def test_onnxruntime_reproduces_pytorch(tmp_path, name, size):
    spec = get_spec(name)
    module = build(name)
    path = export.export_onnx(module, spec, size, tmp_path / f'{name}.onnx')
    x = np.random.default_rng(7).standard_normal((1, 3, *size)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    assert [o.name for o in session.get_outputs()] == list(export.output_names(spec))
    ours = dict(zip(export.output_names(spec), session.run(None, {'image': x})))
    for key, expected in torch_outputs(module, spec, x).items():
        assert np.abs(expected).max() > 0 and expected.std() > 0, f'{key} is constant'
        assert ours[key].shape == expected.shape
        np.testing.assert_allclose(ours[key], expected, rtol=1e-4,
                                   atol=1e-4 * np.abs(expected).max())
    checks = export.verify_onnx(module, spec, path, size)
    assert [c.name for c in checks] == list(export.output_names(spec))
    assert all(c.passed and c.max_rel <= 1e-4 and not c.reference_is_zero for c in checks)


@pytest.fixture(scope='module')
def joint(tmp_path_factory):
    spec = get_spec('joint-mnv3-synthetic')
    module = build(spec.name)
    path = export.export_onnx(module, spec, (240, 320),
                              tmp_path_factory.mktemp('onnx') / 'joint.onnx')
    return spec, module, path


def test_estimator_with_onnx_backend_matches_torch_backend(joint):
    spec, module, path = joint
    backend = OnnxBackend(path, spec, providers=['CPUExecutionProvider'])
    assert (backend.device, backend.precision, backend.input_size) == ('cpu', 'fp32', (240, 320))
    sample = SyntheticScenes(seed=3, count=1, width=640, height=480)[0]
    ours = DepthEstimator(spec, backend).estimate(sample.rgb, sample.intrinsics)
    reference = DepthEstimator(spec, TorchBackend(module, spec, device='cpu')).estimate(
        sample.rgb, sample.intrinsics)
    assert ours.depth.shape == (480, 640)
    valid = np.isfinite(reference.depth)
    np.testing.assert_array_equal(valid, reference.labels != spec.classes.index('sky'))
    np.testing.assert_array_equal(np.isfinite(ours.depth), valid)
    np.testing.assert_allclose(ours.depth[valid], reference.depth[valid], rtol=1e-4)
    # Labels are an argmax: only near-ties may flip.
    assert (ours.labels == reference.labels).mean() > 0.999


def test_onnx_backend_checks_model_and_size(joint):
    spec, _, path = joint
    with pytest.raises(ValueError, match="exported from model 'joint-mnv3-synthetic'"):
        OnnxBackend(path, get_spec('lite-mono-tiny'))
    backend = OnnxBackend(path, spec)
    with pytest.raises(ValueError, match='exported for 320x240'):
        backend.infer(np.zeros((1, 3, 192, 640), np.float32))
    with pytest.raises(ValueError, match=r'float32 numpy array .*got float32 \(240, 320, 3\)'):
        backend.infer(np.zeros((240, 320, 3), np.float32))
    with pytest.raises(FileNotFoundError, match='mono-depth export'):
        OnnxBackend(path.with_name('missing.onnx'), spec)


def test_fixed_size_file_fixes_the_estimators_input(tmp_path):
    spec = get_spec('depth-anything-v2-small')
    path = export.export_onnx(build(spec.name), spec, (168, 224), tmp_path / 'dav2.onnx')
    fixed = spec_for_backend(spec, OnnxBackend(path, spec))
    assert fixed.input_policy.network_size(480, 640) == (168, 224)
    assert fixed.mean == spec.mean and fixed.output_kind == spec.output_kind
    estimator = DepthEstimator(fixed, OnnxBackend(path, spec), scale.make_policy('fixed'),
                               output_size='model')
    assert estimator.estimate(np.full((480, 640, 3), 90, np.uint8)).unscaled_depth.shape \
        == (168, 224)


def test_dynamic_export_runs_at_another_size(tmp_path):
    spec = get_spec('joint-mnv3-synthetic')
    module = build(spec.name)
    path = export.export_onnx(module, spec, (240, 320), tmp_path / 'dynamic.onnx', dynamic=True)
    backend = OnnxBackend(path, spec)
    assert backend.input_size is None
    x = np.random.default_rng(1).standard_normal((1, 3, 192, 256)).astype(np.float32)
    ours = backend.run(x)
    for key, expected in torch_outputs(module, spec, x).items():
        np.testing.assert_allclose(ours[key], expected, rtol=1e-4,
                                   atol=1e-4 * np.abs(expected).max())


def test_fp16_export_is_marked_and_close(tmp_path):
    spec = get_spec('joint-mnv3-synthetic')
    module = build(spec.name)
    path = export.export_onnx(module, spec, (240, 320), tmp_path / 'half.onnx', fp16=True)
    assert OnnxBackend(path, spec).precision == 'fp16'
    checks = export.verify_onnx(module, spec, path, (240, 320), precision='fp16')
    assert all(c.passed for c in checks)
    # Half precision is not float32: a 1e-7 tolerance must reject it.
    strict = export.verify_onnx(module, spec, path, (240, 320), tolerance=1e-7)
    assert not all(c.passed for c in strict)
    assert next(module.parameters()).dtype == torch.float32


def test_compare_outputs_reports_errors():
    reference = {'depth': np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)}
    good = export.compare_outputs({'depth': reference['depth'] + 1e-5}, reference, 1e-4)
    assert good[0].passed and good[0].max_abs == pytest.approx(1e-5, rel=1e-2)
    assert good[0].max_rel == pytest.approx(1e-5 / 4, rel=1e-2)
    bad = export.compare_outputs({'depth': reference['depth'] * 1.01}, reference, 1e-4)
    assert not bad[0].passed and 'FAILED' in str(bad[0])
    zero = export.compare_outputs({'depth': np.zeros((2, 2))}, {'depth': np.zeros((2, 2))}, 1e-4)
    assert zero[0].passed and zero[0].reference_is_zero and 'proves little' in str(zero[0])
    with pytest.raises(export.ExportError, match='shape'):
        export.compare_outputs({'depth': np.zeros((3, 2))}, reference, 1e-4)
    with pytest.raises(export.ExportError, match="no output 'depth'"):
        export.compare_outputs({}, reference, 1e-4)


def test_network_size_follows_the_stride():
    spec = get_spec('depth-anything-v2-small')
    assert export.network_size(spec, '224x168') == (168, 224)
    assert export.network_size(spec, None) == spec.input_policy.network_size(480, 640)
    with pytest.raises(ValueError, match='multiples of 14.*try 238x168'):
        export.network_size(spec, '225x168')
    with pytest.raises(ValueError, match='WxH'):
        export.network_size(spec, '224')


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    return export.main(parser.parse_args(argv))


def test_cli_exports_and_prints_the_errors(tmp_path, capsys):
    out = tmp_path / 'joint.onnx'
    assert run_cli(['--model', 'joint-mnv3-synthetic', '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and 'max abs error' in printed and 'max rel error' in printed
    assert printed.count(' ok') == 2


def test_cli_errors(tmp_path, capsys):
    assert run_cli(['--model', 'fastdepth-nyu-int8', '--out', str(tmp_path / 'x.onnx')]) == 2
    assert 'no PyTorch graph' in capsys.readouterr().err
    assert run_cli(['--model', 'lite-mono-tiny', '--weights', 'none', '--format', 'tensorrt',
                    '--dynamic', '--out', str(tmp_path / 'x.engine')]) == 2
    assert '--dynamic is for ONNX only' in capsys.readouterr().err


def test_cli_tensorrt_without_tensorrt_says_how_to_get_it(tmp_path, capsys):
    try:
        import tensorrt  # noqa: F401
        pytest.skip('TensorRT is installed here')
    except ImportError:
        pass
    engine = tmp_path / 'joint.engine'
    assert run_cli(['--model', 'joint-mnv3-synthetic', '--format', 'tensorrt',
                    '--out', str(engine)]) == 2
    err = capsys.readouterr().err
    assert 'TensorRT is not installed' in err and 'JetPack' in err and 'pip install' in err
    assert not engine.exists() and not engine.with_suffix('.onnx').exists()


def test_cli_dynamic_checks_a_second_size(tmp_path, capsys):
    assert run_cli(['--model', 'joint-mnv3-synthetic', '--dynamic',
                    '--out', str(tmp_path / 'dynamic.onnx')]) == 0
    printed = capsys.readouterr().out
    assert 'at 384x304 (--dynamic)' in printed and printed.count(' ok') == 4
    assert export.second_size(get_spec('depth-anything-v2-small'), (168, 224)) == (196, 252)
