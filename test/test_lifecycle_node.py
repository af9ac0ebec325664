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

"""
The managed node driven as nav2_lifecycle_manager drives it: lifecycle service calls over DDS.

Each transition is requested through the standard ``change_state`` service and checked by what
the graph shows (publishers, outputs, diagnostics) and by what the node holds (the model).
"""
from __future__ import annotations

import gc
import weakref

from conftest import Graph, wait_until
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions, GetState
from mono_depth_ros.data.synthetic import SyntheticScenes
from mono_depth_ros.lifecycle_node import MonoDepthLifecycleNode
from mono_depth_ros.models.registry import DEMO_MODEL
import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter
from ros_rig import Rig
from test_node import send_until_received, STAMPS

CONFIGURE, CLEANUP, ACTIVATE, DEACTIVATE = (Transition.TRANSITION_CONFIGURE,
                                            Transition.TRANSITION_CLEANUP,
                                            Transition.TRANSITION_ACTIVATE,
                                            Transition.TRANSITION_DEACTIVATE)
SHUTDOWN = {'unconfigured': Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
            'inactive': Transition.TRANSITION_INACTIVE_SHUTDOWN,
            'active': Transition.TRANSITION_ACTIVE_SHUTDOWN}


class LifecycleManager(Node):
    """Calls the lifecycle services of mono_depth_node, as nav2_lifecycle_manager does."""

    def __init__(self) -> None:
        super().__init__('test_lifecycle_manager')
        self.change = self.create_client(ChangeState, '/mono_depth_node/change_state')
        self.get = self.create_client(GetState, '/mono_depth_node/get_state')
        self.available = self.create_client(GetAvailableTransitions,
                                            '/mono_depth_node/get_available_transitions')

    def _call(self, client, request):
        assert client.wait_for_service(timeout_sec=30.0), client.srv_name
        future = client.call_async(request)
        assert wait_until(future.done, 120.0), client.srv_name
        return future.result()

    def transition(self, transition_id: int) -> bool:
        """Request a transition; return whether it succeeded."""
        return self._call(self.change, ChangeState.Request(
            transition=Transition(id=transition_id))).success

    def state(self) -> str:
        """Return the label of the node's current state."""
        return self._call(self.get, GetState.Request()).current_state.label

    def transitions(self) -> set[str]:
        """Return the labels of the transitions available now."""
        reply = self._call(self.available, GetAvailableTransitions.Request())
        return {description.transition.label for description in reply.available_transitions}


@pytest.fixture
def graph(ros):
    """
    Spin the nodes in one thread, as the lifecycle node's executable does (rclpy.spin).

    In rclpy's multi-threaded executor a transition that destroys subscriptions and publishers
    races the thread that builds the next wait set: an event handler destroyed meanwhile raises
    InvalidHandle there and stops all spinning (the next service reply never comes).
    """
    graph = Graph(multi_threaded=False)
    yield graph
    graph.close()


@pytest.fixture(scope='module')
def scene():
    """Return one synthetic 320x240 frame."""
    return SyntheticScenes(seed=41, count=1, width=320, height=240)[0]


def managed(graph, **parameters):
    """Start the lifecycle node (unconfigured), a manager and a rig subscribed to the depth."""
    parameters.setdefault('model', DEMO_MODEL)
    node = graph.add(MonoDepthLifecycleNode(parameter_overrides=[
        Parameter(name, value=value) for name, value in parameters.items()]))
    return node, graph.add(LifecycleManager()), graph.add(Rig(outputs=('depth/image',)))


def test_configure_activate_deactivate_cleanup_and_again(graph, scene):
    node, manager, rig = managed(graph)
    assert manager.state() == 'unconfigured'
    assert node.get_parameter('model').value  # parameters exist before configure
    assert rig.count_publishers('/depth/image') == 0 and node.processor is None

    assert manager.transition(CONFIGURE)
    assert manager.state() == 'inactive'
    assert wait_until(lambda: rig.count_publishers('/depth/image') == 1
                      and rig.count_subscribers('/image') == 1)
    model = weakref.ref(node.processor.estimator)
    # Inactive: frames arrive and are ignored, nothing is published.
    header = rig.send(scene.rgb, scene.intrinsics, next(STAMPS))
    assert rig.wait_for('depth/image', header, timeout=2.0) is None
    assert node.counts['received'] == 0 and not rig.diagnostics

    assert manager.transition(ACTIVATE)
    assert manager.state() == 'active'
    send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)
    assert rig.latest_diagnostics()['model'] == node.processor.estimator.spec.name

    assert manager.transition(DEACTIVATE)
    assert manager.state() == 'inactive'
    received = len(rig.received['depth/image'])
    header = rig.send(scene.rgb, scene.intrinsics, next(STAMPS))
    assert rig.wait_for('depth/image', header, timeout=2.0) is None
    assert len(rig.received['depth/image']) == received

    assert manager.transition(CLEANUP)
    assert manager.state() == 'unconfigured'
    assert wait_until(lambda: rig.count_publishers('/depth/image') == 0
                      and rig.count_subscribers('/image') == 0)
    gc.collect()
    assert node.processor is None and model() is None  # the model is freed

    assert manager.transition(CONFIGURE) and manager.transition(ACTIVATE)
    send_until_received(rig, 'depth/image', scene.rgb, scene.intrinsics)


@pytest.mark.parametrize('state', list(SHUTDOWN))
def test_shutdown_from_any_state(graph, state):
    node, manager, rig = managed(graph)
    path = {'unconfigured': [], 'inactive': [CONFIGURE], 'active': [CONFIGURE, ACTIVATE]}
    for transition in path[state]:
        assert manager.transition(transition)
    assert manager.state() == state
    assert 'shutdown' in manager.transitions()
    assert manager.transition(SHUTDOWN[state])
    assert manager.state() == 'finalized'
    assert node.processor is None and not node.cameras
    assert wait_until(lambda: rig.count_publishers('/depth/image') == 0)


def test_a_bad_parameter_fails_configure_with_the_reason_and_leaves_it_unconfigured(graph):
    node, manager, _ = managed(graph, weights='/nonexistent/model.pth')
    assert not manager.transition(CONFIGURE)
    assert manager.state() == 'unconfigured'
    assert 'configure' in manager.transitions()
    assert node.processor is None
