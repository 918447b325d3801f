"""The external-data file names an ONNX model refers to, read from its
protobuf bytes without the ``onnx`` package (the runtime does not need it).

An ONNX tensor may keep its data in another file, named by a ``location``
entry that the engine opens relative to the model. A model from elsewhere
could name any file (``/etc/...``, ``../../...``); :func:`external_locations`
lists them so the runtime can refuse those outside the artefact folder.
"""
from typing import Iterator, List, Tuple

# Field numbers (onnx.proto): ModelProto.graph=7, .training_info=20, .functions=25;
# TrainingInfoProto.initialization=1, .algorithm=2;
# GraphProto.node=1, .initializer=5, .sparse_initializer=15;
# NodeProto.attribute=5; FunctionProto.node=7, .attribute_proto=11;
# AttributeProto.t=5, .g=6,
# .tensors=10, .graphs=11, .sparse_tensor=22, .sparse_tensors=23;
# SparseTensorProto.values=1, .indices=2; TensorProto.external_data=13;
# StringStringEntryProto.key=1, .value=2.
_MESSAGES = {
    'model': {7: 'graph', 20: 'training', 25: 'function'},
    'training': {1: 'graph', 2: 'graph'},
    'graph': {1: 'node', 5: 'tensor', 15: 'sparse'},
    'function': {7: 'node', 11: 'attribute'},
    'node': {5: 'attribute'},
    'attribute': {5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse',
                  23: 'sparse'},
    'sparse': {1: 'tensor', 2: 'tensor'},
    'tensor': {13: 'entry'},
}


def _fields(data: memoryview) -> Iterator[Tuple[int, int, memoryview]]:
    """(field number, wire type, payload) of each field of one message."""
    pos, end = 0, len(data)

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            if pos >= end:
                raise ValueError('truncated varint')
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
    while pos < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            varint()
            yield number, wire, data[0:0]
        elif wire == 1:
            pos += 8
        elif wire == 2:
            size = varint()
            if pos + size > end:
                raise ValueError('truncated field')
            yield number, wire, data[pos:pos + size]
            pos += size
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f'wire type {wire}')


def external_locations(model_bytes: bytes) -> List[str]:
    """Every ``location`` of external tensor data in an ONNX model (raises
    ``ValueError`` where the bytes are not a well-formed protobuf)."""
    found: List[str] = []
    stack = [('model', memoryview(model_bytes))]
    while stack:
        kind, data = stack.pop()
        if kind == 'entry':
            entry = {n: bytes(p).decode('utf-8', 'replace') for n, w, p in _fields(data)
                     if w == 2}
            if entry.get(1) == 'location':
                found.append(entry.get(2, ''))
            continue
        children = _MESSAGES[kind]
        for number, wire, payload in _fields(data):
            if wire == 2 and number in children:
                stack.append((children[number], payload))
    return found
