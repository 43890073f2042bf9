"""Backfill: the coverage a story had before newswatch watched it, read from WARC archives.

One task per WARC file, run by a process pool (default) or an existing Dask cluster.
A task never opens the warehouse: it streams the file (``acquire.warc``), turns each
wanted HTML page into the same article row ``newswatch run`` stores (``task``), and writes
Parquet shards partitioned by source and month plus a manifest saying the file is done
(``shards``). The coordinator, the one writer, loads finished files into DuckDB in one
set-based transaction (``load``), then runs the same post-steps as ``run`` (dedup,
clusters, scores). ``export`` writes a story's tables and views as dated Parquet files.

    task.py     one WARC file -> shard rows (the page -> Article adapter lives here)
    shards.py   shard layout, manifests, atomic writes, compaction
    load.py     finished shards -> warehouse (sightings of channel ``backfill``)
    runner.py   the job: plan, run tasks on a pool or Dask, progress, load, summary
    export.py   dated Parquet snapshots of a story
"""

from __future__ import annotations
