"""make install and make uninstall into a throwaway root (DESTDIR): static binaries that run
without the toolchain, man pages that lint clean, completion scripts that each shell
accepts and that complete a subcommand and an option value as the shell calls them, and
systemd units that systemd-analyze verifies and rates."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECURITY_THRESHOLD = 2.0  # systemd-analyze security's exposure level (0 to 10); README reports it

BASH_COMPLETE = r"""
source "$1"
COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_dmabufctl dmabufctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""

# zsh completes only at an interactive prompt: type the line and TAB in a pseudo-terminal.
ZSH_COMPLETE = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; PROMPT='> '; unsetopt beep"
zpty -w -n z "$2"$'\t'
local out chunk
for i in {1..25}; do
  sleep 0.2
  while zpty -r -t z chunk; do out+=$chunk; done
done
print -r -- "${out//$'\r'/}"
zpty -d z
"""


@pytest.fixture(scope="module")
def root():
    folder = tempfile.mkdtemp(prefix="dmabufd-install-")
    result = subprocess.run(["make", "-s", "install", f"DESTDIR={folder}", "PREFIX=/usr"], cwd=REPO,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield folder
    shutil.rmtree(folder)


def installed(root, path):
    return os.path.join(root, path.lstrip("/"))


def test_binaries_run_without_the_toolchain(root):
    for binary in ("usr/sbin/dmabufd", "usr/bin/dmabufctl"):
        path = installed(root, binary)
        linked = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        assert "libswift" not in linked and "libFoundation" not in linked, linked
        version = subprocess.run([path, "--version"], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
        assert (version.returncode, version.stdout.strip()) == (0, "0.1.0"), version.stderr


def test_man_pages_render_and_lint_clean(root):
    pages = []
    for section in ("man1", "man7", "man8"):
        folder = installed(root, f"/usr/share/man/{section}")
        pages += [os.path.join(folder, page) for page in sorted(os.listdir(folder))]
    names = [os.path.basename(page) for page in pages]
    for expected in ("dmabufctl.1", "dmabufctl.watch.1", "dmabufctl.scan.1", "dmabufd.8", "dmabufd-protocol.7"):
        assert expected in names, names
    for page in pages:
        lint = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page], capture_output=True, text=True)
        assert (lint.returncode, lint.stdout + lint.stderr) == (0, ""), page
        rendered = subprocess.run(["mandoc", "-Tutf8", page], capture_output=True, text=True)
        plain = re.sub(".\x08", "", rendered.stdout)  # bold and underline are overstruck
        assert rendered.returncode == 0 and "NAME" in plain and "DESCRIPTION" in plain, page


def test_the_daemon_page_covers_every_option(root):
    page = open(installed(root, "/usr/share/man/man8/dmabufd.8")).read()
    help_text = subprocess.run([installed(root, "/usr/sbin/dmabufd"), "--help"], capture_output=True, text=True).stdout
    options = {word.rstrip(",.;:") for word in help_text.split() if word.startswith("--") and len(word) > 2}
    options -= {"--version", "--help"}
    for option in sorted(options):
        assert f"Fl -{option[2:]}" in page, f"dmabufd(8) does not describe {option}"


def test_completion_scripts_pass_each_shells_syntax_check(root):
    share = installed(root, "/usr/share")
    for tool in ("dmabufctl", "dmabufd"):
        checks = [["bash", "-n", f"{share}/bash-completion/completions/{tool}"],
                  ["zsh", "-n", f"{share}/zsh/site-functions/_{tool}"],
                  ["fish", "--no-execute", f"{share}/fish/vendor_completions.d/{tool}.fish"]]
        for check in checks:
            result = subprocess.run(check, capture_output=True, text=True)
            assert result.returncode == 0, (check, result.stderr)


@pytest.mark.parametrize("line, expected", [
    ("dmabufctl sc", ["scan"]),
    ("dmabufctl watch x --follow --interval ", ["100", "250", "500", "1000", "5000"]),
])
def test_completions_complete_a_subcommand_and_an_option_value(root, line, expected):
    share = installed(root, "/usr/share")
    env = {**os.environ, "PATH": installed(root, "/usr/bin") + ":" + os.environ["PATH"]}
    bash = subprocess.run(["bash", "-c", BASH_COMPLETE, "bash", f"{share}/bash-completion/completions/dmabufctl",
                           line], capture_output=True, text=True, env=env)
    assert bash.stdout.split() == expected, bash.stderr
    fish = subprocess.run(["fish", "-c", f"source {share}/fish/vendor_completions.d/dmabufctl.fish; "
                           f"complete -C '{line}'"], capture_output=True, text=True, env=env)
    assert [row.split("\t")[0] for row in fish.stdout.splitlines()] == expected, fish.stderr
    zsh = subprocess.run(["zsh", "-f", "-c", ZSH_COMPLETE, "zsh", f"{share}/zsh/site-functions", line],
                         capture_output=True, text=True, env=env, timeout=60).stdout
    shown = zsh.rsplit("> ", 1)[-1]  # what the last prompt line shows after TAB
    if expected == ["scan"]:
        assert "dmabufctl scan" in shown, shown
    else:
        assert all(value in shown for value in expected), shown


def test_units_verify_and_rate_well(root):
    # A root systemd can resolve the units in: the host's own units (sysinit.target and
    # the like) beside the installed ones; man pages looked up where they were installed.
    shutil.copytree("/usr/lib/systemd/system", installed(root, "/usr/lib/systemd/system"), symlinks=True,
                    dirs_exist_ok=True)
    units = [installed(root, f"/usr/lib/systemd/system/dmabufd.{kind}") for kind in ("socket", "service")]
    env = {**os.environ, "MANPATH": installed(root, "/usr/share/man")}
    verify = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *units], capture_output=True,
                            text=True, env=env)
    assert (verify.returncode, verify.stderr) == (0, ""), verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={root}",
                               # it takes the level in tenths
                               f"--threshold={int(SECURITY_THRESHOLD * 10)}", units[1]], capture_output=True, text=True)
    assert security.returncode == 0, security.stdout[-2000:]
    score = float(security.stdout.rsplit("exposure level for dmabufd.service: ", 1)[1].split()[0])
    assert score <= SECURITY_THRESHOLD


def test_uninstall_removes_everything_it_installed(root):
    copy = tempfile.mkdtemp(prefix="dmabufd-uninstall-")
    shutil.copytree(root, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("system"))
    result = subprocess.run(["make", "-s", "uninstall", f"DESTDIR={copy}", "PREFIX=/usr"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    left = [os.path.join(folder, name) for folder, _, names in os.walk(copy) for name in names]
    assert left == [], left
    shutil.rmtree(copy)


# Runs inside the container as a oneshot unit once the socket listens; prints key=value lines.
CONTAINER_CHECK = r"""
say() { echo "$1=$2"; }
say socket_before "$(systemctl is-active dmabufd.socket)"
say service_before "$(systemctl is-active dmabufd.service)"
say mode "$(stat -c %a /run/dmabufd/dmabufd.sock)"
say scan "$(/opt/dmabufd/dmabufctl scan --socket /run/dmabufd/dmabufd.sock cam --json)"
say top "$(/opt/dmabufd/dmabufctl top --socket /run/dmabufd/dmabufd.sock --json)"
say mine "$(/opt/dmabufd/dmabufctl mine --socket /run/dmabufd/dmabufd.sock --json)"
say service_after "$(systemctl is-active dmabufd.service)"
say triggered_by "$(systemctl show -p TriggeredBy --value dmabufd.service)"
say metrics "$(curl -sS --retry 20 --retry-connrefused --retry-delay 0 http://127.0.0.1:9464/metrics | grep -c '^# TYPE dmabufd_')"
say memory_max "$(systemctl show -p MemoryMax --value dmabufd.service)"
say caps "$(grep -h -E 'CapEff|CapBnd|NoNewPrivs' /proc/$(systemctl show -p MainPID --value dmabufd.service)/status | tr -s '\t\n' '  ')"
say ids "$(grep -h -E '^(Uid|Gid):' /proc/$(systemctl show -p MainPID --value dmabufd.service)/status | tr -s '\t\n' '  ')"
say service_user "$(id -u dmabufd) $(id -g dmabufd)"
say folder_owner "$(stat -c '%U %G %a' /run/dmabufd)"
systemctl stop dmabufd.service
say service_stopped "$(systemctl is-active dmabufd.service)"
say result "$(systemctl show -p Result --value dmabufd.service) $(systemctl show -p ExecMainStatus --value dmabufd.service)"
say log "$(journalctl -u dmabufd.service --no-pager -o cat | tr '\n' '|')"
systemctl --no-block poweroff
"""

CHECK_UNIT = """[Unit]
Description=dmabufd check
Requires=dmabufd.socket
After=dmabufd.socket

[Service]
Type=oneshot
ExecStart=/bin/bash /results/check.sh
StandardOutput=file:/results/out.txt
"""


def readme_metrics_drop_in():
    """The drop-in README.md gives for serving metrics from the unit, as written there."""
    with open(os.path.join(REPO, "README.md")) as readme:
        text = readme.read()
    start = text.index("```ini\n[Service]\n") + len("```ini\n")
    return text[start:text.index("```", start)]


def test_systemd_starts_it_on_the_first_connection_and_stops_it_cleanly(root):
    """A real systemd as PID 1 (systemd-nspawn over this machine's /usr, --volatile=yes,
    nothing persistent) with the installed units and README's metrics drop-in: the socket
    listens first, a client's connection starts the service, which answers through the
    passed socket and serves metrics over HTTP."""
    work = tempfile.mkdtemp(prefix="dmabufd-nspawn-")
    results, units, wants = (os.path.join(work, name) for name in ("results", "units", "wants"))
    for folder in (results, units, f"{wants}/multi-user", f"{wants}/sockets"):
        os.makedirs(folder)
    system = installed(root, "/usr/lib/systemd/system")
    shutil.copy(f"{system}/dmabufd.socket", units)
    with open(f"{system}/dmabufd.service") as unit, open(f"{units}/dmabufd.service", "w") as moved:
        # /usr is the host's and read-only in the container: the binaries come in at /opt/dmabufd.
        moved.write(unit.read().replace("ExecStart=/usr/sbin/dmabufd", "ExecStart=/opt/dmabufd/dmabufd"))
    with open(f"{units}/dmabufd-check.service", "w") as unit:
        unit.write(CHECK_UNIT)
    drop_in = readme_metrics_drop_in()
    assert "ExecStart=/usr/local/sbin/dmabufd " in drop_in, drop_in
    os.makedirs(f"{units}/dmabufd.service.d")
    with open(f"{units}/dmabufd.service.d/metrics.conf", "w") as conf:
        conf.write(drop_in.replace("/usr/local/sbin/dmabufd", "/opt/dmabufd/dmabufd"))
    with open(f"{results}/check.sh", "w") as script:
        script.write(CONTAINER_CHECK)
    binaries = os.path.join(work, "bin")
    os.makedirs(binaries)
    for binary in ("usr/sbin/dmabufd", "usr/bin/dmabufctl"):
        shutil.copy(installed(root, binary), binaries)
    os.symlink("/etc/systemd/system/dmabufd-check.service", f"{wants}/multi-user/dmabufd-check.service")
    os.symlink("/etc/systemd/system/dmabufd.socket", f"{wants}/sockets/dmabufd.socket")
    etc = "/etc/systemd/system"
    boot = subprocess.run(
        ["systemd-nspawn", "--directory=/", "--volatile=yes", "--boot", "--register=no", "--keep-unit", "--quiet",
         "--console=pipe", "--capability=CAP_BPF,CAP_PERFMON", "--system-call-filter=bpf",
         f"--bind={results}:/results", f"--bind-ro={binaries}:/opt/dmabufd",
         # /usr is the host's: the installed sysusers.d file comes in through /etc.
         f"--bind-ro={installed(root, '/usr/lib/sysusers.d/dmabufd.conf')}:/etc/sysusers.d/dmabufd.conf",
         *(f"--bind-ro={units}/{name}:{etc}/{name}" for name in ("dmabufd.socket", "dmabufd.service",
                                                                   "dmabufd.service.d", "dmabufd-check.service")),
         f"--bind-ro={wants}/multi-user:{etc}/multi-user.target.wants",
         f"--bind-ro={wants}/sockets:{etc}/sockets.target.wants",
         "systemd.firstboot=off"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert boot.returncode == 0, boot.stdout[-3000:] + boot.stderr[-3000:]
    with open(f"{results}/out.txt") as out:
        seen = dict(line.split("=", 1) for line in out.read().splitlines() if "=" in line)
    assert (seen["socket_before"], seen["service_before"], seen["mode"]) == ("active", "inactive", "666"), seen
    assert '"name":"cam"' in seen["scan"] and '"present":false' in seen["scan"], seen["scan"]
    # Who holds what, under the unit's sandbox (syscall filter, ProtectProc=invisible,
    # read-only cgroups): the walk runs and names the check unit's own cgroup.
    assert '"processes":[]' in seen["top"] and '"kernel_held":{"bytes":0,"count":0}' in seen["top"], seen["top"]
    assert '"path":"/system.slice/dmabufd-check.service"' in seen["mine"], seen["mine"]
    assert (seen["service_after"], seen["triggered_by"]) == ("active", "dmabufd.socket"), seen
    assert int(seen["metrics"]) >= 12, "the drop-in's endpoint did not serve the metrics"
    assert seen["memory_max"] == str(256 << 20), seen["memory_max"]
    assert seen["caps"].split() == ["CapEff:", "0000000000000000", "CapBnd:", "0000000000000000",
                                    "NoNewPrivs:", "1"], seen["caps"]
    # The user the sysusers.d file made at boot, as a package's would: the service's from its start.
    uid, gid = seen["service_user"].split()
    assert int(uid) not in (0, 65534) and seen["ids"].split() == ["Uid:", *[uid] * 4, "Gid:", *[gid] * 4], seen
    assert seen["folder_owner"] == "dmabufd dmabufd 755", seen["folder_owner"]
    assert (seen["service_stopped"], seen["result"]) == ("inactive", "success 0"), seen
    assert "serving /run/dmabufd/dmabufd.sock (socket activation)" in seen["log"], seen["log"]
    assert "Started dmabufd.service" in seen["log"], "Type=notify: started only once READY=1 came"
    shutil.rmtree(work)
