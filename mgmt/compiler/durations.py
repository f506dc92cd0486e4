"""Small protobuf value helpers shared by the resource builders."""

from google.protobuf.duration_pb2 import Duration
from google.protobuf.wrappers_pb2 import UInt32Value


def ms(milliseconds: int) -> Duration:
    return Duration(seconds=milliseconds // 1000, nanos=(milliseconds % 1000) * 1_000_000)


def u32(value: int) -> UInt32Value:
    return UInt32Value(value=value)
