"""coverage.py's numbers for measured files, without its JSON report's costs.

Run by the project's interpreter, so its coverage.py, configuration and
plugins decide every number.  At 2,000 files, three things were most of a
``coverage json``: parsing every source file, writing lines ratchet never
reads, and encoding them.  None of them changes a number, so the report
script (:data:`FUNCTIONS`, pasted into the scripts that report):

- asks coverage.py's own reporting loop (``get_analysis_to_report``) for the
  same analyses its reporters use, and writes only what
  :func:`ratchet.measurement.from_json_report` reads: each file's summary and
  missing lines, under the keys ``coverage json`` uses;
- keeps each Python file's parsed form (coverage.py's ``PythonParser``,
  pickled and compressed) in the clone's ``.git/ratchet/parsed.db``, and
  loads it when coverage.py analyses that file, per digest of the file's
  bytes, coverage.py version, Python version and branch mode.  A kept parser
  is used only when the text it parsed equals the file's text now and its
  exclusion regex equals the configuration's; else the file is parsed again.

Where coverage.py's internals are not the ones recognised here, the script
writes ``coverage json``'s own report instead, and says why in its log; a
cache that cannot be opened is not used.  Either way the numbers are the same.
"""

from __future__ import annotations

from pathlib import Path

from ratchet import state

NAME = "parsed.db"


def cache_path(git_dir: Path) -> str:
    """Where this clone keeps parsed sources; "" when there is no such place."""
    try:
        return str(state.folder(git_dir) / NAME)
    except state.StateError:  # Read-only, or not a folder: report without a cache.
        return ""


# Pasted into a script run by the project's interpreter: defines
# ``ratchet_report(cov, outfile, morfs, cache_path, share)``.
FUNCTIONS = r'''
_DAYS_KEPT = 14  # A kept parser no run has used for this long is dropped.


def ratchet_share(names, share):
    """The measured files one of several report processes analyses:
    ``share`` is (index, count), every count-th file of the sorted names."""
    index, count = share
    return sorted(names)[index::count]


def ratchet_report(cov, outfile, morfs, cache_path, share=(0, 1)):
    """Write coverage.py's numbers for ``morfs`` (None: every measured file,
    or with ``share``, this process's share of them) to ``outfile``, as much
    of a ``coverage json`` report as ratchet reads.  Returns the
    :func:`ratchet_ran` digests it made on the way, per data file name, and
    the files' coverage plugins when it read them in bulk (else None)."""
    import json

    import coverage

    try:
        try:
            from coverage.report_core import get_analysis_to_report
        except ImportError:  # coverage.py before 7.4
            from coverage.report import get_analysis_to_report
        prepare = cov._prepare_data_for_reporting  # [paths] remapping, as reports do
        analyze = cov._analyze
    except (ImportError, AttributeError) as e:
        print(f"ratchet: coverage.py's reporting loop not found ({e}): coverage json")
        try:
            if share[0] > 0:  # The first share's process reports every file.
                raise coverage.exceptions.NoDataError("another process reports")
            cov.json_report(morfs=morfs, outfile=outfile)
        except coverage.exceptions.NoDataError:
            meta = {"version": coverage.__version__, "branch_coverage": cov.get_data().has_arcs()}
            with open(outfile, "w", encoding="utf-8") as f:
                json.dump({"meta": meta, "files": {}}, f)
        return {}, None
    prepare()
    data = cov.get_data()
    meta = {"version": coverage.__version__, "branch_coverage": data.has_arcs()}
    if morfs is None and share[1] > 1:
        # After prepare: the names as [paths] remapped them, as reports see them.
        morfs = ratchet_share(data.measured_files(), share)
        if not morfs:  # An empty list would mean every file to coverage.py.
            with open(outfile, "w", encoding="utf-8") as f:
                json.dump({"meta": meta, "files": {}}, f)
            print("ratchet: 0 files in this share")
            return {}, None
    data.set_query_contexts(cov.config.report_contexts)
    rans, tracers = ratchet_bulk(cov, data, morfs)
    parsed = _Parsed(cov, cache_path, data.has_arcs())
    results = _Results(cov, parsed, data, rans)

    def analyze_kept(*args, **kwargs):
        # coverage.py 7.0 passes the reporter, later ones the morf and the reporter.
        reporter = kwargs.get("file_reporter", args[0] if args else None)
        kept = results.find(reporter)
        if kept is not None:
            return kept
        parsed.prepare(reporter)
        with results.watch(reporter):
            return analyze(*args, **kwargs)

    # At analysis, one file at a time: coverage.py makes every reporter first.
    cov._analyze = analyze_kept
    if tracers is not None:  # Asked for each file as its reporter is made.
        asked = data.file_tracer
        data.file_tracer = lambda name: tracers[name] if name in tracers else asked(name)
    files = {}  # Each file's entry, as JSON text: kept ones are written as they were read.
    try:
        with ratchet_held(data), ratchet_realpaths():
            for reporter, analysis in get_analysis_to_report(cov, morfs):
                if type(analysis) is _Kept:
                    files[reporter.relative_filename()] = analysis.text
                    continue
                n = analysis.numbers
                summary = {"num_statements": n.n_statements, "covered_lines": n.n_executed}
                if meta["branch_coverage"]:
                    summary["num_branches"] = n.n_branches
                    summary["covered_branches"] = n.n_executed_branches
                entry = {"summary": summary, "missing_lines": sorted(analysis.missing)}
                text = files[reporter.relative_filename()] = json.dumps(entry)
                results.keep(reporter, text)
                parsed.keep(reporter)
    except coverage.exceptions.NoDataError:  # No data, or every measured file left out.
        files = {}
    finally:
        del cov._analyze
        if tracers is not None:
            del data.file_tracer
        results.write()
        parsed.close()
    with open(outfile, "w", encoding="utf-8") as f:
        f.write(f'{{"meta": {json.dumps(meta)}, "files": {{')
        f.write(", ".join([f"{json.dumps(name)}: {text}" for name, text in files.items()]))
        f.write("}}")
    print(
        f"ratchet: {len(files)} files, {parsed.hits} parsers kept from earlier runs, "
        f"{results.hits} results kept; what they ran read "
        + ("at once" if tracers is not None else "file by file")
    )
    return results.rans, tracers


def ratchet_bulk(cov, data, morfs):
    """What the data say each file executed (:func:`ratchet_ran`'s digests)
    and each file's coverage plugin (``data.file_tracer``'s answers), per
    data file name, read in a few queries instead of three per file: at
    20,000 files, those queries were most of a report whose numbers were
    all kept.  ``morfs``: the names wanted (None: every measured file).

    Only where the data are the data file as it is on disk (no [paths]
    remapping), of coverage.py's schema 7, with at most one context and no
    report contexts: then its rows are, per file and in the order of the
    arc table's key, the sorted arcs (or the one numbits of lines) that
    ``data.arcs`` (``data.lines``) returns.  Else ({}, None), and each
    file is asked for as before.  A digest made in another order than
    :func:`ratchet_ran`'s is never another set's digest: it only misses."""
    import hashlib
    import os
    import sqlite3
    from pathlib import Path

    try:
        from coverage.numbits import numbits_to_nums

        config = cov.config
        if config.paths or config.report_contexts or getattr(data, "_no_disk", True):
            return {}, None
        uri = Path(os.path.abspath(data.data_filename())).as_uri() + "?mode=ro"
        db = sqlite3.connect(uri, uri=True)
    except Exception:
        return {}, None
    try:
        if db.execute("SELECT version FROM coverage_schema").fetchall() != [(7,)]:
            return {}, None
        if db.execute("SELECT count(*) FROM context").fetchone()[0] > 1:
            return {}, None
        ids = dict(db.execute("SELECT path, id FROM file"))
        if set(ids) != set(data.measured_files()):
            return {}, None
        names = {id_: name for name, id_ in ids.items()}
        tracers = dict.fromkeys(ids, "")
        for id_, tracer in db.execute("SELECT file_id, tracer FROM tracer"):
            tracers[names[id_]] = tracer or ""
        wanted = ids if morfs is None else [m for m in morfs if m in ids]
        where = ""
        if len(wanted) < len(ids):
            db.execute("CREATE TEMP TABLE wanted (id INTEGER PRIMARY KEY)")
            db.executemany("INSERT INTO wanted VALUES (?)", [(ids[m],) for m in wanted])
            where = "WHERE file_id IN (SELECT id FROM wanted)"
        ran = dict.fromkeys(wanted, "")
        if data.has_arcs():
            pairs = "group_concat(fromno || ' ' || tono, ' ')"
            query = f"SELECT file_id, {pairs} FROM arc {where} GROUP BY file_id"
            for id_, text in db.execute(query):
                ran[names[id_]] = text
        else:
            for id_, bits in db.execute(f"SELECT file_id, numbits FROM line_bits {where}"):
                ran[names[id_]] = " ".join(map(str, sorted(numbits_to_nums(bits))))
        digest = hashlib.blake2b
        rans = {name: digest(text.encode(), digest_size=16).digest() for name, text in ran.items()}
        return rans, tracers
    except Exception:
        return {}, None
    finally:
        db.close()


def ratchet_held(data):
    """coverage.py's data file held open: else it connects again for every query."""
    import contextlib

    connect = getattr(data, "_connect", None)
    db = connect() if connect is not None else None
    return db if hasattr(db, "__enter__") else contextlib.nullcontext()


def ratchet_realpaths():
    """``realpath`` with each folder resolved once, for coverage.py's path
    functions while it makes its reporters: it resolves every measured
    file's path twice, with a system call per component each time (a third
    of a report of 20,000 files).  The answers are realpath's own, as they
    were when first asked for during the report: a file's last component is
    looked at then, and a path that is not plain goes to realpath.  Where
    coverage.py's copy of ``os.path`` (its ``isolate_module``) is not found,
    nothing changes."""
    import contextlib
    import os
    import stat

    try:
        import coverage.files

        target = coverage.files.os.path
        real = target.realpath
    except (ImportError, AttributeError):
        return contextlib.nullcontext()
    if os.name != "posix" or target.sep != "/" or not callable(real):
        return contextlib.nullcontext()
    folders = {}
    known = {}  # Each file's answer: coverage.py asks for it three times.

    def realpath(filename, *args, **kwargs):
        if args or kwargs or type(filename) is not str or not filename.startswith("/"):
            return real(filename, *args, **kwargs)
        path = known.get(filename)
        if path is None:
            path = known[filename] = resolved(filename)
        return path

    def resolved(filename):
        head, _, tail = filename.rpartition("/")
        odd = "//" in filename or "/./" in head + "/" or "/../" in head + "/"
        if odd or tail in ("", ".", ".."):
            return real(filename)
        folder = folders.get(head)
        if folder is None:
            folder = folders[head] = real(head or "/")
        path = f"{folder.rstrip('/')}/{tail}"
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return real(filename)
        except (OSError, ValueError):
            return real(filename)
        return path

    @contextlib.contextmanager
    def patched():
        target.realpath = realpath
        try:
            yield
        finally:
            target.realpath = real

    return patched()


class _Kept:
    """A file's numbers kept from an earlier run (JSON text), where an
    analysis would be."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


class _Results:
    """Each Python file's numbers kept between runs, per digest of its bytes,
    of what it executed (its lines, or arcs) and of everything else the
    numbers depend on: coverage.py's version, Python's, the measurement's
    kind and the exclusion and partial-branch patterns.  A file is then not
    analysed again, and not parsed, until one of them changes.

    A result is kept only when coverage.py's analysis asked the data for
    exactly the file name whose lines the key was made from, and the file's
    bytes did not change during the analysis."""

    def __init__(self, cov, parsed, data, known):
        import hashlib
        import sys

        import coverage

        self.parsed = parsed
        self.data = data
        self.db = parsed.db
        self.hits = 0
        self.add = []  # (digest, ran, entry as JSON) of files analysed this run
        self.rans = {}  # ratchet_ran of each data file name a key was made for
        self.known = known  # ratchet_ran digests read in bulk (ratchet_bulk)
        self.touch = []  # keys of kept results used today for the first time
        self.mapper = getattr(cov, "_file_mapper", None)
        try:
            config = cov.config
            patterns = (
                list(config.exclude_list),
                list(config.partial_list),
                list(getattr(config, "partial_always_list", None) or ()),
            )
            space = repr((2, coverage.__version__, sys.version, data.has_arcs(), patterns))
            self.space = hashlib.blake2b(space.encode(), digest_size=16).digest()
            if self.db is not None:
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS results (space BLOB, digest BLOB, ran BLOB, "
                    "entry TEXT, used INTEGER, PRIMARY KEY (space, digest, ran)) WITHOUT ROWID"
                )
        except Exception as e:
            print(f"ratchet: no kept results ({type(e).__name__}: {e})")
            self.db = None
        if self.mapper is None:
            self.db = None
        self.early = self.look_up(known)

    def look_up(self, known):
        """Per data file name in ``known`` (its :func:`ratchet_ran` digest),
        the digest of the bytes at that path, the digest of what it ran and
        its kept result (or None), found in one query: one per file was a
        fifth of a report whose numbers were all kept.  A name is a path
        that :meth:`find` uses only for a reporter of that very path."""
        if self.db is None or not known:
            return {}
        keys = []
        for name, ran in known.items():
            try:
                keys.append((name, _digest(name), ran))
            except Exception:  # Not a file: find() asks coverage.py.
                continue
        try:
            db = self.db
            with db:  # Committed at once: no lock is held while the files are reported.
                db.execute("CREATE TEMP TABLE wanted (name TEXT, digest BLOB, ran BLOB)")
                db.executemany("INSERT INTO wanted VALUES (?, ?, ?)", keys)
            rows = db.execute(
                "SELECT w.name, r.entry, r.used FROM wanted AS w JOIN results AS r "
                "ON r.space = ? AND r.digest = w.digest AND r.ran = w.ran",
                (self.space,),
            ).fetchall()
            with db:
                db.execute("DROP TABLE wanted")
        except Exception:
            return {}
        found = {name: (entry, used) for name, entry, used in rows}
        return {name: (digest, ran, found.get(name)) for name, digest, ran in keys}

    def find(self, reporter):
        """The kept numbers of ``reporter``'s file, or None (then it is analysed)."""
        import json

        if self.db is None or type(reporter) is not self.parsed.kinds[0]:
            return None
        try:
            if reporter._parser is not None:
                return None
            filename = self.mapper(reporter.filename)
            early = self.early.get(filename) if filename == reporter.filename else None
            if early is not None:
                digest, ran, row = early
            else:
                digest = _digest(reporter.filename)
                ran = self.known.get(filename) or ratchet_ran(self.data, filename)
                row = self.db.execute(
                    "SELECT entry, used FROM results WHERE space = ? AND digest = ? AND ran = ?",
                    (self.space, digest, ran),
                ).fetchone()
            self.rans[filename] = ran
            reporter._ratchet_key = (filename, digest, ran)
            if row is None:
                return None
            entry = json.loads(row[0])
            if type(entry) is not dict or type(entry.get("summary")) is not dict:
                return None  # Not what keep() writes.
        except Exception:  # No file (coverage.py will say so), or no cache.
            return None
        self.hits += 1
        if row[1] != self.parsed.today:
            self.touch.append((digest, ran))
        return _Kept(row[0])

    def watch(self, reporter):
        """Note the file names coverage.py's analysis asks the data for."""
        import contextlib

        asked = reporter._ratchet_asked = set()
        data = self.data

        def asking(method):
            def ask(filename, *args, **kwargs):
                asked.add(filename)
                return method(filename, *args, **kwargs)

            return ask

        @contextlib.contextmanager
        def watching():
            data.lines, data.arcs = asking(data.lines), asking(data.arcs)
            try:
                yield
            finally:
                del data.lines, data.arcs

        return watching() if self.db is not None else contextlib.nullcontext()

    def keep(self, reporter, text):
        key = getattr(reporter, "_ratchet_key", None)
        if self.db is None or key is None:
            return
        filename, digest, ran = key
        if getattr(reporter, "_ratchet_asked", None) != {filename}:
            return  # The analysis read other data than the key describes.
        try:
            if _digest(reporter.filename) != digest:
                return  # Changed while it was analysed.
        except OSError:
            return
        self.add.append((digest, ran, text))
        if len(self.add) >= 1000:
            self.write()

    def write(self):
        if self.db is None or self.parsed.db is None:
            return
        today, space = self.parsed.today, self.space
        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                    [(space, d, r, e, today) for d, r, e in self.add],
                )
                self.db.executemany(
                    "UPDATE results SET used = ? WHERE space = ? AND digest = ? AND ran = ?",
                    [(today, space, d, r) for d, r in self.touch],
                )
        except Exception as e:  # Busy or read-only: this run's results are not kept.
            print(f"ratchet: results not kept ({type(e).__name__}: {e})")
            self.db = None
        self.add, self.touch = [], []


def ratchet_ran(data, filename):
    """The digest of what ``data`` say ``filename`` executed: its sorted lines,
    or its sorted arcs flattened (ratchet.selection.store.ran_digest)."""
    import hashlib

    if data.has_arcs():
        items = [n for pair in sorted(data.arcs(filename) or ()) for n in pair]
    else:
        items = sorted(data.lines(filename) or ())
    return hashlib.blake2b(" ".join(map(str, items)).encode(), digest_size=16).digest()


def _digest(path):
    import hashlib

    with open(path, "rb") as f:
        return hashlib.blake2b(f.read(), digest_size=20).digest()


class _Parsed:
    """Parsed Python sources kept between runs, per digest of their bytes."""

    def __init__(self, cov, path, branch):
        import hashlib
        import sys
        import coverage

        self.db = None
        self.kinds = (None, None)  # coverage.py's PythonFileReporter and PythonParser
        self.hits = 0
        self.add = []  # (digest, pickled parser) of files parsed this run
        self.touch = []  # digests of kept parsers used today for the first time
        try:
            from coverage.parser import PythonParser
            from coverage.python import PythonFileReporter

            self.kinds = (PythonFileReporter, PythonParser)
            self.exclude = cov._exclude_regex("exclude")
            space = repr((1, coverage.__version__, sys.version, branch))
            self.space = hashlib.blake2b(space.encode(), digest_size=16).digest()
            if path:
                import sqlite3
                import time

                self.today = int(time.time() // 86400)
                self.db = sqlite3.connect(path, timeout=2)
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS parsed (space BLOB, digest BLOB, "
                    "parser BLOB, used INTEGER, PRIMARY KEY (space, digest)) WITHOUT ROWID"
                )
        except Exception as e:
            print(f"ratchet: no kept parsers ({type(e).__name__}: {e})")
            self.db = None

    def prepare(self, reporter):
        """Give ``reporter`` its file's kept parser, when there is a valid one."""
        if self.db is None or type(reporter) is not self.kinds[0]:
            return
        import hashlib
        import pickle
        import zlib

        try:
            if reporter._parser is not None:
                return
            key = getattr(reporter, "_ratchet_key", None)
            digest = key[1] if key else _digest(reporter.filename)
            row = self.db.execute(
                "SELECT parser, used FROM parsed WHERE space = ? AND digest = ?",
                (self.space, digest),
            ).fetchone()
        except Exception:  # No file (coverage.py will say so), or no cache.
            return
        if row is not None:
            try:
                parser = pickle.loads(zlib.decompress(row[0]))
                usable = (
                    type(parser) is self.kinds[1]
                    and parser.exclude == self.exclude
                    and parser.text == reporter.source()
                )
            except Exception:
                usable = False
            if usable:
                parser.filename = reporter.filename
                reporter._parser = parser
                self.hits += 1
                if row[1] != self.today:
                    self.touch.append(digest)
                return
        reporter._ratchet_digest = digest

    def keep(self, reporter):
        """Keep the parser a file was analysed with, if it was parsed this run;
        then let it go (a parser holds the file's text and arcs)."""
        import copy
        import pickle
        import zlib

        if type(reporter) is not self.kinds[0]:
            return
        digest = getattr(reporter, "_ratchet_digest", None)
        parser = reporter._parser
        reporter._parser = None
        if self.db is None or digest is None or type(parser) is not self.kinds[1]:
            return
        # Less to store and load: what only describes missing arcs in words,
        # and a cache, both rebuilt by the parser when asked for.
        parser = copy.copy(parser)
        if getattr(parser, "_missing_arc_fragments", None) is not None:
            parser._missing_arc_fragments = None
        if isinstance(getattr(parser, "_first_line_cache", None), dict):
            parser._first_line_cache = {}
        try:
            self.add.append((digest, zlib.compress(pickle.dumps(parser, 4), 1)))
        except Exception:  # Not picklable here: parsed again next time.
            return
        if len(self.add) >= 1000:
            self.write()

    def write(self):
        if self.db is None:
            return
        try:
            with self.db:
                self.db.executemany(
                    "INSERT OR REPLACE INTO parsed VALUES (?, ?, ?, ?)",
                    [(self.space, d, blob, self.today) for d, blob in self.add],
                )
                self.db.executemany(
                    "UPDATE parsed SET used = ? WHERE space = ? AND digest = ?",
                    [(self.today, self.space, d) for d in self.touch],
                )
        except Exception as e:  # Busy or read-only: this run's parsers are not kept.
            print(f"ratchet: parsers not kept ({type(e).__name__}: {e})")
            self.db.close()
            self.db = None
        self.add, self.touch = [], []

    def close(self):
        self.write()
        if self.db is None:
            return
        old = self.today - _DAYS_KEPT
        try:
            for table in ("parsed", "results"):
                with self.db:
                    self.db.execute(f"DELETE FROM {table} WHERE used < ?", (old,))
            # Mostly dropped entries (files long gone, a bigger project once
            # reported): the file gives the space back.
            (free,) = self.db.execute("PRAGMA freelist_count").fetchone()
            (pages,) = self.db.execute("PRAGMA page_count").fetchone()
            if free * 2 > pages:
                self.db.execute("VACUUM")
        except Exception:
            pass  # Dropped (or given back) next time.
        finally:
            self.db.close()
'''
