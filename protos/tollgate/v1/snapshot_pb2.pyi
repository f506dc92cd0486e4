from google.protobuf import any_pb2 as _any_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Resource(_message.Message):
    __slots__ = ("name", "body")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    name: str
    body: _any_pb2.Any
    def __init__(self, name: _Optional[str] = ..., body: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class ResourceSet(_message.Message):
    __slots__ = ("type_url", "version", "resources")
    TYPE_URL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    type_url: str
    version: str
    resources: _containers.RepeatedCompositeFieldContainer[Resource]
    def __init__(self, type_url: _Optional[str] = ..., version: _Optional[str] = ..., resources: _Optional[_Iterable[_Union[Resource, _Mapping]]] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("version", "sets", "compiled_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SETS_FIELD_NUMBER: _ClassVar[int]
    COMPILED_AT_FIELD_NUMBER: _ClassVar[int]
    version: str
    sets: _containers.RepeatedCompositeFieldContainer[ResourceSet]
    compiled_at: int
    def __init__(self, version: _Optional[str] = ..., sets: _Optional[_Iterable[_Union[ResourceSet, _Mapping]]] = ..., compiled_at: _Optional[int] = ...) -> None: ...
