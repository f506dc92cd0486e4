"""Envoy's typed configs as `Any`, packed deterministically so equal configs hash equal."""

from google.protobuf import any_pb2
from google.protobuf.message import Message


def packed(message: Message) -> any_pb2.Any:
    body = any_pb2.Any()
    body.Pack(message, deterministic=True)
    return body
