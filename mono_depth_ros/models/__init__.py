"""The model zoo: pure-PyTorch families and their registry."""

from mono_depth_ros.models.registry import create_model, DEFAULT_MODEL, get_spec, list_models
from mono_depth_ros.models.spec import InputPolicy, ModelSpec, WeightsSource

__all__ = ['create_model', 'DEFAULT_MODEL', 'get_spec', 'InputPolicy', 'list_models', 'ModelSpec',
           'WeightsSource']
