"""List against the kernel's own account (debugfs bufinfo) and the fixture's truth, buffer for buffer."""
import json

from conftest import PAGE_SIZE, call, dmabufctl, read_bufinfo, sorted_buffers


def printable(name):
    """How the table shows a name (dmabufctl's printable()): \\, \\n, \\t, \\xNN for controls."""
    out = []
    for char in name:
        if char in "\\\n\t":
            out.append({"\\": "\\\\", "\n": "\\n", "\t": "\\t"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def _create_mixed(buffers):
    # Names without tabs or newlines: bufinfo prints one line per buffer.
    buffers.create("cam 0", PAGE_SIZE, "udmabuf", count=3)
    buffers.create("cam 0", 16 * PAGE_SIZE, "system")
    buffers.create("gpu/frame:é漢", 2 * PAGE_SIZE, "udmabuf")
    buffers.create('q"uote\\', 3 * PAGE_SIZE, "system", count=2)
    buffers.create("z" * 31, 5 * PAGE_SIZE, "udmabuf")
    buffers.create(None, 4 * PAGE_SIZE, "udmabuf", count=2)
    buffers.create(None, 256 * PAGE_SIZE, "system")
    [renamed] = buffers.create("old-name", PAGE_SIZE, "udmabuf")
    buffers.rename(renamed, "new-name")
    [closed] = buffers.create("closed", PAGE_SIZE, "system")
    buffers.close(closed)


def test_list_equals_bufinfo_and_the_fixture(daemon, buffers):
    _create_mixed(buffers)
    truth = sorted_buffers(buffers.host_truth())
    with daemon.client() as client:
        reply = call(client, "List")
    kernel = sorted_buffers(read_bufinfo())
    assert kernel == truth, "the fixture's truth is not what the kernel holds"
    assert sorted_buffers(reply["buffers"]) == kernel
    assert len({b["inode"] for b in reply["buffers"]}) == len(reply["buffers"])
    info = reply["scan"]
    assert (info["buffers"], info["bytes"]) == (len(kernel), sum(b["size"] for b in kernel))
    assert "details_dropped" not in info


def test_dmabufctl_list_json_equals_bufinfo(daemon, buffers):
    _create_mixed(buffers)
    result = dmabufctl("list", "--socket", daemon.socket, "--json")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert sorted_buffers(reply["buffers"]) == sorted_buffers(read_bufinfo())
    assert reply["scan"]["buffers"] == len(reply["buffers"])


def test_dmabufctl_list_table_shows_every_buffer(daemon, buffers):
    _create_mixed(buffers)
    result = dmabufctl("list", "--socket", daemon.socket)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["INODE", "SIZE", "REFS", "EXPORTER", "NAME"]
    assert lines[-1].startswith("pass ")
    rows = {}
    for line in lines[1:-1]:
        inode, size, references, exporter, *name = line.split(None, 4)
        rows[int(inode)] = (int(size), int(references), exporter, name[0] if name else "")
    expected = {b["inode"]: (b["size"], b["references"], b["exporter"], printable(b["name"]))
                for b in read_bufinfo()}
    assert rows == expected


def test_list_of_an_empty_set_after_freeing_everything(daemon, buffers):
    _create_mixed(buffers)
    buffers.close_all()
    with daemon.client() as client:
        reply = call(client, "List")
    assert sorted_buffers(reply["buffers"]) == sorted_buffers(buffers.baseline) == sorted_buffers(read_bufinfo())
