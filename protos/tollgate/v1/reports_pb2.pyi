from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class NodeCondition(_message.Message):
    __slots__ = ("node_id", "name", "active", "since", "detail")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    name: str
    active: bool
    since: float
    detail: str
    def __init__(self, node_id: _Optional[str] = ..., name: _Optional[str] = ..., active: _Optional[bool] = ..., since: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class NodeConditionAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
