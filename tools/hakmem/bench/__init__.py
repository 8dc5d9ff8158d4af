"""Benchmark harness behind `hakmem bench`.

Modules, one concern each:

- `suite`      the scenarios (program, arguments, quick arguments) and compiling
               `bench/*.c` into `out/bench/` on demand
- `allocators` allocator names -> LD_PRELOAD paths (hakmem modes, Debian peers)
- `runner`     one run of one scenario under one allocator: RESULT line, rusage,
               hakmem's stats file
- `stats`      medians, min-max, ratios, checksum agreement
- `callgrind`  instructions per malloc+free pair (32 B and 2 MiB)
- `report`     JSON, CSV and markdown output
- `charts`     PNG charts (matplotlib)
- `machine`    what machine and which library versions a run came from
- `progress`   a plain text progress bar on stderr
- `harness`    the whole run: plan, alternate, collect, write
"""
