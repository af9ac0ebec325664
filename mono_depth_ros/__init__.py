"""mono_depth_ros: monocular depth estimation for ROS 2 and the command line."""

__version__ = '0.1.0'
