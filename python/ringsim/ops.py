"""Bus operations for batches (:meth:`ringsim.Simulator.execute_batch`, sessions).

Each function returns one ``ringsim.v1.BusOp`` message; a batch is a list of them, run in
order by the node's CPU bus master (each starts in the cycle after the previous one
completed). Addresses are byte addresses on the node's bus, 4-byte aligned for blocks (a
misaligned single read, write or poll reaches the bus, and the RTL answers it with ERR);
``Simulator.describe().address_map`` gives the map.
"""

from ringsim.v1 import bus_pb2

_CONDITIONS = {
    "equal": bus_pb2.POLL_CONDITION_EQUAL,
    "not_equal": bus_pb2.POLL_CONDITION_NOT_EQUAL,
}


def read(address):
    """read is one 32-bit read of address; the result's value is the word read."""
    return bus_pb2.BusOp(kind=bus_pb2.BUS_OP_KIND_READ, address=address)


def write(address, value, byte_mask=0):
    """write is one 32-bit write of value to address.

    byte_mask selects the byte lanes (bit k = bits [8k+7:8k]); 0 means all four.
    """
    if not 0 <= byte_mask <= 0xF:
        raise ValueError("byte_mask %#x: want 0..0xf (0 means all lanes)" % byte_mask)
    return bus_pb2.BusOp(kind=bus_pb2.BUS_OP_KIND_WRITE, address=address, value=value, byte_mask=byte_mask)


def read_block(address, count):
    """read_block is count back-to-back 32-bit reads at address, address+4, ...

    The result's words are the words read (fewer after a bus error).
    """
    return bus_pb2.BusOp(kind=bus_pb2.BUS_OP_KIND_READ_BLOCK, address=address, count=count)


def write_block(address, words):
    """write_block is back-to-back 32-bit writes of words at address, address+4, ..."""
    words = list(words)
    return bus_pb2.BusOp(kind=bus_pb2.BUS_OP_KIND_WRITE_BLOCK, address=address, words=words)


def idle(cycles):
    """idle keeps the CPU off the bus for cycles cycles (the CPU computing)."""
    return bus_pb2.BusOp(kind=bus_pb2.BUS_OP_KIND_IDLE, count=cycles)


def poll(address, value, max_reads, mask=0xFFFFFFFF, condition="equal", interval=0):
    """poll reads address until (word & mask) == value (condition "equal") or != value
    (condition "not_equal"), at most max_reads reads, idling interval cycles between them.

    The result's value is the last word read and its count the number of reads.
    """
    try:
        cond = _CONDITIONS[condition]
    except KeyError:
        raise ValueError("poll condition %r: want one of %s" % (condition, ", ".join(_CONDITIONS))) from None
    return bus_pb2.BusOp(kind=bus_pb2.BUS_OP_KIND_POLL, address=address, value=value, count=max_reads,
                         condition=cond, poll_mask=mask, interval=interval)
