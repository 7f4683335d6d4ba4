#!/usr/bin/python3
"""measure.py - run a command N times in sequence and report its wall time
and CPU, for benchmarks.

  measure.py [--runs N] [--warmup N] [--stdin FILE] [--timeout SECONDS]
             [--err FILE] -- COMMAND [ARG...]

Each run starts COMMAND (posix_spawn, PATH searched) with standard input
from FILE (default /dev/null, reopened for every run), standard output to
/dev/null and standard error to --err (default /dev/null), and waits for
it with wait4(2), whose rusage covers that child and the descendants it
waited for.  The --warmup runs (default 0) come first and are not
counted.  A run that exits with a status other than 0, or outlives
--timeout (default 60 s; it is then killed), stops the measurement:
exit status 1, with the last lines of --err on standard error.  SIGTERM
or SIGINT kills the running command too, then exits 1.

Prints one "key value" line each:
  runs N                  counted runs
  wall_ms MEDIAN MIN MAX  wall time of one run (spawn to reaped)
  cpu_ms PER_RUN          (ru_utime + ru_stime) summed over the runs / N
  user_s TOTAL, sys_s TOTAL
  maxrss_kib MEDIAN MAX   ru_maxrss of the runs (peak resident set, KiB)
"""

import argparse
import os
import signal
import statistics
import sys
import time


class Timeout(Exception):
    pass


class Stopped(Exception):
    pass


def alarm(signum, frame):
    raise Timeout()


def stopped(signum, frame):
    raise Stopped()


def run_once(argv, opts):
    """One run: (wall seconds, rusage), or raise SystemExit on failure."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, opts.stdin, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, opts.err,
         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    signal.alarm(opts.timeout)
    try:
        _, status, usage = os.wait4(pid, 0)
    except Timeout:
        os.kill(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        fail(opts, f'{argv[0]} still running after {opts.timeout} s: killed')
    except Stopped:
        os.kill(pid, signal.SIGKILL)
        os.wait4(pid, 0)
        fail(opts, 'stopped by a signal')
    finally:
        signal.alarm(0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        fail(opts, f'{argv[0]} exited with status {code}')
    return wall, usage


def fail(opts, what):
    print(f'measure: {what}', file=sys.stderr)
    if opts.err != os.devnull:
        with open(opts.err, errors='replace') as f:
            sys.stderr.writelines(f.readlines()[-5:])
    raise SystemExit(1)


def main(argv):
    p = argparse.ArgumentParser(description='run a command N times; wall '
                                'time, CPU and peak RSS')
    p.add_argument('--runs', type=int, default=1)
    p.add_argument('--warmup', type=int, default=0)
    p.add_argument('--stdin', default=os.devnull)
    p.add_argument('--err', default=os.devnull)
    p.add_argument('--timeout', type=int, default=60)
    p.add_argument('command', nargs='+')
    opts = p.parse_args(argv)
    if opts.runs < 1:
        p.error('--runs must be at least 1')
    signal.signal(signal.SIGALRM, alarm)
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    for _ in range(opts.warmup):
        run_once(opts.command, opts)
    walls, cpu, user, system, rss = [], 0.0, 0.0, 0.0, []
    for _ in range(opts.runs):
        wall, usage = run_once(opts.command, opts)
        walls.append(wall * 1000.0)
        user += usage.ru_utime
        system += usage.ru_stime
        rss.append(usage.ru_maxrss)
    cpu = (user + system) * 1000.0 / opts.runs
    print(f'runs {opts.runs}')
    print(f'wall_ms {statistics.median(walls):.3f} {min(walls):.3f} '
          f'{max(walls):.3f}')
    print(f'cpu_ms {cpu:.3f}')
    print(f'user_s {user:.3f}')
    print(f'sys_s {system:.3f}')
    print(f'maxrss_kib {statistics.median(rss):.0f} {max(rss)}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
