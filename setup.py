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

"""ament_python / pip packaging for mono_depth_ros."""
from glob import glob

from setuptools import find_packages, setup

package_name = 'mono_depth_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={'mono_depth_ros': ['models/weights/*.safetensors',
                                     'models/weights/*.json']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.xml')
         + glob('config/*.rviz')),
    ],
    python_requires='>=3.10',
    # torch is deliberately not listed: it comes from the platform (JetPack, a CUDA or CPU wheel)
    # and pip must never replace it with another build.
    install_requires=['numpy', 'opencv-python-headless', 'pyyaml', 'setuptools'],
    extras_require={
        'tflite': ['ai-edge-litert'],
        'onnx': ['onnx', 'onnxruntime'],
        'bags': ['rosbags', 'mcap'],
        'fleet': ['rosbags', 'mcap', 'ray'],
        # colcon test runs pytest (not unittest) for a package with a pytest test dependency.
        'test': ['pytest'],
    },
    zip_safe=False,
    maintainer='mono_depth_ros maintainers',
    maintainer_email='maintainers@mono-depth-ros.dev',
    description='Monocular depth for ROS 2: depth images, point clouds, segmentation.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'mono_depth_node = mono_depth_ros.executables:mono_depth_node',
            'mono_depth_lifecycle_node = mono_depth_ros.executables:mono_depth_lifecycle_node',
            'camera_player = mono_depth_ros.executables:camera_player',
            'mono-depth = mono_depth_ros.cli:main',
        ],
    },
)
